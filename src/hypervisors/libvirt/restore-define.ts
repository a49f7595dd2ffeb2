// Defines a VM from a backed-up domain XML so it cannot clash with the original: new name,
// no UUID (libvirt assigns one), fresh locally administered MACs (52:54:00:…), disk sources
// pointing at the restored qcow2 files, NVRAM in a file of its own or dropped, networking
// optionally removed. Edits are targeted rewrites of libvirt's own canonical XML, leaving the
// rest as is. The backed-up NVRAM and TPM state go back before the VM's first start (the TPM
// under the UUID libvirt just gave it), and a failure undoes the definition.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VmbakError } from '../../core/index.ts';
import type { InPlaceTarget, VmStateFile } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { getVm } from './inventory.ts';
import { parseDomainXml } from './domain-xml.ts';
import { defaultNvramPath, nvramPathOf, sortStateFiles, tpmStateDir } from './state-files.ts';
import { restoreVmState, writeNvramFile, writeTpmState } from './state-restore.ts';
import { connectUri, virsh, virshRaw } from './virsh.ts';
import { escapeXml } from './xml.ts';

export interface DefineOptions {
  readonly newName: string;
  /** Restored image per disk target; every backed-up disk of the XML must be listed. */
  readonly diskPaths: ReadonlyMap<string, string>;
  readonly noNetwork?: boolean;
  /**
   * The new VM's variable store. With NVRAM among stateFiles it is written there (by default
   * into libvirt's NVRAM dir, named for the new VM); without, null/absent drops <nvram> and
   * libvirt makes a fresh one from its template.
   */
  readonly nvramPath?: string | null;
  /** The backup's state files (nvram/…, tpm/…), put back before the first start. */
  readonly stateFiles?: readonly VmStateFile[];
  readonly start?: boolean;
  readonly uri?: string;
  /** error_policy/rerror_policy 'stop' on the restored disks: QEMU pauses the VM on an I/O error instead of failing the guest's request. */
  readonly pauseOnIoError?: boolean;
}

