#!/usr/bin/env bash
# bench/run.sh — `npm run bench`: vmbak side by side with restic and borg on two disk images
# of different content (4 GiB seed 1 and 2 GiB seed 2), with a limits step per image.
#
#   npm run bench                         all tools, both images (~25 min on 2 cores)
#   BENCH_SIZE_GIB=1 npm run bench        quick run on one 1 GiB image (seed BENCH_SEED, 1)
#   BENCH_IMAGES="1:1 1:2" npm run bench  quick run on two 1 GiB images (GiB:seed pairs)
#   BENCH_TOOLS="vmbak borg-zstd3" npm run bench
#   BENCH_CHUNK_SIZES="32K 64K 128K 256K" npm run bench -- --chunk-sweep
#                                         vmbak only, steps a, c, c2 per repository chunk size
#
# Steps per tool, each on its own sparse copy of the same pristine image, with the same
# mutation seeds (so every tool sees byte-identical changes):
#   a   first backup
#   b   second backup of the unchanged image, full re-read (restic --force,
#       borg --files-cache=disabled, vmbak --force-read; bench/unchanged-image.sh times the
#       metadata skips instead)
#   c   after mutate-disk.sh IMG 1 1 1   (1% of used blocks, scattered 4 KiB writes)
#   c2  after mutate-disk.sh IMG 1 2 16  (a further 1%, in 64 KiB runs)
#   d   full restore of the latest backup to a file, verified by sha256
# Before every timed step: sync + drop page caches (root only) and a short idle wait.
# Limits step (per image, before the tools): the cold read of the allocated data
# (read-allocated.pl after a cache drop) and the per-byte CPU cost of vmbak's primitives on
# the image's own data, one core (limits.ts: HMAC-SHA-256, zstd level 1 compress/decompress,
# AES-256-GCM seal/open). report.ts turns them into the ceiling and the issue-12 targets.
#
# Tools: vmbak restic borg-zstd3 borg-lz4 borg-fixed64k
#   restic         restic defaults (encrypted, zstd auto)
#   borg-zstd3     borg init -e repokey, create -C zstd,3
#   borg-lz4       borg init -e repokey, create -C lz4
#   borg-fixed64k  borg init -e repokey, create -C zstd,3 --chunker-params fixed,65536
#
# Env: BENCH_WORK (default bench/work), BENCH_IMAGES ("4:1 2:2": GiB:seed per image),
#      BENCH_SIZE_GIB / BENCH_SEED (either one set: a single image of that size and seed),
#      BENCH_LIMITS (1: run the limits step),
#      BENCH_TOOLS (all), BENCH_CHUNK_SIZES ("32K 64K 128K 256K"), DROP_CACHES (1),
#      BENCH_QUIET_MAX (10 s idle wait cap), BENCH_STEP_TIMEOUT (600 s per step),
#      VMBAK (default bin/vmbak).
# Output: a report on stdout; report.txt, results.json and bench.log (all tool output) under
#         $BENCH_WORK/results/<UTC time>/ (also results/latest), and per image a folder
#         <GiB>g-s<seed>/ with results.tsv, meta.tsv and limits.tsv.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MODE=full
for arg in "$@"; do
  case "$arg" in
    --chunk-sweep) MODE=sweep ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument '$arg' (use --chunk-sweep or --help)" >&2; exit 2 ;;
  esac
done

WORK=${BENCH_WORK:-$HERE/work}
if [ -n "${BENCH_SIZE_GIB:-}" ] || [ -n "${BENCH_SEED:-}" ]; then
  IMAGES="${BENCH_SIZE_GIB:-4}:${BENCH_SEED:-1}"
else
  IMAGES=${BENCH_IMAGES:-"4:1 2:2"}
