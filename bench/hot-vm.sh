#!/usr/bin/env bash
# hot-vm.sh — changed-block incrementals of a running VM, measured (issue 3's benchmark).
# A TCG VM runs with a 4 GiB qcow2 disk converted from bench/make-disk.sh output; vmbak takes a
# first (full) hot backup, then 1% of the used blocks change through QEMU (HMP qemu-io, seen by
# the dirty bitmap) as 64 KiB runs, then separately as scattered 4 KiB writes, each followed by
# an incremental. The same writes are then applied offline to a copy of the image backed up
# with --image (the hash-delta path) for comparison. Prints, per case: incremental wall time
# as % of the full backup's, bytes read / bytes changed, new bytes stored / bytes changed.
# usage: bench/hot-vm.sh [WORKDIR]   (root, libvirtd; scripts/install-system-deps.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/.."
node="$root/node_modules/.bin/node"
vmbak="$root/bin/vmbak"
work=${1:-"$here/work/hot-vm"}
images="$here/work/images"
name="vmbak-bench-hot-$$"
uri=qemu:///system

img=$(ls "$images"/disk-4g-s1-*.raw 2>/dev/null | head -1 || true)
if [ -z "$img" ]; then
  mkdir -p "$images"; img="$images/disk-4g-s1-hotvm.raw"
  bash "$here/make-disk.sh" "$img" 4 1
fi
rm -rf "$work"; mkdir -p "$work/scratch" "$work/runs"; chmod 755 "$work" "$work/scratch"
cleanup() {
  virsh -q -c $uri destroy "$name" >/dev/null 2>&1 || true
  virsh -q -c $uri undefine "$name" --checkpoints-metadata >/dev/null 2>&1 || true
}
trap cleanup EXIT
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d

qemu-img convert -f raw -O qcow2 "$img" "$work/disk.qcow2"
cp --sparse=always "$work/disk.qcow2" "$work/offline.qcow2"
chown libvirt-qemu:kvm "$work/disk.qcow2" 2>/dev/null || true
cat > "$work/domain.xml" <<XML
<domain type='qemu'><name>$name</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$work/disk.qcow2'/>
<target dev='vda' bus='virtio'/><alias name='ua-vda'/></disk></devices></domain>
XML
virsh -q -c $uri define "$work/domain.xml" >/dev/null
virsh -q -c $uri start "$name" >/dev/null

export VMBAK_PASSPHRASE=bench VMBAK_STATE_DIR="$work/runs" VMBAK_SCRATCH_DIR="$work/scratch"
"$vmbak" repo init --repo "$work/repo-hot" >/dev/null
"$vmbak" repo init --repo "$work/repo-image" >/dev/null

"$node" "$here/hot-vm-writes.ts" "$img" 65536 1 11 > "$work/runs64k.txt"
"$node" "$here/hot-vm-writes.ts" "$img" 4096 1 12 > "$work/scattered4k.txt"

# Guest writes through one virsh session (one connection for thousands of HMP commands).
guest_writes() {
  grep '^write' "$1" | sed "s|.*|qemu-monitor-command $name --hmp 'qemu-io -d /machine/peripheral/ua-vda/virtio-backend \"&\"'|" \
    | virsh -q -c $uri >/dev/null
}
offline_writes() { grep '^write' "$1" | qemu-io -f qcow2 "$work/offline.qcow2" >/dev/null; }
backup() { # REPO ARGS… → JSON line; wall ms appended as field
  local t0 t1 out
  t0=$(date +%s%N)
  out=$("$vmbak" backup --repo "$@" --json --no-progress)
  t1=$(date +%s%N)
  echo "$out" | "$node" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);j.wallMs=Number(process.argv[1]);console.log(JSON.stringify(j))})' $(( (t1 - t0) / 1000000 ))
}

hot_full=$(backup "$work/repo-hot" --vm "$name")
img_full=$(backup "$work/repo-image" --image "$work/offline.qcow2" --vm offline)
guest_writes "$work/runs64k.txt";  offline_writes "$work/runs64k.txt"
hot_64k=$(backup "$work/repo-hot" --vm "$name")
img_64k=$(backup "$work/repo-image" --image "$work/offline.qcow2" --vm offline)
guest_writes "$work/scattered4k.txt";  offline_writes "$work/scattered4k.txt"
hot_4k=$(backup "$work/repo-hot" --vm "$name")
img_4k=$(backup "$work/repo-image" --image "$work/offline.qcow2" --vm offline)

changed64=$(tail -1 "$work/runs64k.txt" | awk '{print $3}')
changed4=$(tail -1 "$work/scattered4k.txt" | awk '{print $3}')
"$node" -e '
const [hf, h64, h4, jf, j64, j4] = process.argv.slice(1, 7).map((s) => JSON.parse(s));
const [c64, c4] = process.argv.slice(7).map(Number);
const MiB = (b) => (b / 1048576).toFixed(1) + " MiB";
const row = (label, full, inc, changed) => console.log(
  `${label.padEnd(34)} full ${(full.wallMs / 1000).toFixed(1)} s, read ${MiB(full.bytesRead)} | incremental ${(inc.wallMs / 1000).toFixed(1)} s = ${(100 * inc.wallMs / full.wallMs).toFixed(1)}% of full`
  + ` (engine ${(inc.durationMs / 1000).toFixed(2)} s) | read/changed ${(inc.bytesRead / changed).toFixed(2)}x | stored/changed ${(inc.bytesStored / changed).toFixed(2)}x | new/changed ${(inc.bytesNew / changed).toFixed(2)}x | incremental=${inc.incremental}`);
console.log(`changed: 64 KiB runs ${MiB(c64)}, scattered 4 KiB ${MiB(c4)}`);
row("hot CBT, 1% as 64 KiB runs", hf, h64, c64);
row("image hash-delta, 64 KiB runs", jf, j64, c64);
row("hot CBT, 1% scattered 4 KiB", hf, h4, c4);
row("image hash-delta, scattered 4 KiB", jf, j4, c4);
' "$hot_full" "$hot_64k" "$hot_4k" "$img_full" "$img_64k" "$img_4k" "$changed64" "$changed4" | tee "$work/report.txt"