export function randomMac(): string {
  return `52:54:00:${[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

export function rewriteDomainXml(xml: string, opts: Omit<DefineOptions, 'start' | 'uri' | 'stateFiles'>): string {
  const parsed = parseDomainXml(xml);
  let out = xml.replace(/<name>[^<]*<\/name>/, `<name>${escapeXml(opts.newName)}</name>`)
    .replace(/\s*<uuid>[^<]*<\/uuid>/, '')
    .replace(/<mac address=(['"])[0-9a-fA-F:]+\1\s*\/>/g, () => `<mac address='${randomMac()}'/>`);
  if (opts.noNetwork) out = out.replace(/\s*<interface\b[\s\S]*?<\/interface>/g, '');
  out = opts.nvramPath ? pointNvramAt(out, opts.nvramPath)
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
      .replace(/<driver\b[^>]*?(?=\s*\/?>)/, (driver) => (opts.pauseOnIoError ? stopOnIoError(driver) : driver))
      .replace(/\s*<backingStore\b[\s\S]*?(<\/backingStore>|\/>)/g, '');
  });
  return out;
}

function stopOnIoError(driver: string): string {
  return `${driver.replace(/\s+r?error_policy=(['"])[^'"]*\1/g, '')} error_policy='stop' rerror_policy='stop'`;
}

/**
 * A persistent XML with `<os firmware='efi'>` names no <nvram> until the VM runs; one is
 * added so the restored variable store, not a fresh one, is what the new VM boots with.
 */
function pointNvramAt(xml: string, path: string): string {
  const element = `<nvram>${escapeXml(path)}</nvram>`;
  if (/<nvram\b[^>]*\/>/.test(xml)) return xml.replace(/<nvram\b([^>]*?)\s*\/>/, `<nvram$1>${escapeXml(path)}</nvram>`);
  if (/<nvram\b/.test(xml)) return xml.replace(/(<nvram\b[^>]*>)[^<]*(<\/nvram>)/, `$1${escapeXml(path)}$2`);
  if (!/<os\b[^>]*\bfirmware=(['"])efi\1/.test(xml) && !/<loader\b/.test(xml)) return xml;
  return xml.replace(/(\s*)<\/os>/, `$1  ${element}$1</os>`);
}

/** Defines (and optionally starts) a new VM from a backup's domain XML; returns its UUID. */
export async function defineVmFromBackup(domainXml: string, opts: DefineOptions): Promise<string> {
  const uri = connectUri(opts.uri);
  const exists = await virshRaw(['domuuid', opts.newName], { uri }).then(() => true, () => false);
  if (exists) throw new VmbakError('VM_EXISTS', { vm: opts.newName, uri });
  const state = sortStateFiles(opts.stateFiles ?? []);
  const nvramPath = opts.nvramPath ?? (state.nvram ? defaultNvramPath(opts.newName) : null);
  const xml = rewriteDomainXml(domainXml, { ...opts, nvramPath });
  const restoreNvram = state.nvram !== null && nvramPath !== null && xml.includes(`>${escapeXml(nvramPath)}</nvram>`);
  let nvramWritten = false;
  let defined = false;
  let tpmDir: string | null = null;
  try {
    if (restoreNvram) {
      await writeNvramFile(nvramPath, state.nvram!, false);
      nvramWritten = true;
    }
    await defineXml(xml, opts.newName, uri);
    defined = true;
    const uuid = (await virsh(['domuuid', opts.newName], { uri, vm: opts.newName })).trim();
    if (state.tpm.length > 0) tpmDir = await writeTpmState(uuid, state.tpm, false);
    if (opts.start) await virsh(['start', opts.newName], { uri, vm: opts.newName });
    return uuid;
  } catch (err) {
    // Nothing half-made stays behind: the state belongs to a VM that does not exist.
    if (defined) await virshRaw(['undefine', opts.newName, '--nvram'], { uri }).catch(() => undefined);
    if (nvramWritten) await rm(nvramPath!, { force: true });
    if (tpmDir) await removeTree(tpmDir).catch(() => undefined);
    throw err;
  }
}

async function defineXml(xml: string, vmName: string, uri: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-define-'));
  try {
    const file = join(dir, 'domain.xml');
    writeFileSync(file, xml);
    await virsh(['define', file], { uri, vm: vmName });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Restoring over a VM needs it shut off; returns what the caller may overwrite. */
export async function checkRestoreInPlace(vmName: string, opts: { uri?: string } = {}): Promise<InPlaceTarget> {
  const vm = await getVm(vmName, opts);
  if (vm.state !== 'shutoff') throw new VmbakError('VM_NOT_SHUT_OFF', { vm: vm.name, op: 'restore it in place', state: vm.state });
  const disks = new Map<string, string>();
  const formats = new Map<string, 'raw' | 'qcow2'>();
  for (const d of vm.disks) {
    if (!d.path || d.skipReason) continue;
    disks.set(d.target, d.path);
    formats.set(d.target, d.format === 'qcow2' ? 'qcow2' : 'raw');
  }
  return { uuid: vm.uuid, name: vm.name, disks, formats, nvramPath: nvramPathOf(vm.domain), tpmStateDir: tpmStateDir(vm.uuid) };
}

/** Puts the backup's NVRAM and TPM state over a shut-off VM's own; returns the paths written. */
export async function restoreStateInPlace(target: Pick<InPlaceTarget, 'uuid' | 'nvramPath'>, stateFiles: readonly VmStateFile[]): Promise<string[]> {
  const done = await restoreVmState(stateFiles, { uuid: target.uuid, nvramPath: target.nvramPath, replace: true });
  return [done.nvramPath, done.tpmStateDir].filter((p): p is string => p !== null);
}
