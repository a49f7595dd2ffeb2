// Where the file browser is, written as the API's path= parameter: `ID:/dir` for a filesystem,
// or a bare `/dir` for the guest OS's own tree (its root with its fstab mounts), which the API
// names with the filesystem id `/`.

export const GUEST_ROOT = '/';

export interface Place {
  readonly fs: string;
  readonly path: string;
}

export const apiPath = (p: Place): string => (p.fs === GUEST_ROOT ? p.path : `${p.fs}:${p.path}`);

export const childOf = (p: Place, name: string): Place => ({ fs: p.fs, path: p.path === '/' ? `/${name}` : `${p.path}/${name}` });

/** The directories from the root down to `p`, for the breadcrumbs. */
export function ancestorsOf(p: Place): { label: string; place: Place }[] {
  const parts = p.path.split('/').filter(Boolean);
  return [{ label: p.fs === GUEST_ROOT ? 'guest OS /' : `${p.fs}:/`, place: { fs: p.fs, path: '/' } },
    ...parts.map((part, i) => ({ label: part, place: { fs: p.fs, path: `/${parts.slice(0, i + 1).join('/')}` } }))];
}

export const parentDir = (path: string): string => path.slice(0, Math.max(1, path.lastIndexOf('/'))) || '/';
