#!/usr/bin/env bash
# make-disk.sh OUT.raw [SIZE_GIB=4] [SEED=1]
# (vmbak copy of the team's shared bench script; OUT and STAGE_DIR may be relative paths.)
#
# Builds a realistic raw VM disk image without loop devices or mounting:
#   - sparse raw file, GPT label (sfdisk), one Linux partition at 1 MiB
#   - ext4 written straight into the partition with `mkfs.ext4 -E offset=... -d STAGING`
#   - content (default: half of the disk used):
#       ~65%  a path-uniform sample of /usr (text, .so, binaries; symlinks kept)
#       ~20%  incompressible pseudo-random files (AES-CTR keystream, seeded)
#       ~15%  highly compressible syslog/access/app logs (seeded awk generator)
#   - free space stays as holes (reads as zeros)
# Env: USED_MIB (override used bytes target), STAGE_DIR (default: OUT.stage.PID)
set -euo pipefail

OUT=${1:?usage: make-disk.sh OUT.raw [SIZE_GIB] [SEED]}
SIZE_GIB=${2:-4}
SEED=${3:-1}
USED_MIB=${USED_MIB:-$(( SIZE_GIB * 1024 / 2 ))}
RAND_MIB=$(( USED_MIB * 20 / 100 ))
LOG_MIB=$(( USED_MIB * 15 / 100 ))
USR_MIB=$(( USED_MIB - RAND_MIB - LOG_MIB ))
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
STAGE=${STAGE_DIR:-"${OUT}.stage.$$"}
case "$STAGE" in /*) ;; *) STAGE="$PWD/$STAGE" ;; esac

for t in sfdisk mkfs.ext4 openssl tar awk; do
  command -v "$t" >/dev/null || { echo "missing tool: $t (apt-get install fdisk e2fsprogs openssl)" >&2; exit 1; }
done

cleanup() { rm -rf "$STAGE" "$STAGE.usrlist"; }
trap cleanup EXIT
rm -rf "$STAGE"
mkdir -p "$STAGE"/srv/data "$STAGE"/var/log/app "$STAGE"/var/log/nginx "$STAGE"/etc "$STAGE"/home/app

echo "[make-disk] size=${SIZE_GIB}GiB used~${USED_MIB}MiB (usr=${USR_MIB} rand=${RAND_MIB} logs=${LOG_MIB}) seed=${SEED}" >&2

# ---- 1. /usr sample: walk /usr in path order, take each file with a "credit"
# scheme so that ~USR_MIB of data is taken, spread evenly over the whole tree.
LIST="$STAGE.usrlist"
(
  cd /
  total=$( (find usr -xdev -type f -printf '%s\n' 2>/dev/null || true) | awk '{s+=$1} END{printf "%.0f", s}')
  (find usr -xdev \( -type f -o -type l \) -printf '%s\t%p\n' 2>/dev/null || true) \
    | LC_ALL=C sort -t$'\t' -k2 \
    | awk -F'\t' -v want=$(( USR_MIB * 1048576 )) -v total="$total" '
        BEGIN { r = want / total; if (r > 1) r = 1 }
        { credit += $1 * r; if (credit >= $1) { credit -= $1; print $2 } }' > "$LIST"
)
# tar exits 1 if a listed file vanished meanwhile; that is harmless here
( cd / && tar --ignore-failed-read --verbatim-files-from -T "$LIST" -cf - 2>/dev/null || true ) | tar -xf - -C "$STAGE"
rm -f "$LIST"
cp -a /etc/. "$STAGE/etc/" 2>/dev/null || true

# ---- 2. incompressible files (media / archives / encrypted blobs)
RANDOM=$SEED
left=$(( RAND_MIB ))
i=0
while (( left > 0 )); do
  sz=$(( 1 + RANDOM % 48 )); (( sz > left )) && sz=$left
  dd if=/dev/zero bs=1M count=$sz status=none \
    | openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass pass:"make-disk-$SEED-$i" 2>/dev/null \
    > "$STAGE/srv/data/blob-$(printf %04d $i).bin"
  left=$(( left - sz )); i=$(( i + 1 ))
done

# ---- 3. compressible logs
genlog() { # file bytes kind seed
  awk -v lim="$2" -v kind="$3" -v seed="$4" 'BEGIN {
    srand(seed); t = 1700000000; n = 0
    split("systemd sshd cron kernel nginx postgres dockerd app-worker", p, " ")
    split("Started session|Accepted publickey for deploy from 10.0.%d.%d port %d|pam_unix(cron:session): session opened for user root|CPU%d: Core temperature above threshold|connection reset by peer while reading upstream|checkpoint complete: wrote %d buffers|container %08x health_status: healthy|processed job id=%d in %d ms", m, "|")
    split("GET POST GET GET HEAD PUT", meth, " ")
    split("/api/v1/items /api/v1/users /static/app.js /healthz /login /api/v1/orders", url, " ")
    while (n < lim) {
      t += int(rand() * 3)
      if (kind == "access") {
        line = sprintf("10.0.%d.%d - - [%d] \"%s %s?id=%d HTTP/1.1\" %d %d \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
          int(rand()*4), int(rand()*255), t, meth[1+int(rand()*6)], url[1+int(rand()*6)], int(rand()*10000),
          (rand() < 0.95 ? 200 : 404), int(rand()*50000))
      } else {
        k = 1 + int(rand() * 8)
        line = sprintf("%d.%06d srv01 %s[%d]: " m[k], t, int(rand()*1000000), p[k], 1000 + int(rand()*30000),
          int(rand()*255), int(rand()*255), int(rand()*65535))
      }
      print line; n += length(line) + 1
    }
  }' > "$1"
}
lb=$(( LOG_MIB * 1048576 ))
genlog "$STAGE/var/log/syslog"          $(( lb * 30 / 100 )) sys    $(( SEED * 7 + 1 ))
genlog "$STAGE/var/log/syslog.1"        $(( lb * 20 / 100 )) sys    $(( SEED * 7 + 2 ))
genlog "$STAGE/var/log/nginx/access.log" $(( lb * 30 / 100 )) access $(( SEED * 7 + 3 ))
genlog "$STAGE/var/log/app/app.log"     $(( lb * 20 / 100 )) sys    $(( SEED * 7 + 4 ))

# ---- 4. partition table + ext4 at the partition offset (no loop device)
rm -f "$OUT"
truncate -s "${SIZE_GIB}G" "$OUT"
printf 'label: gpt\nstart=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n' \
  | sfdisk -q "$OUT" >/dev/null
read -r pstart psize < <(sfdisk -d "$OUT" | awk -F'[=,]+' '/start=/{ for(i=1;i<=NF;i++){ if($i ~ /start/) s=$(i+1); if($i ~ /size/) z=$(i+1) } print s+0, z+0; exit }')
off=$(( pstart * 512 ))
blocks=$(( psize * 512 / 4096 ))
mkfs.ext4 -q -F -b 4096 -L root \
  -E offset=$off,nodiscard,lazy_itable_init=1,lazy_journal_init=1 \
  -d "$STAGE" "$OUT" "$blocks"

alloc=$(du -B1 "$OUT" | cut -f1)
echo "[make-disk] $OUT: logical=$(stat -c %s "$OUT") allocated=$alloc partition_offset=$off blocks=$blocks" >&2
