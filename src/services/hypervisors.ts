// The one place that chooses an adapter: a connection (libvirt URI today; vSphere later by its
// URL) becomes a Hypervisor, image files or a domain XML become a VmBackupSource. Everything
// else in the services, the CLI and the API works through core's interfaces.

import type { Hypervisor, VmBackupSource, VmInfo } from '../core/index.ts';
import type { VmIdentity } from '../engine/index.ts';
import { imageFileSource, type ImageSpec } from '../hypervisors/index.ts';
import { LibvirtHypervisor, imagesFromDomainXml } from '../hypervisors/libvirt/index.ts';

export { ensureLocalLibvirt, type LocalLibvirt } from '../hypervisors/libvirt/index.ts';

export interface HypervisorConnection {
  /** libvirt URI; default VMBAK_CONNECT or qemu:///system. */
  readonly uri?: string;
  /** Where hot backups keep scratch files; default VMBAK_SCRATCH_DIR or /var/lib/vmbak/scratch. */
  readonly scratchDir?: string;
  /** Where run records go; default VMBAK_STATE_DIR or /var/lib/vmbak/runs. */
  readonly stateDir?: string;
}

export function connectHypervisor(conn: HypervisorConnection = {}): Hypervisor {
  return new LibvirtHypervisor(conn);
}

/** The hypervisor's VMs with state, disks (and whether each has changed-block tracking) and tags. */
export function listVms(hypervisor: Hypervisor): Promise<VmInfo[]> {
  return hypervisor.listVms();
}

/** A VM and where its backup sessions come from, when no hypervisor lists it. */
export interface OfflineVm {
  readonly vm: VmIdentity;
  readonly source: VmBackupSource;
}

/** Image files of one VM; named vmName, else after the first file (without its extension). */
export function imageFilesVm(images: readonly string[], vmName?: string): OfflineVm {
  const name = vmName ?? images[0]!.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  return { vm: { key: name, name, uuid: null }, source: imageFileSource(images.map((path) => ({ path })), { vmName: name }) };
}

/** A powered-off VM or template by its domain XML file (plus extra image files); the XML is stored too. */
export async function domainXmlVm(xmlPath: string, extraImages: readonly string[] = [], vmName?: string): Promise<OfflineVm> {
  const dom = await imagesFromDomainXml(xmlPath);
  const images: ImageSpec[] = [...dom.images, ...extraImages.map((path) => ({ path }))];
  const name = vmName ?? dom.name;
  return {
    vm: { key: dom.uuid ?? name, name, uuid: dom.uuid },
    source: imageFileSource(images, { vmName: name, domainXml: dom.xml, skipped: dom.skipped }),
  };
}
