#!/usr/bin/env bash
# Builds the tiny real guest that `vmbak demo` and the tests boot: Debian's installed kernel plus an
# initramfs (cpio newc, gzip) made of busybox-static, the virtio/ext4 modules of that kernel
# and qemu-ga with its libraries. Its /init mounts /dev/vda (ext4, made by the test) at /mnt,
# keeps writing there, and runs the guest agent on the virtio-serial port named
# org.qemu.guest_agent.0, so `virsh domfsfreeze` really freezes a filesystem with writes in flight.
#
# Idempotent: the result is cached in /var/cache/vmbak-test-guest/<hash>/, the hash covering this
# script, the kernel version and the versions of the packages it copies from. Built in a temp
# dir and renamed into place, so concurrent runs do not see half a guest.
# Needs (scripts/install-system-deps.sh): linux-image-amd64 busybox-static qemu-guest-agent.
# Prints two lines: KERNEL=<path> and INITRD=<path>.
set -euo pipefail

CACHE_ROOT=${VMBAK_GUEST_CACHE:-/var/cache/vmbak-test-guest}
MODULES=(virtio_pci virtio_blk virtio_console ext4)

die() { echo "build-guest: $*" >&2; exit 1; }

KVER=${VMBAK_GUEST_KVER:-}
if [ -z "$KVER" ]; then
  # The newest kernel that has both an image in /boot and its modules.
  for k in $(ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V); do
    [ -d "/lib/modules/$k" ] && KVER=$k
  done
fi
[ -n "$KVER" ] || die "no kernel in /boot with modules in /lib/modules (install linux-image-amd64)"
KERNEL_SRC=/boot/vmlinuz-$KVER
[ -r "$KERNEL_SRC" ] || die "cannot read $KERNEL_SRC"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || die "busybox not found (install busybox-static)"
case "$(ldd "$BUSYBOX" 2>&1 || true)" in
  *'not a dynamic'*|*'statically linked'*) ;;
  *) die "$BUSYBOX is not static (install busybox-static)" ;;
esac
QGA=/usr/sbin/qemu-ga
[ -x "$QGA" ] || die "$QGA not found (install qemu-guest-agent)"
command -v cpio >/dev/null || die "cpio not found"

versions=$(dpkg-query -W -f='${Package}=${Version}\n' busybox-static qemu-guest-agent "linux-image-$KVER" 2>/dev/null || true)
HASH=$( { cat "${BASH_SOURCE[0]}"; echo "$KVER"; echo "$versions"; } | sha256sum | cut -c1-16)
OUT=$CACHE_ROOT/$HASH
if [ -f "$OUT/done" ]; then
  echo "KERNEL=$OUT/vmlinuz"
  echo "INITRD=$OUT/initrd.gz"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
chmod 755 "$CACHE_ROOT"
WORK=$(mktemp -d "$CACHE_ROOT/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,mnt,run,tmp,etc,lib/modules,lib64,usr/sbin,var}
ln -s ../run "$ROOT/var/run"

# busybox: the applets become symlinks at boot (busybox --install); /bin/sh is needed before that.
cp "$BUSYBOX" "$ROOT/bin/busybox"
ln -s busybox "$ROOT/bin/sh"

# Kernel modules in load order, dependencies first, each once. Compressed ones are unpacked
# (busybox insmod takes plain .ko).
: > "$ROOT/etc/modules"
declare -A seen=()
for m in "${MODULES[@]}"; do
  deps=$(modprobe -S "$KVER" --show-depends "$m") || die "modprobe --show-depends $m failed for $KVER"
  while read -r kind path _; do
    [ "$kind" = insmod ] || continue          # "builtin X" needs nothing
    [ -n "${seen[$path]:-}" ] && continue
    seen[$path]=1
    base=$(basename "$path")
    case "$base" in
      *.ko.xz) xz -dc "$path" > "$ROOT/lib/modules/${base%.xz}"; base=${base%.xz} ;;
      *.ko.zst) zstd -qdc "$path" > "$ROOT/lib/modules/${base%.zst}"; base=${base%.zst} ;;
      *.ko.gz) gzip -dc "$path" > "$ROOT/lib/modules/${base%.gz}"; base=${base%.gz} ;;
      *.ko) cp "$path" "$ROOT/lib/modules/$base" ;;
      *) die "unexpected module file $path" ;;
    esac
    echo "$base" >> "$ROOT/etc/modules"
  done <<< "$deps"
done

# qemu-ga, its libraries at the paths ldd resolves them to, and the dynamic loader.
cp "$QGA" "$ROOT/usr/sbin/qemu-ga"
ldd "$QGA" | while read -r a b c _; do
  lib=
  if [ "$b" = "=>" ] && [ "${c:0:1}" = / ]; then lib=$c; elif [ "${a:0:1}" = / ]; then lib=$a; fi
  [ -n "$lib" ] || continue
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
[ -e "$ROOT/lib64/ld-linux-x86-64.so.2" ] || die "ldd did not name the dynamic loader"

cat > "$ROOT/init" <<'EOF'
#!/bin/sh
# PID 1 of the vmbak test guest. Must never exit (the kernel would panic).
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
echo "guest: init on $(uname -r)"
for m in $(cat /etc/modules); do
  insmod "/lib/modules/$m" || echo "guest: insmod $m failed"
done

i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if mount -t ext4 /dev/vda /mnt; then
  echo "guest: /dev/vda mounted on /mnt"
  # Writes in flight during the backup: a log that grows and a counter replaced by rename,
  # each followed by sync so the disk (not just the page cache) changes. Blocks while frozen.
  (
    n=0
    while :; do
      n=$((n + 1))
      echo "write $n" >> /mnt/writes.log
      echo "$n" > /mnt/counter.tmp && mv /mnt/counter.tmp /mnt/counter
      sync
      sleep 0.3
    done
  ) &
else
  echo "guest: cannot mount /dev/vda"
fi

port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
  for d in /sys/class/virtio-ports/*; do
    [ -r "$d/name" ] && [ "$(cat "$d/name")" = org.qemu.guest_agent.0 ] && port=${d##*/}
  done
  [ -n "$port" ] || { sleep 0.1; i=$((i + 1)); }
done
if [ -z "$port" ]; then
  echo "guest: no virtio port named org.qemu.guest_agent.0"
  while :; do sleep 3600; done
fi
while [ ! -c "/dev/$port" ]; do sleep 0.1; done
echo "guest: qemu-ga on /dev/$port"
while :; do
  /usr/sbin/qemu-ga -m virtio-serial -p "/dev/$port" -f /run/qemu-ga.pid -t /run
  echo "guest: qemu-ga exited ($?), restarting"
  sleep 1
done
EOF
chmod 755 "$ROOT/init"

(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) | gzip -6 > "$WORK/initrd.gz"
cp "$KERNEL_SRC" "$WORK/vmlinuz"
chmod 644 "$WORK/initrd.gz" "$WORK/vmlinuz"
echo "$KVER" > "$WORK/done"
rm -rf "$ROOT"
chmod 755 "$WORK"
if ! mv -T "$WORK" "$OUT" 2>/dev/null; then
  [ -f "$OUT/done" ] || die "could not move the build into $OUT"   # another run won the race
fi
trap - EXIT
rm -rf "$WORK"
echo "KERNEL=$OUT/vmlinuz"
echo "INITRD=$OUT/initrd.gz"