fi
# the chunk-size sweep looks at one image
[ "$MODE" = sweep ] && IMAGES=${IMAGES%% *}
ALL_TOOLS="vmbak restic borg-zstd3 borg-lz4 borg-fixed64k"
TOOLS=${BENCH_TOOLS:-$ALL_TOOLS}
CHUNK_SIZES=${BENCH_CHUNK_SIZES:-"32K 64K 128K 256K"}
NODE="$ROOT/node_modules/.bin/node"
VMBAK=${VMBAK:-$ROOT/bin/vmbak}

for t in $TOOLS; do
  case " $ALL_TOOLS " in *" $t "*) ;; *) echo "bench: unknown tool '$t' in BENCH_TOOLS (known: $ALL_TOOLS)" >&2; exit 2 ;; esac
done
for im in $IMAGES; do
  [[ "$im" =~ ^[1-9][0-9]*:[0-9]+$ ]] || { echo "bench: image '$im' is not GiB:seed with a whole number of GiB (BENCH_IMAGES, BENCH_SIZE_GIB, BENCH_SEED)" >&2; exit 2; }
done

# ---- prerequisites: Debian packages (restic, borg, fdisk, e2fsprogs, openssl, time, ...) and Node 24
bash "$ROOT/scripts/install-system-deps.sh"
if [ ! -x "$NODE" ]; then
  echo "[bench] node_modules missing: running npm ci" >&2
  (cd "$ROOT" && npm ci --no-audit --no-fund)
fi
for t in restic borg sfdisk mkfs.ext4 openssl perl setsid ps /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench: missing tool: $t" >&2; exit 1; }
done

# shellcheck source=lib.sh
. "$HERE/lib.sh"

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
export TMPDIR="$WORK/tmp"; mkdir -p "$TMPDIR"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RES="$WORK/results/$STAMP"
[ "$MODE" = sweep ] && RES="$WORK/results/$STAMP-sweep"
mkdir -p "$RES"
ln -sfn "$(basename "$RES")" "$WORK/results/latest"
LOG="$RES/bench.log"
: > "$LOG"
log() { echo "[bench] $*" | tee -a "$LOG" >&2; }

export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench VMBAK_PASSPHRASE=bench
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_CHECK_I_KNOW_WHAT_I_AM_DOING=YES BORG_DELETE_I_KNOW_WHAT_I_AM_DOING=YES

