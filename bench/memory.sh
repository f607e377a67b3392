# Sourced by bench/run.sh. Resident memory of the runtime itself while a payload runs:
# the processes in the launched tree whose command is the runtime's (sif-starter: the
# FUSE server and, with --pid, the init; sif-prefetch: the read-ahead process, which
# lives with the server; ch-run: itself, serving FUSE in-process), not the payload. Idle (sleep) and under the two-reader tar load of bench_read.

# Prints "rss_kb pss_kb procs threads payload_up" for ROOT's process tree: the first four
# summed over processes named OWN (names separated by commas), payload_up=1 when a
# process named PAYLOAD is in it.
# One ps and one awk per sample, so sampling barely loads the machine.
sample() {
  ps -e -o pid=,ppid=,comm= | awk -v root="$1" -v own="$2" -v payload="$3" '
    function field(file, key,   line, v) {
      v = 0
      while ((getline line < file) > 0) if (index(line, key) == 1) { split(line, f, " "); v = f[2] }
      close(file)
      return v
    }
    BEGIN { n = split(own, names, ","); for (i = 1; i <= n; i++) owned[names[i]] = 1 }
    { parent[$1] = $2; comm[$1] = $3 }
    END {
      for (p in parent) {
        q = p
        while (q != root && (q in parent) && q > 1) q = parent[q]
        if (q != root) continue
        if (comm[p] == payload) up = 1
        if (!(comm[p] in owned)) continue
        rss += field("/proc/" p "/status", "VmRSS:"); threads += field("/proc/" p "/status", "Threads:")
        pss += field("/proc/" p "/smaps_rollup", "Pss:"); procs++
      }
      print rss + 0, pss + 0, procs + 0, threads + 0, up + 0
    }'
}

# measure NAME OWN PHASE PAYLOAD_COMM CMD...: runs CMD in the background and appends
# one line per sample taken while PAYLOAD_COMM runs to $work/memory.txt.
measure() {
  local name=$1 own=$2 phase=$3 payload=$4 pid s n=0
  shift 4
  "$@" >/dev/null 2>&1 </dev/null &
  pid=$!
  # Wait (up to 10 s) for the payload to start, so set-up transients are not counted.
  for _ in $(seq 100); do
    s=$(sample "$pid" "$own" "$payload")
    [ "${s##* }" = 1 ] && break
    sleep 0.1
  done
  # Idle: a few samples over a second. Load: every 0.1 s until the container exits.
  while kill -0 "$pid" 2>/dev/null; do
    s=$(sample "$pid" "$own" "$payload")
    echo "$name $phase ${s% *}" >>"$work/memory.txt"
    n=$((n + 1))
    [ "$phase" = idle ] && [ $n -ge 5 ] && break
    sleep 0.1
  done
  wait "$pid" || log "FAILED: $name ($phase) exited with status $?; its samples up to then are kept"
  [ $n -gt 0 ] || log "FAILED: no samples for $name ($phase): the payload never ran"
}

bench_memory() {
  echo "== 3. resident memory of the runtime's own processes (payload excluded) =="
  : >"$work/memory.txt"
  local load
  # Three passes of the two readers, so the load lasts long enough to sample.
  load="for k in 1 2 3; do $(reader_script 2); done"
  measure sif sif-starter,sif-prefetch idle sleep $sif_cmd sleep 3
  measure sif sif-starter,sif-prefetch load tar $sif_cmd sh -c "$load"
  if works $sif_pid_cmd true; then
    measure sif-pid sif-starter,sif-prefetch idle sleep $sif_pid_cmd sleep 3
    measure sif-pid sif-starter,sif-prefetch load tar $sif_pid_cmd sh -c "$load"
  fi
  measure ch-run ch-run idle sleep $ch_cmd sleep 3
  measure ch-run ch-run load tar $ch_cmd sh -c "$load"
  node "$repo/bench/stats.mjs" memory "$work/memory.txt"
}
