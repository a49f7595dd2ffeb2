// Defines a VM from a backed-up domain XML so it cannot clash with the original: new name,
// no UUID (libvirt assigns one), fresh locally administered MACs (52:54:00:…), disk sources
// pointing at the restored qcow2 files, NVRAM moved or dropped, networking optionally
// removed. Edits are targeted rewrites of libvirt's own canonical XML, leaving the rest as is.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmbakError } from '../../core/index.ts';
import { getVm } from './inventory.ts';
import { parseDomainXml } from './domain-xml.ts';
import { connectUri, virsh, virshRaw } from './virsh.ts';
import { escapeXml } from './xml.ts';

export interface DefineOptions {
  readonly newName: string;
  /** Restored image per disk target; every backed-up disk of the XML must be listed. */
  readonly diskPaths: ReadonlyMap<string, string>;
  readonly noNetwork?: boolean;
  /** Where the restored NVRAM file is; null/absent drops <nvram> (libvirt recreates it from its template). */
  readonly nvramPath?: string | null;
  readonly start?: boolean;
  readonly uri?: string;
}

export function randomMac(): string {
  return `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

export function rewriteDomainXml(xml: string, opts: Omit<DefineOptions, 'start' | 'uri'>): string {
  const parsed = parseDomainXml(xml);
  let out = xml.replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(opts.newName)}</name>`)
    .replace(/\s*<uuid>[^<]*<\/uuid>/, '')
    .replace(/<mac address=(['"])[0-9a-fA-F:]+\1\s*\/>/g, () => `<mac address='${randomMac()}'/>`);
  if (opts.noNetwork) out = out.replace(/\s*<interface\b[\s\S]*?<\/interface>/g, '');
  out = opts.nvramPath
    ? out.replace(/(<nvram\b[^>]*>)[^<]*(<\/nvram>)/, `$1${escapeXml(opts.nvramPath)}$2`)
    : out.replace(/\s*<nvram\b[^>]*>[^<]*<\/nvram>/, '').replace(/\s*<nvram\b[^>]*\/>/, '');
  out = out.replace(/<disk\b[^>]*>[\s\S]*?<\/disk>/g, (disk) => {
    const target = /<target\b[^>]*\bdev=(['"])([^'"]+)\1/.exec(disk)?.[2];
    const device = /\bdevice=(['"])([^'"]+)\1/.exec(disk)?.[2] ?? 'disk';
    if (!target || device !== 'disk') return disk;
    const path = opts.diskPaths.get(target);
    if (!path) {
      const info = parsed.disks.find((d) => d.target === target);
      if (info?.skipReason) return disk;
      throw new VmbakError('DOMAIN_XML_INVALID', { path: opts.newName, detail: `no restored image given for disk ${target}` });
    }
    return disk
      .replace(/^<disk\b[^>]*>/, (open) => open.replace(/\btype=(['"])[^'"]*\1/, "type='file'"))
      .replace(/<source\b[^>]*?(\/>|>[\s\S]*?<\/source>)/, `<source file='${escapeXml(path)}'/>`)
      .replace(/<driver\b([^>]*?)\btype=(['"])[^'"]*\2/, "<driver$1type='qcow2'")
      .replace(/\s*<backingStore\b[\s\S]*?(<\/backingStore>|\/>)/g, '');
  });
  return out;
}

/** Defines (and optionally starts) a new VM from a backup's domain XML; returns its UUID. */
export async function defineVmFromBackup(domainXml: string, opts: DefineOptions): Promise<string> {
  const uri = connectUri(opts.uri);
  const exists = await virshRaw(['domuuid', opts.newName], { uri }).then(() => true, () => false);
  if (exists) throw new VmbakError('VM_EXISTS', { vm: opts.newName, uri });
  const xml = rewriteDomainXml(domainXml, opts);
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-define-'));
  try {
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    await virsh(['define', file], { uri, vm: opts.newName });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (opts.start) await virsh(['start', opts.newName], { uri, vm: opts.newName });
  return (await virsh(['domuuid', opts.newName], { uri, vm: opts.newName })).trim();
}

/** Restoring over a VM needs it shut off; returns its disks so the caller knows what to overwrite. */
export async function checkRestoreInPlace(vmName: string, opts: { uri?: string } = {}): Promise<{ uuid: string; disks: ReadonlyMap<string, string> }> {
  const vm = await getVm(vmName, opts);
  if (vm.state !== 'shutoff') throw new VmbakError('VM_NOT_SHUT_OFF', { vm: vm.name, op: 'restore it in place', state: vm.state });
  const disks = new Map<string, string>();
  for (const d of vm.disks) if (d.path && !d.skipReason) disks.set(d.target, d.path);
  return { uuid: vm.uuid, disks };
}
