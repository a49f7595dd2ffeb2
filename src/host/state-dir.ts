// Where this host keeps the records of its running work: libvirt run records (swept after a
// crash) and job records (found by `vmbak jobs`) share one state directory.

export function defaultStateDir(): string {
  return process.env.VMBAK_STATE_DIR ?? '/var/lib/vmbak/runs';
}