# ---- per image: the pristine image (cached by size, seed and generator script), its meta.tsv
# prepare_image GIB SEED: sets SIZE_GIB SEED PRISTINE LOGICAL ALLOC IMG_RES TSV META
prepare_image() {
  SIZE_GIB=$1 SEED=$2
  IMG_RES="$RES/${SIZE_GIB}g-s${SEED}"
  mkdir -p "$IMG_RES"
  TSV="$IMG_RES/results.tsv"
  META="$IMG_RES/meta.tsv"
  GEN_HASH=$(sha256sum "$HERE/make-disk.sh" | cut -c1-12)
  PRISTINE="$WORK/images/disk-${SIZE_GIB}g-s${SEED}-${GEN_HASH}.raw"
  mkdir -p "$WORK/images"
  if [ ! -f "$PRISTINE" ]; then
    log "building pristine image $PRISTINE (${SIZE_GIB} GiB, seed $SEED; cached for later runs)"
    STAGE_DIR="$WORK/images/stage.$$" bash "$HERE/make-disk.sh" "$PRISTINE.tmp.$$" "$SIZE_GIB" "$SEED" 2>&1 | tee -a "$LOG" >&2
    mv "$PRISTINE.tmp.$$" "$PRISTINE"
  fi
  LOGICAL=$(stat -c %s "$PRISTINE")
  # room for one tool's image copy + repository + a non-sparse restore (restic, borg), roughly 3x the logical size
  need_kb=$(( SIZE_GIB * 3 * 1024 * 1024 ))
  free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
  (( free_kb >= need_kb )) || { echo "bench: $WORK has $(( free_kb / 1024 / 1024 )) GiB free; a ${SIZE_GIB} GiB run needs about $(( need_kb / 1024 / 1024 )) GiB" >&2; exit 1; }
  ALLOC=$(du -B1 "$PRISTINE" | cut -f1)

  {
    printf 'mode\t%s\n' "$MODE"
    printf 'time\t%s\n' "$(date -u +%FT%TZ)"
    printf 'host\t%s\n' "$(hostname)"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'image\t%s\n' "$PRISTINE"
    printf 'size_gib\t%s\n' "$SIZE_GIB"
    printf 'seed\t%s\n' "$SEED"
    printf 'logical_bytes\t%s\n' "$LOGICAL"
    printf 'alloc_bytes\t%s\n' "$ALLOC"
    printf 'tools\t%s\n' "$( [ "$MODE" = sweep ] && echo "vmbak ($CHUNK_SIZES)" || echo "$TOOLS")"
    printf 'restic\t%s\n' "$(restic version | head -n1)"
    printf 'borg\t%s\n' "$(borg --version)"
    printf 'node\t%s\n' "$("$NODE" --version)"
    printf 'vmbak_commit\t%s\n' "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf 'vmbak_uncommitted_files\t%s\n' "$(git -C "$ROOT" status --porcelain -- src bin 2>/dev/null | wc -l)"
    printf 'vmbak_launcher\t%s\n' "$VMBAK"
    printf 'drop_caches\t%s\n' "$( [ -w /proc/sys/vm/drop_caches ] && [ "${DROP_CACHES:-1}" = 1 ] && echo yes || echo no)"
  } > "$META"
  log "image: logical=$LOGICAL allocated=$ALLOC; tools: $(sed -n 's/^tools\t//p' "$META"); results: $RES"
  printf 'tool\tstep\twall_s\tcpu_s\tother_cpu_s\trss_kB\ttree_rss_kB\trepo_bytes\tnew_bytes\tmutated_bytes\trc\tverify\trestored_alloc\tquiet_wait_s\ttool_json\tsync_s\n' > "$TSV"
}

# limits_step: cold read of the allocated data, then limits.ts's per-byte costs (limits.tsv)
limits_step() {
  local lt="$IMG_RES/limits.tsv"
  drop_caches
  wait_quiet
  timed "perl '$HERE/read-allocated.pl' '$PRISTINE' > '$IMG_RES/.cold-bytes'"
  [ "$T_RC" = 0 ] || { log "limits: cold read failed"; return 1; }
  local cold_bytes; cold_bytes=$(cat "$IMG_RES/.cold-bytes"); rm -f "$IMG_RES/.cold-bytes"
  log "limits: cold read of the allocated data: $cold_bytes B in $T_WALL s (other CPU $T_OTHER s)"
  local cw=$T_WALL co=$T_OTHER
  cat "$PRISTINE" > /dev/null   # the CPU costs are measured from the page cache
  wait_quiet
  timed "'$NODE' '$HERE/limits.ts' '$PRISTINE' '$lt.tmp' >> '$LOG' 2>&1"
  [ "$T_RC" = 0 ] || { log "limits: limits.ts failed (see $LOG)"; return 1; }
  mv "$lt.tmp" "$lt"
  printf 'cold_read_bytes\t%s\tB\ncold_read_s\t%s\ts\ncold_read_other_cpu_s\t%s\ts\nlimits_other_cpu_s\t%s\ts\n' "$cold_bytes" "$cw" "$co" "$T_OTHER" >> "$lt"
  log "limits: $(awk -F'\t' '/_MBps/ { printf "%s=%s ", $1, $2 }' "$lt")(MB/s, one core; other CPU $T_OTHER s)"
}

