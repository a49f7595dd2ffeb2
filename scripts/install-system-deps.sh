#!/usr/bin/env bash
# Installs the Debian packages vmbak and its test suite run against: QEMU tools, libvirt,
# the storage servers the target tests start on loopback, Chromium for the console tests, and
# the peers the bench compares with. Runs apt-get only as root and only for what is missing,
# so a second run is quick.
set -euo pipefail
PKGS=(
  qemu-utils qemu-system-x86 libvirt-daemon-system libvirt-clients libnbd-bin
  libguestfs-tools libguestfs-xfs xfsprogs lvm2 ntfs-3g dosfstools mtools zip unzip cryptsetup-bin
  fdisk e2fsprogs openssl procps time psmisc strace
  openssh-server openssh-client vsftpd radosgw ceph-mon ceph-osd
  restic borgbackup zstd faketime
  postgresql redis-server
  linux-image-amd64 busybox-static qemu-guest-agent cpio
  swtpm swtpm-tools ovmf
  chromium
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# libvirt runs swtpm_setup as qemu.conf's swtpm_user (tss by default), and it must lock and
# write swtpm's local CA. A CA first created by a root-run swtpm_setup holds root-owned
# files, and every later TPM manufacture then fails; give the CA back to that account.
swtpm_ca_owner() {
  [ "$(id -u)" = 0 ] && [ -d /var/lib/swtpm-localca ] || return 0
  local user
  user=$(sed -n 's/^[[:space:]]*swtpm_user[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' /etc/libvirt/qemu.conf 2>/dev/null | tail -n1)
  user=${user:-tss}
  id "$user" >/dev/null 2>&1 || return 0
  find /var/lib/swtpm-localca ! -user "$user" -exec chown "$user" {} + 2>/dev/null || true
}

if [ ${#missing[@]} -eq 0 ]; then swtpm_ca_owner; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "vmbak: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
swtpm_ca_owner
