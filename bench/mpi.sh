# Sourced by bench/run.sh. MPI on one node of the test SLURM cluster (scripts/test-slurm.sh,
# started by run.sh as root), with the images of scripts/mpi-images.sh:
#   1. ping-pong between 2 ranks: 8 B latency, 1 MiB and 4 MiB bandwidth, for the host-built
#      program under srun (native), in sif with the image's own Open MPI (hybrid) and in
#      sif with the host's Open MPI bound in (bind, --mpi); rounds alternate the order.
#   2. step start-up: `srun -n 2 true` against the same with sif exec, sif exec on the
#      bare image with and without --mpi, and ch-run (when installed); with
#      BENCH_MPI_BASE, the two bare-image rows again with that other sif (a build of
#      the commit before a change: before and after in one run).
#   3. resident memory of sif's own processes on the node while 2 ranks sleep, with one
#      container per node and, when sif has --no-share, one per rank.
# Every step runs in one allocation of 2 CPUs, taken first: a step then never queues
# behind other jobs, so what is timed is the step, not the scheduler.
# Knobs: BENCH_SLURM_CONF (run.sh sets it), BENCH_MPI_IMAGES (image directory),
# BENCH_MPI_ROUNDS (ping-pong rounds, default 5), BENCH_MPI_STARTUP_RUNS (default 10),
# BENCH_MPI_BASE (another sif's bin/sif, for the before rows).

mpi_rounds=${BENCH_MPI_ROUNDS:-5}
mpi_startup_runs=${BENCH_MPI_STARTUP_RUNS:-10}
mpi_images=${BENCH_MPI_IMAGES:-$(dirname "$image")}
mpi_slurm_conf=${BENCH_SLURM_CONF:-}
mpi_job= # the allocation; run.sh's cleanup cancels it however the run ends

# A step of the allocation, with a time limit so that a hung one ends on its own.
mpi_srun() { srun --jobid="$mpi_job" --time=3 --kill-on-bad-exit=1 "$@"; }

# pingpong_once NAME ROUND [ENV...] -- CMD...: one run of CMD in 2 ranks (PMIx); appends
# "NAME ROUND BYTES LATENCY_US MBPS" per message size to $work/mpi-pingpong.txt. A probe
# (20 round trips) gets 60 s: one that hangs on 4 MiB should not wait for the step's limit.
pingpong_once() {
  local name=$1 round=$2 envs=() out limit=200
  shift 2
  [ "$round" = probe ] && limit=60
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  if ! out=$(env "${envs[@]}" timeout "$limit" srun --jobid="$mpi_job" --time=3 --kill-on-bad-exit=1 \
      --mpi=pmix -n 2 "$@" 2>"$work/mpi-err.txt") || ! grep -qx 'pingpong ok' <<<"$out"; then
    log "FAILED: $name (round $round): $* ->"
    grep -v '^ *$' "$work/mpi-err.txt" | tail -n 5 | sed 's/^/bench:    /' >&2
    return 1
  fi
  awk -v n="$name" -v r="$round" '/^pingpong bytes=/ {
      for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print n, r, v["bytes"], v["latency_us"], v["bandwidth_MBps"] }' <<<"$out" >>"$work/mpi-pingpong.txt"
}

# mpi_memory_sample PID...: "rss_kb pss_kb procs threads" summed over the processes named
# sif-starter or sif-prefetch in the trees of the given task PIDs (each task is the
# process that was sif: the starter, FUSE server and supervisor, and its read-ahead
# process; with a shared container, one of them serves both ranks). The sample() of bench/memory.sh, over several roots.
mpi_memory_sample() {
  ps -e -o pid=,ppid=,comm= | awk -v roots=" $* " '
    function field(file, key,   line, v) {
      v = 0
      while ((getline line < file) > 0) if (index(line, key) == 1) { split(line, f, " "); v = f[2] }
      close(file)
      return v
    }
    { parent[$1] = $2; comm[$1] = $3 }
    END {
      for (p in parent) {
        q = p
        while (index(roots, " " q " ") == 0 && (q in parent) && q > 1) q = parent[q]
        if (index(roots, " " q " ") == 0 || (comm[p] != "sif-starter" && comm[p] != "sif-prefetch")) continue
        rss += field("/proc/" p "/status", "VmRSS:"); threads += field("/proc/" p "/status", "Threads:")
        pss += field("/proc/" p "/smaps_rollup", "Pss:"); procs++
      }
      print rss + 0, pss + 0, procs + 0, threads + 0
    }'
}

