#!/usr/bin/env bash
# Usage: bash bench/run.sh            (as root, or as the user to measure)
# Benchmarks sif against charliecloud's ch-run, bubblewrap and Node's own start-up:
# start-up time, read throughput, the runtime's resident memory, image builds and MPI
# under SLURM. See bench/README.md.
#
# Knobs (environment): BENCH_USER (default sif-test), SIF_TEST_IMAGES (image dir),
# SIF_TEST_SLURM (the test cluster's dir), BENCH_IMAGE (an image to use instead of
# python.sqfs), BENCH_ONLY (e.g. "startup read"), BENCH_STARTUP_RUNS, BENCH_READ_RUNS,
# BENCH_BUILD_RUNS, BENCH_MPI_ROUNDS, BENCH_MPI_STARTUP_RUNS, BENCH_KEEP (keep the work dir),
# BENCH_NV_ROOT (a driver root for the --nv row; default: the host's driver, else the fake one).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$repo"
log() { echo "bench: $*" >&2; }

bench_user=${BENCH_USER:-sif-test}
image=${BENCH_IMAGE:-${SIF_TEST_IMAGES:-$repo/.cache/test-images}/python.sqfs}
image=$(realpath -m "$image")
slurm_dir=${SIF_TEST_SLURM:-$repo/.cache/test-slurm}

