// The host's libvirt storage pools, for choosing where a restored VM's disks go. Only a pool
// with a directory (dir, fs, netfs: its target path) can take vmbak's qcow2 files; others
// (LVM, iSCSI, RBD) are listed without a path so a console can show them, not offer them.

import type { StoragePool } from '../../core/index.ts';
import { virsh } from './virsh.ts';
import { parseXml, textOf } from './xml.ts';

const FILE_POOL_TYPES = new Set(['dir', 'fs', 'netfs']);

export async function listStoragePools(opts: { uri?: string } = {}): Promise<StoragePool[]> {
  const names = (await virsh(['pool-list', '--all', '--name'], opts)).split('\n').map((l) => l.trim()).filter(Boolean);
  const pools: StoragePool[] = [];
  for (const name of names) {
    const pool = parseXml(await virsh(['pool-dumpxml', name], opts)).pool ?? {};
    const type = String(pool['@_type'] ?? 'unknown');
    const path = FILE_POOL_TYPES.has(type) ? textOf(pool.target?.path) : null;
    // Inactive pools report no figures; libvirt gives bytes in the XML's unit (bytes by default).
    const bytes = (node: unknown) => Number(textOf(node) ?? 0);
    const active = /^\s*State:\s*running/m.test(await virsh(['pool-info', name], opts));
    pools.push({ name, type, path, active, capacityBytes: active ? bytes(pool.capacity) : null, availableBytes: active ? bytes(pool.available) : null });
  }
  return pools;
}
