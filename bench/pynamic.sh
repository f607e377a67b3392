#!/usr/bin/env bash
# Usage: bash bench/pynamic.sh        (as root; also run by bench/run.sh, part "pynamic")
# Image reads against the kernel's own squashfs driver, in one run: a Pynamic-like
# Python start-up (BENCH_PYNAMIC_MODULES generated modules of 20 functions, precompiled,
# imported by the image's python3), a tar of /usr with 1 and 2 readers, and one
# reader of one large file. Runtimes:
# kernel (the image loop-mounted by root, a fresh mount per run, entered with bwrap as
# the user), sif exec, ch-run (squashfuse) and local (bwrap over the image's tree on
# local disk). Every payload times itself inside the container, so mounting and
# container start-up are not counted. Root is needed for the kernel's mounts only;
# everything else runs as BENCH_USER. See bench/README.md.
#
# sif-reuse (the import only): a second sif exec of one job on the node, within the
# window in which the first one's container waits for the job's next step
# (--share-linger): its import-first is the figure, against sif's import-repeat.
#
# BENCH_STARTERS="name=/path/to/sif-starter ...": extra rows running other builds of the
# starter on plans dumped by this sif (to compare builds of the read path in one run).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
why_root="it loop-mounts the image"
. "$repo/bench/as-root.sh"
runs=${BENCH_PYNAMIC_RUNS:-5}
modules=${BENCH_PYNAMIC_MODULES:-1000}
starters=${BENCH_STARTERS:-}
keep=${BENCH_KEEP:-}
need_tools bwrap unsquashfs mksquashfs node runuser
need_image

work=$(mktemp -d "${TMPDIR:-/tmp}/sif-pynamic.XXXXXX")
chmod 755 "$work"
mnt=$work/mnt
mkdir "$mnt"
cleanup() {
  mountpoint -q "$mnt" && umount "$mnt"
  if [ -n "$keep" ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- The image: the python image's tree plus /pynamic, as plain squashfs. ------------
tree=$work/tree
img=$work/pynamic.sqfs
bash "$repo/bench/pynamic-image.sh" "$image" "$work" "$modules"
echo "pynamic: $(date -u +%FT%TZ), $(nproc) CPUs, $modules modules, image $(du -h "$img" | cut -f1), $runs runs after 1 warm-up"
echo "host load before start: $(cut -d' ' -f1-3 /proc/loadavg)"

bwrap_in() { echo "bwrap --unshare-user --ro-bind $1 / --proc /proc --dev /dev --bind /tmp /tmp --"; }

# Runtime names and how each runs a payload (its argv follows).
names=(kernel sif sif-store sif-nora sif-reuse local)
declare -A prefix=([sif]="$repo/bin/sif exec $img" [sif-store]="$repo/bin/sif exec --store-ahead $img"
  [sif-nora]="$repo/bin/sif exec --no-read-ahead $img" [local]="$(bwrap_in "$tree")")
if command -v ch-run >/dev/null; then names+=(ch-run); prefix[ch-run]="ch-run $img --"; fi
payloads=("sh /pynamic/import.sh" "sh /pynamic/tar.sh 1" "sh /pynamic/tar.sh 2" "sh /pynamic/stream.sh")
# BENCH_PYNAMIC_PAYLOADS="import tar1 tar2 stream": only these payloads.
if [ -n "${BENCH_PYNAMIC_PAYLOADS:-}" ]; then
  kept=()
  for p in "${payloads[@]}"; do
    key=${p#sh /pynamic/}; key=${key%.sh*}${p##*.sh}; key=${key// /}
    [[ " $BENCH_PYNAMIC_PAYLOADS " == *" $key "* ]] && kept+=("$p")
  done
  payloads=("${kept[@]}")
fi
# Other starters run on plans this sif dumps, one per payload.
mkdir "$work/plans"
chown "$user" "$work/plans"
for p in "${!payloads[@]}"; do
  [ -n "$starters" ] && as_user env SIF_DUMP_PLAN="$work/plans/$p" "$repo/bin/sif" exec "$img" ${payloads[p]}
done
for s in $starters; do names+=("${s%%=*}"); done
# BENCH_PYNAMIC_ONLY="kernel base ...": only these rows (fewer rows, more runs).
if [ -n "${BENCH_PYNAMIC_ONLY:-}" ]; then
  kept=()
  for n in "${names[@]}"; do [[ " $BENCH_PYNAMIC_ONLY " == *" $n "* ]] && kept+=("$n"); done
  names=("${kept[@]}")
fi

# run NAME PAYLOAD-INDEX: prints the payload's lines, prefixed with the runtime's name.
run() {
  local name=$1 p=$2 out status=0
  case $name in
    kernel)
      mount -t squashfs -o loop,ro "$img" "$mnt"
      out=$(as_user $(bwrap_in "$mnt") ${payloads[p]} </dev/null 2>"$work/err") || status=$?
      umount "$mnt" ;;
    sif | sif-store | sif-nora | local | ch-run) out=$(as_user ${prefix[$name]} ${payloads[p]} </dev/null 2>"$work/err") || status=$? ;;
    sif-reuse)
      [ "$p" = 0 ] || return 0
      # SLURM_JOB_ID is what sif reads to let a container outlive its step, as a batch
      # script's sif exec has it; one job per run, so that its first exec makes the
      # container (not timed) and the second joins it.
      local job="pynamic-$$-$RANDOM$RANDOM"
      if as_user env SLURM_JOB_ID="$job" ${prefix[sif]} ${payloads[p]} </dev/null >/dev/null 2>"$work/err"; then
        out=$(as_user env SLURM_JOB_ID="$job" ${prefix[sif]} ${payloads[p]} </dev/null 2>"$work/err") || status=$?
      else
        status=$?
      fi ;;
    *)
      local s
      for s in $starters; do [ "${s%%=*}" = "$name" ] && break; done
      out=$(as_user sh -c "exec ${s#*=} --plan-fd 3 3<$work/plans/$p" </dev/null 2>"$work/err") || status=$? ;;
  esac
  if [ "$status" != 0 ]; then
    log "FAILED: $name ${payloads[p]}: exit status $status"
    head -n 4 "$work/err" | sed 's/^/bench:    /' >&2
    return 0
  fi
  printf '%s\n' "$out" | sed "s/^/$name /"
}

run_rotated pynamic