# mpi_memory NAME SIF_OPTION...: 2 ranks of `sif exec OPTIONS IMG sleep 4` in one step,
# each saying its task pid first; 10 samples, 0.2 s apart, once both payloads run, into
# $work/mpi-memory.txt (the format of stats.mjs memory). With --share-linger 0: a
# container the steps before left waiting would serve the ranks from outside their trees.
mpi_memory() {
  local name=$1 pid pids s n=0
  shift
  "$sif" exec --help 2>/dev/null | grep -q -- '--share-linger' && set -- --share-linger 0 "$@"
  mpi_srun -n 2 sh -c 'echo "task=$$"; exec "$@"' sh "$sif" exec "$@" "$image" sh -c 'echo up; exec sleep 4' \
    >"$work/mpi-mem-out.txt" 2>"$work/mpi-mem-err.txt" </dev/null &
  pid=$!
  for _ in $(seq 200); do
    [ "$(grep -cx up "$work/mpi-mem-out.txt")" = 2 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  pids=$(sed -n 's/^task=//p' "$work/mpi-mem-out.txt" | tr '\n' ' ')
  sleep 0.5 # past the start-up transients (read-ahead, Node's memory keeper)
  while kill -0 "$pid" 2>/dev/null && [ $n -lt 10 ]; do
    # shellcheck disable=SC2086 # one pid per word
    s=$(mpi_memory_sample $pids)
    echo "$name idle $s" >>"$work/mpi-memory.txt"
    n=$((n + 1))
    sleep 0.2
  done
  wait "$pid" || log "FAILED: $name exited with status $?: $(tail -n 3 "$work/mpi-mem-err.txt")"
  [ $n -gt 0 ] || log "FAILED: no memory samples for $name"
}

bench_mpi() {
  echo "== 5. MPI on one node of the test SLURM cluster: 2 ranks =="
  local -x SLURM_CONF=$mpi_slurm_conf
  if [ -z "$mpi_slurm_conf" ] || ! timeout 10 sinfo -h >/dev/null 2>&1; then
    log "FAILED: no test SLURM cluster (BENCH_SLURM_CONF='$mpi_slurm_conf'); run bench/run.sh as root"
    return 0
  fi
  for tool in srun salloc mpicc; do
    command -v "$tool" >/dev/null || { log "FAILED: $tool not found; run bench/run.sh as root"; return 0; }
  done
  mpi_job=$(timeout 900 salloc --no-shell -n 2 --time=30 -J sif-bench-mpi 2>&1 | sed -n 's/.*Granted job allocation \([0-9]*\).*/\1/p')
  [ -n "$mpi_job" ] || { log "FAILED: no allocation of 2 CPUs (salloc)"; return 0; }
  echo "allocation: job $mpi_job; host load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local hybrid=$mpi_images/mpi-openmpi.sqfs bare=$mpi_images/mpi-bare.sqfs native=$work/pingpong round i
  # The same source and flags as the images' /opt/mpi/pingpong (scripts/mpi-images.sh).
  mpicc -O2 -Wall -Wextra -Werror -o "$native" "$repo/test/fixtures/mpi/pingpong.c"
  : >"$work/mpi-pingpong.txt"

  # Each configuration as users would run it: Open MPI's defaults, --check-ends so that the
  # times are the transport's. One that fails with the defaults (ranks in separate user
  # namespaces cannot use CMA) is measured again without a single-copy mechanism, beside
  # native without one, so that its ratio compares like with like.
  local names=(native sif-hybrid sif-bind) cmds=("$native" "$sif exec $hybrid /opt/mpi/pingpong" "$sif exec --mpi $bare /opt/mpi/pingpong")
  local nocma=OMPI_MCA_btl_vader_single_copy_mechanism=none ok_names=() ok_cmds=() need_nocma=false
  for i in "${!names[@]}"; do
    # shellcheck disable=SC2086 # the command is words
    if pingpong_once "${names[i]}" probe -- ${cmds[i]} 20 --check-ends; then
      ok_names+=("${names[i]}") ok_cmds+=("${cmds[i]}")
    else
      need_nocma=true
      # shellcheck disable=SC2086
      pingpong_once "${names[i]}-nocma" probe "$nocma" -- ${cmds[i]} 20 --check-ends &&
        ok_names+=("${names[i]}-nocma") ok_cmds+=("$nocma ${cmds[i]}")
    fi
  done
  if $need_nocma; then ok_names+=(native-nocma) ok_cmds+=("$nocma $native"); fi
  : >"$work/mpi-pingpong.txt"
  echo "ping-pong (${mpi_rounds} rounds, alternating order; each: 1000 x 8 B, 100 x 1 MiB, 50 x 4 MiB)"
  for ((round = 1; round <= mpi_rounds; round++)); do
    local order=("${!ok_names[@]}")
    [ $((round % 2)) = 0 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | sort -rn)
    for i in "${order[@]}"; do
      local words=(${ok_cmds[i]}) envs=()
      while [[ ${words[0]} == *=* ]]; do envs+=("${words[0]}"); words=("${words[@]:1}"); done
      pingpong_once "${ok_names[i]}" "$round" "${envs[@]}" -- "${words[@]}" --check-ends || true
    done
  done
  node "$repo/bench/stats.mjs" mpi-pingpong "$work/mpi-pingpong.txt"

  echo
  echo "step start-up: srun -n 2 in the allocation (${mpi_startup_runs} runs each after 1 warm-up, in alternating orders; image $(basename "$image"))"
  local s_names=() s_cmds=() srun_cmd="srun --jobid=$mpi_job --time=3 -n 2"
  s_names+=(srun-true) s_cmds+=("$srun_cmd true")
  works $srun_cmd $sif_cmd true && s_names+=(srun-sif) s_cmds+=("$srun_cmd $sif_cmd true")
  # srun-sif joins the container an earlier srun-sif step left waiting (--share-linger);
  # this one makes a container each step, as every step did before.
  if "$sif" exec --help 2>/dev/null | grep -q -- '--share-linger'; then
    works $srun_cmd $sif exec --share-linger 0 "$image" true &&
      s_names+=(srun-sif-fresh) s_cmds+=("$srun_cmd $sif exec --share-linger 0 $image true")
  fi
  works $srun_cmd $sif exec "$bare" true && s_names+=(srun-sif-bare) s_cmds+=("$srun_cmd $sif exec $bare true")
  works $srun_cmd $sif exec --mpi "$bare" true && s_names+=(srun-sif-mpi) s_cmds+=("$srun_cmd $sif exec --mpi $bare true")
  if [ -n "${BENCH_MPI_BASE:-}" ]; then
    works $srun_cmd "$BENCH_MPI_BASE" exec "$bare" true && s_names+=(base-srun-sif-bare) s_cmds+=("$srun_cmd $BENCH_MPI_BASE exec $bare true")
    works $srun_cmd "$BENCH_MPI_BASE" exec --mpi "$bare" true && s_names+=(base-srun-sif-mpi) s_cmds+=("$srun_cmd $BENCH_MPI_BASE exec --mpi $bare true")
  fi
  if command -v ch-run >/dev/null; then
    works $srun_cmd $ch_cmd true && s_names+=(srun-ch-run) s_cmds+=("$srun_cmd $ch_cmd true")
  else
    echo "  (ch-run is not installed: no Charliecloud row)"
  fi
  # A step takes a tenth of a second or more: bash's clock around each run is precise
  # enough, and needs no hyperfine. One run at a time, the order reversed every run.
  : >"$work/mpi-startup.txt"
  local run t0 t1
  for ((run = 0; run <= mpi_startup_runs; run++)); do
    local order=("${!s_names[@]}")
    [ $((run % 2)) = 1 ] && mapfile -t order < <(printf '%s\n' "${order[@]}" | sort -rn)
    for i in "${order[@]}"; do
      t0=$EPOCHREALTIME
      # shellcheck disable=SC2086 # the command is words
      ${s_cmds[i]} >/dev/null 2>&1 </dev/null || { log "FAILED: ${s_cmds[i]}"; continue; }
      t1=$EPOCHREALTIME
      [ $run -gt 0 ] && echo "${s_names[i]} $t0 $t1" >>"$work/mpi-startup.txt" # run 0 warms up
    done
  done
  node "$repo/bench/stats.mjs" mpi-startup "$work/mpi-startup.txt"

  echo
  echo "memory of sif's own processes on the node, 2 ranks of 'sleep 4' in one step"
  : >"$work/mpi-memory.txt"
  mpi_memory sif
  if "$sif" exec --help 2>/dev/null | grep -q -- '--no-share'; then
    mpi_memory sif-no-share --no-share
  else
    echo "  (sif exec has no --no-share: one configuration only)"
  fi
  node "$repo/bench/stats.mjs" mpi-memory "$work/mpi-memory.txt"
  echo "host load after: $(cut -d' ' -f1-3 /proc/loadavg)"
  scancel "$mpi_job" 2>/dev/null || true
  mpi_job=
}
