// Inventory of the VMs one libvirt connection manages: state, disks with their virtual
// sizes, tags. A listing error is an error, never an empty list. (Which VMs a selection such
// as `--vm 'web*' --vm tag:prod` means is decided by the services, over this listing.)

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
    device: d.device,
    path: d.path,
    format: d.format,
    sizeBytes: sizes.get(d.target) ?? 0,
    skipReason: d.skipReason,
    unsupportedReason: d.unsupportedReason,
    // Persistent dirty bitmaps, and so checkpoints, need qcow2 images on libvirt 9.
    changedBlockTracking: d.format === 'qcow2' && !d.skipReason && !d.unsupportedReason,
  }));
  return { uuid: domain.uuid, name: domain.name, state, host: hostName(), disks, tags: domain.tags, domain };
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