# --- Phase 1, as root: what only root can prepare, then drop to the bench user. -------
if [ "${1:-}" != --inner ]; then
  if [ "$(id -u)" = 0 ]; then
    # Measuring as root would hide rootless costs, and root's environment (CA bundles
    # and the like) adds ~35 ms to every Node start: prepare here, measure as the user.
    # openssh-server and sshfs: the network file system of part netfs (bench/netfs.sh
    # starts its own sshd; Debian's service is not needed).
    bash scripts/ensure-packages.sh bench charliecloud-runtime charliecloud-builders bubblewrap hyperfine \
      squashfs-tools squashfs-tools-ng time openssh-server sshfs
    # The test user, a usable /dev/fuse and a readable checkout (idempotent and quiet).
    [ -f scripts/setup-host.sh ] && bash scripts/setup-host.sh
    if [ ! -f "$image" ]; then
      log "creating $image (first time only)"
      bash scripts/base-rootfs.sh "$image"
    fi
    if ! id -u "$bench_user" >/dev/null 2>&1; then
      log "error: user $bench_user does not exist (set BENCH_USER, or run scripts/setup-host.sh)"
      exit 1
    fi
    home=$(getent passwd "$bench_user" | cut -d: -f6)
    # --nv's start-up is measured against a driver: the host's, else the fake one the
    # tests use (scripts/fake-nvidia.sh; its device nodes need root to make).
    if [[ " ${BENCH_ONLY:-startup} " == *" startup "* ]] && [ ! -e /proc/driver/nvidia/version ] && [ -z "${BENCH_NV_ROOT:-}" ]; then
      bash scripts/fake-nvidia.sh && BENCH_NV_ROOT=$repo/.cache/fake-nvidia || log "no fake driver: --nv is timed without a driver"
    fi
    # What this run starts, it stops however the run ends (Ctrl-C included), as
    # scripts/test.sh does.
    stops=()
    trap 'for s in "${stops[@]}"; do bash "$repo/scripts/$s" stop >/dev/null 2>&1 || true; done' EXIT
    # The build benchmark pulls from the test registries: start them for this run.
    if [[ " ${BENCH_ONLY:-build} " == *" build "* ]]; then
      bash scripts/test-images.sh
      stops+=(test-registry.sh)
      bash scripts/test-registry.sh start >&2 || log "the test registries did not start: the build benchmark will fail"
    fi
    # The MPI benchmark runs on the test SLURM cluster, with the MPI test images. A cluster
    # already up (the tests', another bench) is used and left running.
    if [[ " ${BENCH_ONLY:-mpi} " == *" mpi "* ]]; then
      SIF_TEST_IMAGES=$(dirname "$image") bash scripts/mpi-images.sh
      # Up means its three daemons run: `status` also wants the node idle, and a cluster
      # busy with another's job must not be restarted (a start stops it first, cancelling
      # every job) nor stopped at the end.
      if [ "$(SIF_TEST_SLURM=$slurm_dir bash scripts/test-slurm.sh status 2>/dev/null | grep -c ': running, pid ')" != 3 ]; then
        stops+=(test-slurm.sh)
        SIF_TEST_SLURM=$slurm_dir bash scripts/test-slurm.sh start >&2 || log "the test SLURM cluster did not start: the MPI benchmark will fail"
      fi
      export BENCH_SLURM_CONF=$slurm_dir/slurm.conf BENCH_MPI_IMAGES=${BENCH_MPI_IMAGES:-$(dirname "$image")}
    fi
    # Keep BENCH_* knobs; the inner run un-exports them before timing anything.
    knobs=()
    for v in ${!BENCH_@}; do knobs+=("$v=${!v}"); done
    status=0
    # Parts that run from here, as root; the rest measure in phase 2.
    user_parts=$(echo " ${BENCH_ONLY:-x} " | sed 's/ pynamic / /g; s/ netfs / /g' | tr -d ' ')
    if [ -n "$user_parts" ]; then
      runuser -u "$bench_user" -- env -i HOME="$home" USER="$bench_user" PATH=/usr/bin:/bin \
        "${knobs[@]}" BENCH_IMAGE="$image" bash "$repo/bench/run.sh" --inner || status=$?
    fi
    # Against the kernel's squashfs: its mounts need root, so this part runs from here
    # (measuring as the bench user all the same).
    if [[ " ${BENCH_ONLY:-pynamic} " == *" pynamic "* ]]; then
      echo
      BENCH_USER=$bench_user BENCH_IMAGE=$image bash "$repo/bench/pynamic.sh" || status=$?
    fi
    # The image against its tree on a network file system: dropping caches needs root.
    if [[ " ${BENCH_ONLY:-netfs} " == *" netfs "* ]]; then
      echo
      BENCH_USER=$bench_user BENCH_IMAGE=$image bash "$repo/bench/netfs.sh" || status=$?
    fi
    exit "$status"
  fi
  # Not root: measure as the calling user, in the same clean environment.
  [[ " ${BENCH_ONLY:-pynamic} " == *" pynamic "* ]] && log "pynamic: skipped (it needs root, for the kernel's mounts)"
  [[ " ${BENCH_ONLY:-netfs} " == *" netfs "* ]] && log "netfs: skipped (it needs root, to drop caches)"
  [ -f "$image" ] || { log "error: $image is missing; run as root once to create it"; exit 1; }
  [ -f "$slurm_dir/slurm.conf" ] && export BENCH_SLURM_CONF=${BENCH_SLURM_CONF:-$slurm_dir/slurm.conf}
  knobs=()
  for v in ${!BENCH_@}; do knobs+=("$v=${!v}"); done
  exec env -i HOME="$HOME" USER="$(id -un)" PATH=/usr/bin:/bin "${knobs[@]}" BENCH_IMAGE="$image" \
    bash "$repo/bench/run.sh" --inner
fi

# --- Phase 2, as the bench user in a clean environment: measure. ----------------------
only=${BENCH_ONLY:-startup read memory build mpi pynamic netfs}
startup_runs=${BENCH_STARTUP_RUNS:-6}
startup_rounds=${BENCH_STARTUP_ROUNDS:-10}
read_runs=${BENCH_READ_RUNS:-8}
keep=${BENCH_KEEP:-}
# Shell variables keep the values; the payloads and runtimes see only HOME, USER, PATH.
for v in ${!BENCH_@}; do export -n "$v"; done

