// vmbak's dirty bitmaps that no checkpoint of this libvirt owns. Persistent bitmaps live in
// the qcow2 image, checkpoints in the libvirt that made them: a VM moved to another host (same
// disk, defined anew there) carries its old host's bitmaps, and the new host's libvirt has no
// checkpoint to delete them with — QEMU would update each of them on every guest write for
// ever. Once a backup on this host has made its own checkpoint (the chain's new base), the
// orphans are removed through QEMU's monitor. Only bitmaps named like vmbak's checkpoints go.

import { CHECKPOINT_PREFIX, listCheckpoints } from './checkpoints.ts';
import { monitorCommand } from './virsh.ts';

interface BlockNode {
  readonly 'node-name': string;
  readonly 'dirty-bitmaps'?: readonly { readonly name: string; readonly persistent?: boolean }[];
}

/** Removes the running VM's orphan vmbak bitmaps; returns `node/bitmap` of each one removed. */
export async function removeOrphanBitmaps(vm: { uuid: string }, uri: string): Promise<string[]> {
  const owned = new Set(await listCheckpoints(vm.uuid, { uri }));
  const reply = await monitorCommand(vm.uuid, JSON.stringify({ execute: 'query-named-block-nodes', arguments: { flat: true } }), { uri });
  const nodes = (JSON.parse(reply) as { return: BlockNode[] }).return;
  const removed: string[] = [];
  for (const node of nodes) {
    for (const b of node['dirty-bitmaps'] ?? []) {
      if (!b.persistent || !b.name.startsWith(CHECKPOINT_PREFIX) || owned.has(b.name)) continue;
      await monitorCommand(vm.uuid, JSON.stringify({ execute: 'block-dirty-bitmap-remove', arguments: { node: node['node-name'], name: b.name } }), { uri });
      removed.push(`${node['node-name']}/${b.name}`);
    }
  }
  return removed;
}
