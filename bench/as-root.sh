# Sourced by the parts that run on their own, as root (pynamic.sh, netfs.sh,
# fuse-requests.sh), after setting repo, and why_root (what root is needed for):
# who is measured, on which image, and how to run as that user in a clean
# environment, and the rotated runs of pynamic.sh and netfs.sh. log prefixes its
# lines with log_name (default: bench).
log() { echo "${log_name:-bench}: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "error: bench/$(basename "$0") must run as root ($why_root)"; exit 1; }

user=${BENCH_USER:-sif-test}
image=$(realpath -m "${BENCH_IMAGE:-${SIF_TEST_IMAGES:-$repo/.cache/test-images}/python.sqfs}")
home=$(getent passwd "$user" | cut -d: -f6)

# need_tools TOOL...: each on PATH, else an error naming it.
need_tools() {
  local tool
  for tool; do
    command -v "$tool" >/dev/null || { log "error: $tool not found (bench/run.sh as root installs it)"; exit 1; }
  done
}
need_image() { [ -r "$image" ] || { log "error: $image is missing (bench/run.sh as root creates it)"; exit 1; }; }
as_user() { runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin "$@"; }

# run_rotated STATS_MODE: every row of names on every payload, runs times after one
# warm-up, in an order rotated each run (a drift of the machine's speed then hits every
# row alike), run NAME PAYLOAD-INDEX printing each sample line; then the statistics.
run_rotated() {
  local samples=$work/samples.txt r p i name
  : >"$samples"
  for ((r = 0; r <= runs; r++)); do
    for p in "${!payloads[@]}"; do
      for ((i = 0; i < ${#names[@]}; i++)); do
        name=${names[(i + r) % ${#names[@]}]}
        if [ "$r" = 0 ]; then run "$name" "$p" >/dev/null; else run "$name" "$p" >>"$samples"; fi
      done
    done
  done
  node "$repo/bench/stats.mjs" "$1" "$samples"
}
