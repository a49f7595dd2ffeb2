#!/usr/bin/env bash
# Installs the Debian packages vmbak and its test suite run against: QEMU tools, libvirt,
# the storage servers the target tests start on loopback, and the peers the bench compares
# with. Runs apt-get only as root and only for what is missing, so a second run is quick.
set -euo pipefail
PKGS=(
  qemu-utils qemu-system-x86 libvirt-daemon-system libvirt-clients libnbd-bin
  fdisk e2fsprogs openssl procps time psmisc
  openssh-server openssh-client vsftpd radosgw ceph-mon ceph-osd
  restic borgbackup zstd
  linux-image-amd64 busybox-static qemu-guest-agent cpio
  swtpm swtpm-tools ovmf
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "vmbak: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