# ---- per-tool commands. Each sets INIT, BACKUP (a, c, c2), BACKUP_REREAD (b), RESTORE, RESTORED.
# Commands are bash strings run with cwd = $W; $W/img/disk.raw is the image, $W/repo the repository.
setup_tool() {
  local tool=$1 chunk=${2:-}
  local disk="$W/img/disk.raw"
  case "$tool" in
    vmbak)
      [ -x "$VMBAK" ] || { echo "bench: $VMBAK not found (vmbak CLI not built yet?)" >&2; return 1; }
      INIT="'$VMBAK' repo init --repo '$W/repo'${chunk:+ --chunk-size $chunk}"
      BACKUP="'$VMBAK' backup --repo '$W/repo' --image '$disk' --vm bench --json > '$W/out.json'"
      BACKUP_REREAD="'$VMBAK' backup --repo '$W/repo' --image '$disk' --vm bench --force-read --json > '$W/out.json'"
      RESTORE="'$VMBAK' restore --repo '$W/repo' latest --to '$W/restore' --format raw"
      RESTORED="$W/restore/disk.raw"
      ;;
    restic)
      export RESTIC_REPOSITORY="$W/repo" RESTIC_CACHE_DIR="$W/cache"
      INIT="restic init -q"
      BACKUP="restic backup -q --host bench '$disk'"
      BACKUP_REREAD="restic backup -q --host bench --force '$disk'"
      RESTORE="restic restore -q latest --target '$W/restore'"
      RESTORED="$W/restore$disk"
      ;;
    borg-*)
      local comp=zstd,3 extra=""
      case "$tool" in
        borg-lz4) comp=lz4 ;;
        borg-fixed64k) extra="--chunker-params fixed,65536" ;;
      esac
      export BORG_REPO="$W/repo" BORG_BASE_DIR="$W/borgbase"
      INIT="borg init -e repokey"
      BACKUP="cd '$W/img' && borg create -C $comp $extra ::s\$(date +%s%N) disk.raw"
      BACKUP_REREAD="cd '$W/img' && borg create -C $comp $extra --files-cache=disabled ::s\$(date +%s%N) disk.raw"
      RESTORE="cd '$W/restore' && borg extract ::\$(borg list --short --last 1)"
      RESTORED="$W/restore/disk.raw"
      ;;
  esac
}

repo_bytes() { du -sb "$W/repo" 2>/dev/null | cut -f1; }

# step TOOL STEP CMD [MUTATED_BYTES]: cache drop, idle wait, timed run, one TSV row
PREV_REPO=0
step() {
  local tool=$1 st=$2 cmd=$3 mut=${4:-} repo new json="" verify="" ralloc="" sync_s=""
  rm -f "$W/out.json"
  drop_caches
  wait_quiet
  echo "== $tool $st: $cmd" >> "$LOG"
  timed "cd '$W' && { $cmd ; } >> '$LOG' 2>&1"
  # How long the restored data then takes to reach the disk: vmbak fsyncs before it reports
  # a restore, restic and borg leave it to the page cache.
  if [ "$st" = d ]; then
    local s0
    s0=$(date +%s.%N); sync
    sync_s=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  fi
  repo=$(repo_bytes)
  if [ "$st" = d ]; then
    new=""
  else
    new=$(( repo - PREV_REPO )); PREV_REPO=$repo
  fi
  if [ -s "$W/out.json" ]; then json=$(tail -n 1 "$W/out.json"); cat "$W/out.json" >> "$LOG"; fi
  if [ "$st" = d ]; then
    local got
    got=$(sha256sum "$RESTORED" 2>/dev/null | cut -d' ' -f1 || true)
    if [ -n "$got" ] && [ "$got" = "$WANT_SHA" ]; then verify=OK; else verify=MISMATCH; fi
    ralloc=$(du -B1 "$RESTORED" 2>/dev/null | cut -f1 || true)
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$st" "$T_WALL" "$T_CPU" "$T_OTHER" \
    "$T_RSS" "$T_TREE" "$repo" "$new" "$mut" "$T_RC" "$verify" "$ralloc" "$QUIET_WAITED" "$json" "$sync_s" >> "$TSV"
  printf '[bench] %-14s %-3s wall=%6ss cpu=%6ss rss=%7skB tree=%7skB repo=%12s new=%12s%s%s\n' "$tool" "$st" "$T_WALL" "$T_CPU" \
    "$T_RSS" "$T_TREE" "$repo" "${new:--}" "${verify:+ verify=$verify}" "$( [ "$T_RC" = 0 ] || echo " rc=$T_RC (see $LOG)")" | tee -a "$LOG" >&2
  [ "$T_RC" = 0 ]
}

