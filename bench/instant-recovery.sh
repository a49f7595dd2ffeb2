#!/usr/bin/env bash
# instant-recovery.sh — time from `vmbak restore --instant` to a guest agent that answers, for a
# VM with a 1 GiB and an 8 GiB data disk (issue 9: it must not depend on disk size), next to a
# full `restore --as-vm --start` of the same backup. The guest is the test guest (Debian kernel
# + busybox + qemu-ga under TCG, scripts/build-guest.sh) booting from a 64 MiB ext4
# vda; vdb is the data disk it never reads: sparse, with a 256 MiB region of real random data
# (AES-CTR of zeros) at the start of every GiB, so a quarter of it is stored in the repository.
# Prints, per size: the backup's stored bytes, instant time-to-agent and bytes read from packs
# by then, full-restore time-to-agent.
# usage: bench/instant-recovery.sh [WORKDIR]   (root, libvirtd; scripts/install-system-deps.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root="$here/.."
vmbak="$root/bin/vmbak"
work=${1:-"$here/work/instant-recovery"}
uri=qemu:///system
sizes=${BENCH_INSTANT_SIZES_GIB:-"1 8"}
tag=$$

guest=$(bash "$root/scripts/build-guest.sh")
kernel=$(sed -n 's/^KERNEL=//p' <<<"$guest")
initrd=$(sed -n 's/^INITRD=//p' <<<"$guest")
pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d

rm -rf "$work"; mkdir -p "$work/runs"; chmod 755 "$work"
export VMBAK_PASSPHRASE=bench VMBAK_STATE_DIR="$work/runs" VMBAK_REPO="$work/repo"
cleanup() {
  for n in $(virsh -q -c $uri list --all --name | grep "^vmbak-bench-ir.*-$tag\$" || true); do
    [ -f "$work/runs/instant/$n.json" ] && "$vmbak" instant stop "$n" >/dev/null 2>&1 || true
    virsh -q -c $uri destroy "$n" >/dev/null 2>&1 || true
    virsh -q -c $uri undefine "$n" >/dev/null 2>&1 || true
  done
}
trap cleanup EXIT
"$vmbak" repo init >/dev/null

wait_agent() { # NAME → seconds waited (fails after 180 s)
  local start=$(date +%s.%N)
  until virsh -q -c $uri qemu-agent-command "$1" '{"execute":"guest-ping"}' --timeout 2 >/dev/null 2>&1; do
    (( $(date +%s) - ${start%.*} > 180 )) && { echo "agent of $1 did not answer" >&2; return 1; }
    sleep 0.2
  done
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

printf '%-8s %-14s %-16s %-18s %-16s\n' disk repo_size instant_agent_s instant_pack_read full_restore_agent_s
for gib in $sizes; do
  src="$work/src-$gib"; mkdir -p "$src"; chmod 755 "$src"
  truncate -s 64M "$src/vda.raw"
  mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$src/vda.raw"
  qemu-img convert -q -f raw -O qcow2 "$src/vda.raw" "$src/vda.qcow2"; rm "$src/vda.raw"
  truncate -s "${gib}G" "$src/vdb.raw"
  for ((g = 0; g < gib; g++)); do
    # openssl dies of SIGPIPE once head has its bytes: that is how this pipe ends, not a failure.
    { openssl enc -aes-128-ctr -nosalt -pass "pass:$tag-$g" -in /dev/zero 2>/dev/null || true; } | head -c 256M \
      | dd of="$src/vdb.raw" bs=1M seek=$((g * 1024)) conv=notrunc status=none
  done
  : > "$work/console-$gib.log"; chown libvirt-qemu:kvm "$work/console-$gib.log" 2>/dev/null || true
  cat > "$src/domain.xml" <<XML
<domain type='qemu'><name>vmbak-bench-irsrc-$gib-$tag</name><memory unit='MiB'>192</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>$kernel</kernel><initrd>$initrd</initrd>
<cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline></os>
<on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$src/vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$src/vdb.raw'/><target dev='vdb' bus='virtio'/></disk>
<serial type='file'><source path='$work/console-$gib.log'/><target port='0'/></serial>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
<memballoon model='none'/></devices></domain>
XML
  backup=$("$vmbak" backup --domain-xml "$src/domain.xml" --json --no-progress | sed -n 's/.*"backupId":"\([^"]*\)".*/\1/p' | head -1)
  stored=$(du -sh "$work/repo" | cut -f1)
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

  name="vmbak-bench-ir-$gib-$tag"
  t0=$(now)
  "$vmbak" restore "$backup" --instant --as-vm "$name" --pool-dir "$work/pool-$name" --no-network --start >/dev/null
  wait_agent "$name"
  instant=$(secs "$t0" "$(now)")
  read_bytes=$("$vmbak" instant ls --json | grep "\"vm\":\"$name\"" | sed -n 's/.*"packBytesRead":\([0-9]*\).*/\1/p')
  "$vmbak" instant stop "$name" >/dev/null

  full="vmbak-bench-full-$gib-$tag"
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  t0=$(now)
  "$vmbak" restore "$backup" --as-vm "$full" --pool-dir "$work/pool-$full" --no-network --start --no-progress >/dev/null
  wait_agent "$full"
  fullsecs=$(secs "$t0" "$(now)")
  virsh -q -c $uri destroy "$full" >/dev/null; virsh -q -c $uri undefine "$full" >/dev/null
  rm -rf "$work/pool-$full" "$src"

  printf '%-8s %-14s %-16s %-18s %-16s\n' "${gib}GiB" "$stored" "$instant" "$(numfmt --to=iec "$read_bytes")B" "$fullsecs"
done
