// The QEMU process of a running VM on this host, for looking at the machine as QEMU sees it
// (its mount namespace, through /proc/PID/root). libvirt's system daemon has QEMU write its
// pid to /run/libvirt/qemu/NAME.pid; the file can outlive the process and a pid can be reused,
// so the pid counts only when that process's command line names the VM.

import { readFile } from 'node:fs/promises';
import { DEFAULT_CONNECT_URI } from './virsh.ts';

const SYSTEM_RUN_DIR = '/run/libvirt/qemu';

/** The pid of the VM's QEMU, or null when it cannot be told (another URI, not root, not running). */
export async function findQemuPid(vmName: string, uri: string): Promise<number | null> {
  if (uri !== DEFAULT_CONNECT_URI) return null;
  try {
    const pid = Number((await readFile(`${SYSTEM_RUN_DIR}/${vmName}.pid`, 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const at = args.indexOf('-name');
    // QEMU's option syntax doubles a comma inside a value.
    const guest = `guest=${vmName.replace(/,/g, ',,')}`;
    const name = at >= 0 ? args[at + 1] ?? '' : '';
    return name === guest || name.startsWith(`${guest},`) ? pid : null;
  } catch {
    return null;
  }
}
