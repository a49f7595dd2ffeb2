// Reads what vmbak needs from a libvirt domain XML: identity, disks (with the reason a disk
// is skipped or refused), vmbak's own tags in <metadata>, and the non-disk state files
// (UEFI NVRAM) a VM needs to boot.

import { asArray, parseXml, textOf } from './xml.ts';
import type { XmlNode } from './xml.ts';

/** vmbak's namespace in a domain's <metadata>: <vmbak:vm xmlns:vmbak=…><tag>prod</tag></vmbak:vm> */
export const VMBAK_XMLNS = 'https://vmbak.dev/xmlns/1';

export interface DomainDisk {
  readonly target: string;
  /** libvirt's disk source type: file, block, network, volume, nvme… */
  readonly sourceType: string;
  /** file or block-device path; null for network/volume/empty disks. */
  readonly path: string | null;
  readonly format: string;
  readonly device: string;
  /** Why this disk is left out of backups on purpose (cdrom, shareable), or null. */
  readonly skipReason: string | null;
  /** Why this disk cannot be backed up (not a file or block device), or null. */
  readonly unsupportedReason: string | null;
}

export interface DomainInfo {
  readonly name: string;
  readonly uuid: string;
  readonly disks: readonly DomainDisk[];
  readonly tags: readonly string[];
  readonly nvramPath: string | null;
  readonly hasTpm: boolean;
}

export function parseDomainXml(xml: string): DomainInfo {
  const dom = parseXml(xml).domain as XmlNode | undefined;
  if (!dom) throw new Error('not a libvirt domain XML (no <domain> element)');
  const devices = (dom.devices ?? {}) as XmlNode;
  return {
    name: textOf(dom.name) ?? '',
    uuid: (textOf(dom.uuid) ?? '').toLowerCase(),
    disks: asArray(devices.disk).map(parseDisk),
    tags: parseTags(dom.metadata as XmlNode | undefined),
    nvramPath: textOf((dom.os as XmlNode | undefined)?.nvram),
    hasTpm: asArray(devices.tpm).some((t) => t['@_model'] !== undefined && asArray(t.backend)
      .some((b) => b['@_type'] === 'emulator')),
  };
}

function parseDisk(disk: XmlNode): DomainDisk {
  const target = String((disk.target as XmlNode | undefined)?.['@_dev'] ?? '');
  const sourceType = String(disk['@_type'] ?? 'file');
  const device = String(disk['@_device'] ?? 'disk');
  const source = disk.source as XmlNode | undefined;
  const format = String((disk.driver as XmlNode | undefined)?.['@_type'] ?? 'raw');
  let path: string | null = null;
  if (sourceType === 'file') path = source?.['@_file'] ?? null;
  else if (sourceType === 'block') path = source?.['@_dev'] ?? null;
  let skipReason: string | null = null;
  if (device === 'cdrom' || device === 'floppy') skipReason = `${device}: removable media is not backed up`;
  else if (disk.shareable !== undefined) skipReason = 'shareable disk: written by other VMs too, no consistent point in time';
  let unsupportedReason: string | null = null;
  if (!skipReason) {
    if (sourceType !== 'file' && sourceType !== 'block') {
      const protocol = source?.['@_protocol'] ? ` (${source['@_protocol']})` : '';
      unsupportedReason = `${sourceType}${protocol} disks are not supported yet, only files and block devices`;
    } else if (!path) {
      unsupportedReason = 'the disk has no source';
    }
  }
  return { target, sourceType, path, format, device, skipReason, unsupportedReason };
}

/** Tags live in vmbak's own metadata element, found by its namespace URI, whatever its prefix. */
function parseTags(metadata: XmlNode | undefined): string[] {
  if (!metadata || typeof metadata !== 'object') return [];
  for (const [key, value] of Object.entries(metadata)) {
    const prefix = key.includes(':') ? key.slice(0, key.indexOf(':')) : null;
    for (const node of asArray(value)) {
      if (typeof node !== 'object') continue;
      const ns = prefix ? node[`@_xmlns:${prefix}`] : node['@_xmlns'];
      if (ns !== VMBAK_XMLNS) continue;
      const tagKey = prefix ? `${prefix}:tag` : 'tag';
      return asArray(node[tagKey]).map((t) => textOf(t) ?? '').filter((t) => t !== '');
    }
  }
  return [];
}