# The MPI part needs none of the comparison tools (it checks its own); the others do.
tools=(unsquashfs node)
[[ " $only " =~ \ (startup|read|memory|build)\  ]] && tools+=(hyperfine ch-run bwrap)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { log "error: $tool not found (run as root to install it)"; exit 1; }
done
sif=$repo/bin/sif
starter=$repo/native/build/sif-starter
[ -x "$starter" ] && [ -d "$repo/dist" ] || { log "error: sif is not built; run: npm run build"; exit 1; }
[ -r "$image" ] || { log "error: $(id -un) cannot read $image"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sif-bench.XXXXXX")
cleanup() {
  # The MPI part's allocation (bench/mpi.sh), if it was left mid-way.
  [ -n "${mpi_job:-}" ] && SLURM_CONF=$mpi_slurm_conf scancel "$mpi_job" 2>/dev/null
  [ -n "$keep" ] && { log "kept $work"; return; }
  chmod -R u+w "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The extracted tree for bwrap and for local-disk reads, unpacked once by this user.
# Device nodes in the image cannot be made without root: unsquashfs reports those as
# non-fatal errors (exit status 2), and bwrap mounts its own /dev anyway.
rootfs=$work/rootfs
unsquashfs -q -n -no-xattrs -d "$rootfs" "$image" >/dev/null 2>&1 || [ $? = 2 ]
[ -d "$rootfs/usr" ] || { log "error: could not unpack $image"; exit 1; }
# A dumped plan lets the starter run without Node ("starter alone").
plan=$work/plan
SIF_DUMP_PLAN=$plan "$sif" exec "$image" true || log "FAILED: could not dump a launch plan (SIF_DUMP_PLAN)"

# Runtime command prefixes; each takes the payload's argv after it.
sif_cmd="$sif exec $image"
sif_pid_cmd="$sif exec --pid $image"
# --nv against a driver root other than / (BENCH_NV_ROOT: the fake driver) goes through
# env, and so does the plain run it is compared with: the same extra exec in both.
if [ -n "${BENCH_NV_ROOT:-}" ]; then
  sif_nv_base_cmd="env SIF_TEST_NVIDIA_ROOT=$BENCH_NV_ROOT $sif exec $image"
  sif_nv_cmd="env SIF_TEST_NVIDIA_ROOT=$BENCH_NV_ROOT $sif exec --nv $image"
else
  sif_nv_base_cmd=$sif_cmd
  sif_nv_cmd="$sif exec --nv $image"
fi
ch_cmd="ch-run $image --"
# A rootless bwrap over the extracted tree: roughly what ch-run sets up (user and mount
# namespaces, /proc, /dev, /tmp), with no FUSE and no image to open.
bwrap_cmd="bwrap --unshare-user --ro-bind $rootfs / --proc /proc --dev /dev --bind /tmp /tmp --"

# Prints the first lines of a failed command's output; returns its status.
# Used to leave a broken runtime out of a table instead of timing its error path.
works() {
  local out
  if out=$("$@" 2>&1 </dev/null); then return 0; fi
  log "FAILED: $* ->"
  printf '%s\n' "$out" | head -n 5 | sed 's/^/bench:    /' >&2
  return 1
}

# timed PREFIX WARMUP RUNS NAME CMD [NAME CMD]...: one hyperfine -N per command, so a
# command that fails mid-way (sif crashing under load, say) costs only its own row.
# Appends the JSON files written to the array timed_files.
timed() {
  local prefix=$1 warmup=$2 runs=$3
  shift 3
  while [ $# -gt 0 ]; do
    if hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$prefix-$1.json" \
      -n "$1" "$2" >/dev/null 2>"$work/hyperfine.err"; then
      timed_files+=("$prefix-$1.json")
    else
      log "FAILED while timing $1 ($2):"
      grep -v '^ *$' "$work/hyperfine.err" | tail -n 5 | sed 's/^/bench:    /' >&2
    fi
    shift 2
  done
}

echo "sif benchmarks: $(date -u +%FT%TZ), $(nproc) CPUs, user $(id -un), image $image ($(du -h "$image" | cut -f1))"
echo "host load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
. "$repo/bench/startup.sh"
. "$repo/bench/read.sh"
. "$repo/bench/memory.sh"
. "$repo/bench/build.sh"
. "$repo/bench/mpi.sh"
for part in $only; do
  # Run from phase 1, as root (the kernel's mounts).
  [ "$part" = pynamic ] || [ "$part" = netfs ] && continue
  echo
  "bench_$part"
done
