#!/usr/bin/env bash
# Usage: bash bench/fuse-requests.sh     (as root: perf's system-wide tracepoints)
# Counts the FUSE requests sif's server is sent, by opcode and by the process that caused
# them, for the pynamic import of bench/pynamic.sh: a first import in a fresh container,
# then a repeat in a second python3 (warm caches, where the kernel's squashfs sends
# nothing anywhere). Read with the kernel's fuse:fuse_request_send tracepoint, so the
# starter needs no counters of its own. Not a timing: counts are the same on a busy
# machine. Needs perf (Debian: linux-perf) and a kernel with FUSE tracepoints (6.x).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
log_name=fuse-requests why_root="perf records the whole system"
. "$repo/bench/as-root.sh"
modules=${BENCH_PYNAMIC_MODULES:-1000}
command -v perf >/dev/null || { log "error: perf not found (Debian: apt-get install linux-perf)"; exit 1; }
[[ "$(perf list 'fuse:*' 2>/dev/null)" == *fuse:fuse_request_send* ]] ||
  { log "error: this kernel has no fuse:fuse_request_send tracepoint"; exit 1; }
need_image

work=$(mktemp -d "${TMPDIR:-/tmp}/sif-fuse-requests.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
bash "$repo/bench/pynamic-image.sh" "$image" "$work" "$modules"
# The phases are told apart by the time between them. The payload's parent is the starter, whose FUSE_INIT names the connection of this
# mount (other containers may be running).
cat >"$work/phases.sh" <<'EOF'
echo $PPID
python3 /pynamic/import.py >/dev/null
sleep 1
python3 /pynamic/import.py >/dev/null
EOF
chmod 644 "$work/phases.sh"

perf record -q -e fuse:fuse_request_send -a -o "$work/perf.data" -- \
  runuser -u "$user" -- env -i HOME="$home" USER="$user" PATH=/usr/bin:/bin \
  "$repo/bin/sif" exec -B "$work/phases.sh:/phases.sh" "$work/pynamic.sqfs" sh /phases.sh >"$work/starter-pid"
starter=$(cat "$work/starter-pid")
perf script -i "$work/perf.data" 2>/dev/null >"$work/events"
conn=$(awk -v pid="$starter" '$2 == pid && /FUSE_INIT/ { for (i = 1; i < NF; i++) if ($i == "connection") { print $(i + 1); exit } }' "$work/events")
[ -n "$conn" ] || { log "error: no FUSE_INIT from the starter (pid $starter) was recorded"; exit 1; }
echo "FUSE requests to sif's server, $modules modules (phase: start = container start-up and first import, repeat = second python3):"
awk -v conn="connection $conn " '
  index($0, conn) { t = $4 + 0; if (prev && t - prev > 0.5) phase = "repeat"; else if (!phase) phase = "start"; prev = t
    if (match($0, /\(FUSE_[A-Z_]+\)/)) n[phase " " $1 " " substr($0, RSTART + 1, RLENGTH - 2)]++ }
  END { for (k in n) print "  " k, n[k] }' "$work/events" | sort -k1,1r -k2,2 -k3,3
