#!/usr/bin/env bash
# bench/unchanged-image.sh — an unchanged image file backed up again: vmbak's file-facts skip
# (size, mtime, ctime, inode: the previous disk index reused, qemu-nbd not started) against
# restic's metadata skip of an unchanged file (`restic backup` twice on the same file), and
# vmbak --force-read for scale. Not part of the test suite.
#
#   bench/unchanged-image.sh                 4 GiB make-disk.sh image (seed 1), 5 runs each
#   BENCH_SIZE_GIB=1 BENCH_RUNS=3 bench/unchanged-image.sh
# Env: BENCH_WORK (default bench/work/unchanged), BENCH_SIZE_GIB (4), BENCH_SEED (1),
#      BENCH_RUNS (5), DROP_CACHES (1: before each timed step, root only), VMBAK (bin/vmbak).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
W=${BENCH_WORK:-$here/work/unchanged}
SIZE=${BENCH_SIZE_GIB:-4}
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-5}
VMBAK=${VMBAK:-$here/../bin/vmbak}
export BENCH_QUIET_MAX=${BENCH_QUIET_MAX:-3}
export RESTIC_PASSWORD=bench VMBAK_PASSPHRASE=bench RESTIC_CACHE_DIR="$W/restic-cache"
mkdir -p "$W"
# bin/vmbak runs the compiled dist/ when it is up to date, as `npm run bench` does.
[ -n "${VMBAK_NO_BUILD:-}" ] || (cd "$here/.." && npm run -s build)
IMG="$W/disk-${SIZE}g-s$SEED.raw"
[ -f "$IMG" ] || "$here/make-disk.sh" "$IMG" "$SIZE" "$SEED" >&2
echo "image $IMG: $(du -h --apparent-size "$IMG" | cut -f1) apparent, $(du -h "$IMG" | cut -f1) allocated"
rm -rf "$W/vmbak-repo" "$W/restic-repo" "$W/restic-cache"
"$VMBAK" repo init --repo "$W/vmbak-repo" >/dev/null
restic init -q --repo "$W/restic-repo" >/dev/null

printf '%-8s %-22s %8s %8s %9s  %s\n' tool step wall_s cpu_s rss_MiB note
row() { printf '%-8s %-22s %8s %8s %9s  %s\n' "$1" "$2" "$T_WALL" "$T_CPU" "$(( T_TREE / 1024 ))" "${3:-}"; }
run() { drop_caches; wait_quiet; timed "$1"; [ "$T_RC" = 0 ] || { echo "step failed: $1" >&2; exit 1; }; }

vb="'$VMBAK' backup --repo '$W/vmbak-repo' --image '$IMG' --vm bench --json --no-progress"
run "$vb > '$W/out.json'"; row vmbak first "$(jq -c '[.disks[0].read, .bytesRead]' "$W/out.json")"
run "restic backup -q --repo '$W/restic-repo' --host bench '$IMG'"; row restic first
for i in $(seq "$RUNS"); do
  run "$vb > '$W/out.json'"
  row vmbak "unchanged#$i" "$(jq -c '[.disks[0].read, .bytesRead]' "$W/out.json")"
  run "restic backup -q --repo '$W/restic-repo' --host bench '$IMG'"; row restic "unchanged#$i"
done
run "$vb --force-read > '$W/out.json'"; row vmbak "unchanged --force-read" "$(jq -c '[.disks[0].read, .bytesRead]' "$W/out.json")"
run "restic backup -q --repo '$W/restic-repo' --host bench --force '$IMG'"; row restic "unchanged --force"
