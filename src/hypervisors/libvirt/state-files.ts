// The non-disk state a VM needs to boot, stored with its backup: the UEFI variable store
// (<nvram> file) and the software TPM's state directory (swtpm keeps it per VM UUID). Names
// are stable paths inside the backup: nvram/<file>, tpm/<relative path>.

import { readdir, readFile } from 'node:fs/promises';
import { basename, isAbsolute, join, normalize, relative } from 'node:path';
import type { VmStateFile } from '../../core/index.ts';
import type { DomainInfo } from './domain-xml.ts';

export const SWTPM_STATE_ROOT = '/var/lib/libvirt/swtpm';
/** Where libvirt (qemu:///system) keeps a VM's variable store when its XML names none. */
export const NVRAM_DIR = '/var/lib/libvirt/qemu/nvram';

const NVRAM_PREFIX = 'nvram/';
const TPM_PREFIX = 'tpm/';

/**
 * A VM with `<os firmware='efi'>` has no <nvram> in its persistent XML until it runs (libvirt
 * fills the path in at start), yet its variable store exists at libvirt's default path; a
 * cold backup must find it there.
 */
export function nvramPathOf(domain: Pick<DomainInfo, 'name' | 'nvramPath'>): string {
  return domain.nvramPath ?? defaultNvramPath(domain.name);
}

export function defaultNvramPath(vmName: string): string {
  return join(NVRAM_DIR, `${vmName}_VARS.fd`);
}

export function tpmStateDir(uuid: string, swtpmRoot = SWTPM_STATE_ROOT): string {
  return join(swtpmRoot, uuid.toLowerCase());
}

export async function readStateFiles(domain: DomainInfo, swtpmRoot = SWTPM_STATE_ROOT): Promise<VmStateFile[]> {
  const files: VmStateFile[] = [];
  const nvramPath = nvramPathOf(domain);
  const data = await readFile(nvramPath).catch(missingIsNull);
  if (data) files.push({ name: `${NVRAM_PREFIX}${basename(nvramPath)}`, data });
  const tpmDir = tpmStateDir(domain.uuid, swtpmRoot);
  for (const path of await listFilesRecursive(tpmDir)) {
    const data = await readFile(path).catch(missingIsNull);
    if (data) files.push({ name: `${TPM_PREFIX}${relative(tpmDir, path)}`, data });
  }
  return files;
}

/** A backup's state files by kind; TPM names become paths relative to the state directory. */
export interface VmStateByKind {
  readonly nvram: Buffer | null;
  readonly tpm: readonly VmStateFile[];
}

export function sortStateFiles(files: readonly VmStateFile[]): VmStateByKind {
  let nvram: Buffer | null = null;
  const tpm: VmStateFile[] = [];
  for (const f of files) {
    if (f.name.startsWith(NVRAM_PREFIX)) nvram = f.data;
    else if (f.name.startsWith(TPM_PREFIX)) tpm.push({ name: f.name.slice(TPM_PREFIX.length), data: f.data });
  }
  return { nvram, tpm };
}

/** A TPM state name from a backup must stay inside the directory it is restored into. */
export function isSafeRelativePath(name: string): boolean {
  const n = normalize(name);
  return name !== '' && !isAbsolute(n) && n !== '..' && !n.startsWith('../') && n !== '.';
}

async function listFilesRecursive(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(missingIsNull);
  if (!entries) return [];
  const out: string[] = [];
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...await listFilesRecursive(path));
    else if (e.isFile()) out.push(path);
  }
  return out.sort();
}

function missingIsNull(err: unknown): null {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw err;
}