# mutate PERCENT SEED CLUSTER: prints the bytes written (from mutate-disk.sh's report line)
mutate() {
  local line
  line=$(bash "$HERE/mutate-disk.sh" "$W/img/disk.raw" "$1" "$2" "$3" 2>&1 | tee -a "$LOG" | grep '^\[mutate\]')
  echo "$line" | sed -n 's/.* bytes=\([0-9]*\).*/\1/p'
}

fresh_workdir() {
  W="$WORK/run/$1"
  rm -rf "$W"; mkdir -p "$W/img" "$W/restore"
  cp --sparse=always "$PRISTINE" "$W/img/disk.raw"
  PREV_REPO=0
}

run_tool() {
  local tool=$1 m1 m2
  log "---- $tool"
  fresh_workdir "$tool"
  setup_tool "$tool" || return 1
  bash -c "cd '$W' && $INIT" >> "$LOG" 2>&1 || { log "$tool: init failed (see $LOG)"; return 1; }
  PREV_REPO=$(repo_bytes)
  step "$tool" a "$BACKUP" || return 1
  step "$tool" b "$BACKUP_REREAD" || return 1
  m1=$(mutate 1 1 1)
  step "$tool" c "$BACKUP" "$m1" || return 1
  m2=$(mutate 1 2 16)
  step "$tool" c2 "$BACKUP" "$m2" || return 1
  WANT_SHA=$(sha256sum "$W/img/disk.raw" | cut -d' ' -f1)
  echo "$tool sha256 after c2: $WANT_SHA" >> "$LOG"
  step "$tool" d "$RESTORE" || return 1
  rm -rf "$W"
}

run_sweep() {
  local cs m1 m2
  for cs in $CHUNK_SIZES; do
    log "---- vmbak chunk size $cs"
    fresh_workdir "vmbak-$cs"
    setup_tool vmbak "$cs" || return 1
    bash -c "cd '$W' && $INIT" >> "$LOG" 2>&1 || { log "vmbak init --chunk-size $cs failed (see $LOG)"; return 1; }
    PREV_REPO=$(repo_bytes)
    step "vmbak-$cs" a "$BACKUP" || continue
    m1=$(mutate 1 1 1)
    step "vmbak-$cs" c "$BACKUP" "$m1" || continue
    m2=$(mutate 1 2 16)
    step "vmbak-$cs" c2 "$BACKUP" "$m2" || continue
    rm -rf "$W"
  done
}

failed=()
for im in $IMAGES; do
  T0=$(date +%s)
  prepare_image "${im%%:*}" "${im#*:}"
  if [ "$MODE" = sweep ]; then
    run_sweep || failed+=("vmbak@$im")
  else
    if [ "${BENCH_LIMITS:-1}" = 1 ]; then limits_step || failed+=("limits@$im"); fi
    for tool in $TOOLS; do
      run_tool "$tool" || { failed+=("$tool@$im"); log "$tool: FAILED on image $im (see $LOG); continuing with the other tools"; }
    done
  fi
  printf 'total_s\t%s\n' "$(( $(date +%s) - T0 ))" >> "$META"
done

"$NODE" "$HERE/report.ts" "$RES" | tee "$RES/report.txt"
echo "results: $RES (report.txt, results.json, bench.log; per image results.tsv, meta.tsv, limits.tsv)"
[ ${#failed[@]} -eq 0 ] || { echo "bench: failed: ${failed[*]} (see $LOG)" >&2; exit 1; }
