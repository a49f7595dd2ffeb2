# bench/lib.sh - sourced by bench/run.sh: timing, idle wait, cache drop, tree RSS.
# (Adapted from the team's shared bench lib.sh so the bench runs from the repo alone.)
# Env knobs:
#   DROP_CACHES=1      drop the page cache before each timed step (root only; skipped silently otherwise)
#   BENCH_QUIET_MAX=10 max seconds to wait for the machine to be idle before a timed step
#   BENCH_QUIET_TICKS=20  "idle" = other CPU use below this many ticks (1/100 s) per 1 s window
#   GNU_TIME=/usr/bin/time

_busy_ticks() { awk '/^cpu /{ print $2+$3+$4+$7+$8+$9, $5+$6; exit }' /proc/stat; }

# wait_quiet: wait until 2 consecutive 1-second windows show few busy ticks.
# Sets QUIET_WAITED (s) and QUIET_OK (1/0).
wait_quiet() {
  local max=${BENCH_QUIET_MAX:-10} lim=${BENCH_QUIET_TICKS:-20} ok=0 w=0 a b
  QUIET_OK=0; QUIET_WAITED=0
  while (( w < max )); do
    a=$(_busy_ticks); sleep 1; b=$(_busy_ticks); w=$((w + 1))
    if (( ${b% *} - ${a% *} < lim )); then ok=$((ok + 1)); else ok=0; fi
    if (( ok >= 2 )); then QUIET_OK=1; break; fi
  done
  QUIET_WAITED=$w
}

drop_caches() {
  [ "${DROP_CACHES:-1}" = 1 ] || return 0
  sync
  { echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null || true
}

# timed CMD : run the shell string CMD in its own session under GNU time, sampling the
# summed RSS of every process of that session (the tool plus children such as qemu-nbd)
# every 0.25 s. Sets:
#   T_WALL  wall seconds         T_RSS  max RSS (kB) of the largest single process
#   T_TREE  peak summed RSS (kB) of the process tree (sampled; wrappers time/bash excluded;
#           at least T_RSS)
#   T_CPU   user+sys s of CMD    T_OTHER other busy CPU s on the machine during the run
#   T_RC    exit code (124: killed after BENCH_STEP_TIMEOUT seconds, default 600)
timed() {
  local cmd=$1 tf pf a b u s pid spid
  tf=$(mktemp "${TMPDIR:-/tmp}/.bench-time.XXXXXX")
  pf=$(mktemp "${TMPDIR:-/tmp}/.bench-rss.XXXXXX")
  echo 0 > "$pf"
  a=$(_busy_ticks)
  # setsid does not fork here (a background job is not a group leader), so $! is the session id
  # a hung tool must not stall the bench: BENCH_STEP_TIMEOUT (s) per step, then TERM (KILL 10 s later)
  setsid "${GNU_TIME:-/usr/bin/time}" -f '%e %M %U %S' -o "$tf" \
    timeout -k 10 "${BENCH_STEP_TIMEOUT:-600}" bash -c "$cmd" &
  pid=$!
  (
    peak=0
    while [ -d "/proc/$pid" ]; do
      cur=$(ps -o rss=,comm= -s "$pid" 2>/dev/null | awk '$2 != "time" && $2 != "timeout" && $2 != "bash" { s += $1 } END { print s + 0 }') || cur=0
      if (( cur > peak )); then peak=$cur; echo "$peak" > "$pf"; fi
      sleep 0.25
    done
  ) &
  spid=$!
  T_RC=0
  wait "$pid" || T_RC=$?
  wait "$spid" 2>/dev/null || true
  # anything of the step still alive in its session (e.g. an orphaned qemu-nbd) is a tool bug:
  # note it and end those processes, by pid, so the next step starts clean
  local left
  left=$(ps -o pid= -s "$pid" 2>/dev/null | xargs || true)
  if [ -n "$left" ]; then
    echo "[bench] WARNING: processes left running after the step: $(ps -o pid=,args= -p "${left// /,}" 2>/dev/null | tr '\n' ';')" >&2
    # shellcheck disable=SC2086
    kill -9 $left 2>/dev/null || true
  fi
  b=$(_busy_ticks)
  read -r T_WALL T_RSS u s < <(tail -n 1 "$tf")
  T_TREE=$(cat "$pf")
  # the sampler can miss a short peak; the largest single process's max RSS is a lower bound
  (( T_TREE >= T_RSS )) || T_TREE=$T_RSS
  rm -f "$tf" "$pf"
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN{ printf "%.2f", u + s }')
  T_OTHER=$(awk -v d=$(( ${b% *} - ${a% *} )) -v c="$T_CPU" 'BEGIN{ o = d / 100 - c; if (o < 0) o = 0; printf "%.2f", o }')
}
