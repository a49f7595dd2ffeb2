// Inventory of the VMs one libvirt connection manages: state, disks with their virtual
// sizes, tags, and the lookup `--vm` uses (exact names, globs, tag:NAME). A listing error is
// an error, never an empty list; a pattern that matches nothing is VM_NOT_FOUND.

import { VmbakError, isVmbakError } from '../../core/index.ts';
import type { VmDisk, VmInfo, VmState } from '../../core/index.ts';
import { hostName } from '../../host/index.ts';
import { parseDomainXml } from './domain-xml.ts';
import type { DomainInfo } from './domain-xml.ts';
import { connectUri, virsh } from './virsh.ts';

export interface ConnectOptions {
  /** libvirt URI; default VMBAK_CONNECT or qemu:///system. */
  readonly uri?: string;
}

/** A VmInfo plus what the libvirt adapter needs later (the parsed domain). */
export interface LibvirtVm extends VmInfo {
  readonly domain: DomainInfo;
}

export async function listVms(opts: ConnectOptions = {}): Promise<LibvirtVm[]> {
  const out = await virsh(['list', '--all', '--uuid'], opts);
  const uuids = out.split('\n').map((l) => l.trim()).filter(Boolean);
  const vms: LibvirtVm[] = [];
  for (const uuid of uuids) {
    try {
      vms.push(await getVm(uuid, opts));
    } catch (err) {
      // A VM undefined between the listing and the lookup is simply gone; anything else is an error.
      // (getVm turns "Domain not found" into VM_NOT_FOUND.)
      if (!(isVmbakError(err, 'VM_NOT_FOUND') || (err instanceof VmbakError && /failed to get domain|Domain not found/i.test(err.message)))) throw err;
    }
  }
  return vms.sort((a, b) => a.name.localeCompare(b.name));
}

/** One VM by name or UUID. */
export async function getVm(nameOrUuid: string, opts: ConnectOptions = {}): Promise<LibvirtVm> {
  let xml: string;
  try {
    xml = await virsh(['dumpxml', nameOrUuid], { ...opts, vm: nameOrUuid });
  } catch (err) {
    if (err instanceof VmbakError && /failed to get domain|Domain not found/i.test(err.message)) {
      throw new VmbakError('VM_NOT_FOUND', { pattern: nameOrUuid, uri: connectUri(opts.uri) });
    }
    throw err;
  }
  const domain = parseDomainXml(xml);
  const state = parseState(await virsh(['domstate', domain.uuid], { ...opts, vm: domain.name }));
  const sizes = await diskSizes(domain, opts);
  const disks: VmDisk[] = domain.disks.map((d) => ({
    target: d.target,
    path: d.path,
    format: d.format,
    sizeBytes: sizes.get(d.target) ?? 0,
    skipReason: d.skipReason,
  }));
  return { uuid: domain.uuid, name: domain.name, state, host: hostName(), disks, tags: domain.tags, domain };
}

/** Resolves `--vm` arguments: exact names, UUIDs, globs (*, ?) and tag:NAME, in listing order. */
export async function findVms(patterns: readonly string[], opts: ConnectOptions = {}): Promise<LibvirtVm[]> {
  const all = await listVms(opts);
  const found = new Map<string, LibvirtVm>();
  for (const pattern of patterns) {
    const matches = all.filter((vm) => matchesPattern(vm, pattern));
    if (matches.length === 0) throw new VmbakError('VM_NOT_FOUND', { pattern, uri: connectUri(opts.uri) });
    for (const vm of matches) found.set(vm.uuid, vm);
  }
  return all.filter((vm) => found.has(vm.uuid));
}

export function matchesPattern(vm: Pick<VmInfo, 'name' | 'uuid' | 'tags'>, pattern: string): boolean {
  if (pattern.startsWith('tag:')) return vm.tags.includes(pattern.slice(4));
  if (pattern.toLowerCase() === vm.uuid) return true;
  if (!/[*?]/.test(pattern)) return vm.name === pattern;
  return globToRegExp(pattern).test(vm.name);
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function parseState(text: string): VmState {
  const s = text.trim().split('\n')[0]!.trim();
  if (s === 'running' || s === 'paused') return s;
  if (s === 'shut off') return 'shutoff';
  return 'other';
}

/** Virtual sizes from `domblkinfo --all` (bytes; "-" for disks without media). */
async function diskSizes(domain: DomainInfo, opts: ConnectOptions): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (domain.disks.length === 0) return sizes;
  const out = await virsh(['domblkinfo', domain.uuid, '--all'], { ...opts, vm: domain.name });
  for (const line of out.split('\n')) {
    const [target, capacity] = line.trim().split(/\s+/);
    if (target && capacity && /^\d+$/.test(capacity)) sizes.set(target, Number(capacity));
  }
  return sizes;
}
