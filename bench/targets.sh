#!/usr/bin/env bash
# Backup/restore throughput per target type on loopback (ratios to a local directory) and
# `vmbak copy` throughput. Usage: bench/targets.sh [SIZE_MIB] (default 1024). Needs root
# (sshd, vsftpd, radosgw as in test/support).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
work="$(mktemp -d /tmp/vmbak-bench-targets-XXXXXX)"
trap 'rm -rf "$work"' EXIT
img="$work/disk.raw"
# Half random (incompressible), a quarter repeated text, a quarter holes.
truncate -s "${size_mib}M" "$img"
head -c "$((size_mib / 2))M" /dev/urandom | dd of="$img" conv=notrunc status=none || true
yes 'vmbak bench line of text' | head -c "$((size_mib / 4))M" | dd of="$img" bs=1M seek="$((size_mib / 2))" conv=notrunc status=none || true
node_modules/.bin/node bench/targets.ts "$img"
