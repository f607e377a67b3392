# Sourced by bench/run.sh. Start-up: the wall time of running `true` in the container.
# hyperfine -N execs each command directly (no shell in the timing). Many short rounds,
# in alternating orders, pooled: this machine's speed drifts within seconds, and
# interleaving spreads each drift over every command alike.

bench_startup() {
  echo "== 1. start-up: run 'true' in the container (${startup_runs} runs x ${startup_rounds} rounds each) =="
  local names=() cmds=()
  add() { names+=("$1"); cmds+=("$2"); }
  add node "node -e 0"  # Node's own floor: sif can't start faster than this
  works $sif_cmd true && add sif "$sif_cmd true"
  works $sif_pid_cmd true && add sif-pid "$sif_pid_cmd true"
  # --nv (driver discovery, planning, the GPU bundle) over the same run without it.
  if works $sif_nv_cmd true; then
    [ "$sif_nv_base_cmd" = "$sif_cmd" ] || add sif-nv-base "$sif_nv_base_cmd true"
    add sif-nv "$sif_nv_cmd true"
  fi
  # Where sif's time goes: everything up to the plan (SIF_DUMP_PLAN stops there; env
  # adds one exec, 1-2 ms), then the starter.
  works env SIF_DUMP_PLAN="$work/plan-again" $sif_cmd true &&
    add sif-plan-only "env SIF_DUMP_PLAN=$work/plan-again $sif_cmd true"
  # The starter reads its plan from an fd; a fresh redirection per run needs a shell,
  # whose own cost (sh-wrap minus true) is subtracted to get "starter alone".
  if works sh -c "exec $starter --plan-fd 3 3<$plan"; then
    add starter-wrapped "sh -c 'exec $starter --plan-fd 3 3<$plan'"
    add sh-wrap "sh -c 'exec true'"
    add true "true"
  fi
  works $ch_cmd true && add ch-run "$ch_cmd true"
  works $bwrap_cmd true && add bwrap "$bwrap_cmd true"

  local round i args
  timed_files=()
  for ((round = 1; round <= startup_rounds; round++)); do
    args=()
    if [ $((round % 2)) = 1 ]; then
      for i in "${!names[@]}"; do args+=("${names[i]}" "${cmds[i]}"); done
    else
      for ((i = ${#names[@]} - 1; i >= 0; i--)); do args+=("${names[i]}" "${cmds[i]}"); done
    fi
    timed "$work/startup-$round" 1 "$startup_runs" "${args[@]}"
  done
  node "$repo/bench/stats.mjs" startup "${timed_files[@]}"
}
