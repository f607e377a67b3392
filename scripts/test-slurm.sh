#!/usr/bin/env bash
# Usage: scripts/test-slurm.sh start|stop|status      (start and stop as root)
# A real one-node SLURM cluster for the MPI tests: munged, slurmctld and slurmd from
# Debian's packages, with their own key, config, state and logs under
# ${SIF_TEST_SLURM:-<repo>/.cache/test-slurm}. Nothing is written to /etc: clients find
# the cluster through SLURM_CONF=<dir>/slurm.conf (env.json says it; test/support/slurm.ts
# reads it). Jobs run as whoever calls srun (the tests: the unprivileged sif-test).
# `start` is idempotent (quick when all is up); `stop` cancels the jobs and leaves no
# process behind: every process started here carries SIF_TEST_SLURM=<dir> in its
# environment (slurmd passes it on to slurmstepd), which is how stop finds them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

log() { echo "test-slurm: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Canonical: the daemons are known by this path in their environment, and a checkout
# whose .cache links to another's must find the cluster that one started, not start
# a second over the same files (munged --force takes over the socket).
dir=$(realpath -m "${SIF_TEST_SLURM:-$repo/.cache/test-slurm}")
conf=$dir/slurm.conf
socket=$dir/munge/socket
# Not the default ports: a site's own SLURM on this machine keeps 6817/6818.
ctld_port=6917 slurmd_port=6918
export SLURM_CONF=$conf

running_pid() { # NAME: the pid in NAME.pid if that process is alive and one of ours
  local pid
  pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qzxF "SIF_TEST_SLURM=$dir" "/proc/$pid/environ" 2>/dev/null && echo "$pid"
}

# Every live process started from $dir (daemons, slurmstepd), found by the marker.
our_pids() {
  grep -lzxF "SIF_TEST_SLURM=$dir" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$" || true
}

munge_ok() { munge -n --socket="$socket" 2>/dev/null | unmunge --socket="$socket" >/dev/null 2>&1; }
ctld_ok() { timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_state() { timeout 5 sinfo -h -N -o %T 2>/dev/null | head -n1; }
node_ok() { case $(node_state) in idle | mixed | allocated | completing) return 0 ;; esac; return 1; }

cmd_status() {
  local bad=0 name pid
  for name in munged slurmctld slurmd; do
    if pid=$(running_pid "$name"); then echo "$name: running, pid $pid"; else echo "$name: not running"; bad=1; fi
  done
  if [ $bad = 0 ]; then
    munge_ok || { echo "munged: does not answer on $socket"; bad=1; }
    ctld_ok || { echo "slurmctld: scontrol ping does not answer UP"; bad=1; }
    node_ok || { echo "slurmd: node state is '$(node_state)', not idle"; bad=1; }
  fi
  [ $bad = 0 ] && echo "ready: SLURM_CONF=$conf"
  return $bad
}

# Cancels the jobs, then ends the daemons (slurmd last, so steps are told to end) and
# anything of ours still alive (TERM, then KILL).
cmd_stop() {
  local pid i left
  if [ -f "$conf" ] && running_pid slurmctld >/dev/null; then
    timeout 10 scancel --quiet --full --state=PENDING,RUNNING,SUSPENDED --user=ALL 2>/dev/null ||
      squeue -h -o %i 2>/dev/null | xargs -r timeout 10 scancel --quiet 2>/dev/null || true
    for i in $(seq 100); do
      [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  for name in slurmctld slurmd munged; do
    if pid=$(running_pid "$name"); then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for i in $(seq 50); do
    left=$(our_pids)
    [ -z "$left" ] && break
    sleep 0.1
  done
  left=$(our_pids)
  if [ -n "$left" ]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $left 2>/dev/null || true
    log "killed what did not end on SIGTERM: $(echo $left)"
  fi
  rm -f "$dir"/{munged,slurmctld,slurmd}.pid
}

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root; jobs run as the caller)"; }

case ${1:-} in
  status)
    cmd_status
    exit $?
    ;;
  stop)
    need_root
    [ -d "$dir" ] || exit 0
    exec 9>"$dir/.lock"
    flock 9
    cmd_stop
    exit 0
    ;;
  start) ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac

# ---- start -------------------------------------------------------------------------
need_root
# libpmix-dev: Debian's mpi_pmix plugin (slurm-wlm-basic-plugins) dlopens the unversioned
# .../pmix2/lib/libpmix.so, which only the -dev package ships; without it `srun
# --mpi=list` has no pmix.
bash "$(dirname "$0")/ensure-packages.sh" test-slurm slurm-wlm munge libpmix-dev \
  openmpi-bin libopenmpi-dev mpich libmpich-dev
mkdir -p "$dir"
exec 9>"$dir/.lock" # one start or stop at a time
flock 9

node=$(hostname -s)
# slurmd's step sockets (<spool>/<node>_<job>.<step>) must fit in sun_path (108 bytes,
# with room for job and step numbers).
[ $((${#dir} + ${#node})) -le 84 ] ||
  die "$dir is too long for slurmd's sockets ($dir/d/${node}_<job>.<step> must fit in 108 bytes): set SIF_TEST_SLURM to a shorter directory"
cpus=$(nproc)
mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
user=$(id -un)

# Short names under $dir (socket path length); all readable and traversable by the job
# user, who needs the config, the munge socket and the PMIx server's directory in the
# slurmd spool.
mkdir -p "$dir"/{munge,ctld,d,log}
chmod 0755 "$dir" "$dir/munge" "$dir/d" "$dir/log"
chmod 0700 "$dir/ctld"
if [ ! -s "$dir/munge/key" ]; then
  dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/key.new" status=none
  chmod 0400 "$dir/munge/key.new"
  mv "$dir/munge/key.new" "$dir/munge/key"
fi

cat >"$conf.new" <<EOF
# Written by scripts/test-slurm.sh: a one-node cluster for sif's MPI tests.
ClusterName=siftest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=5
MinJobAge=30
MessageTimeout=20
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
chmod 0644 "$conf.new"
if cmp -s "$conf.new" "$conf"; then
  rm -f "$conf.new"
else
  cmd_stop # the daemons run an older config (or none)
  mv "$conf.new" "$conf"
fi

# Starts NAME in the foreground of its own session, marked and logged, and waits for
# READY (a command) to succeed. setsid execs without forking here (the script is no
# process group leader), so $! is the daemon's own pid.
start_one() { # NAME READY COMMAND...
  local name=$1 ready=$2 pid i
  shift 2
  if running_pid "$name" >/dev/null; then return 0; fi
  SIF_TEST_SLURM=$dir setsid "$@" </dev/null >>"$dir/log/$name.out" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$dir/$name.pid"
  for i in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || break
    if $ready; then log "started $name (pid $pid)"; return 0; fi
    sleep 0.1
  done
  log "error: $name did not start; last lines of its logs in $dir/log:"
  tail -n 20 "$dir/log/$name.out" "$dir/log/$name.log" 2>/dev/null >&2 || true
  cmd_stop
  exit 1
}

started=$SECONDS
start_one munged munge_ok munged --foreground --force --socket="$socket" \
  --key-file="$dir/munge/key" --pid-file="$dir/munge/pid" --log-file="$dir/log/munged.log" \
  --seed-file="$dir/munge/seed"
start_one slurmctld ctld_ok slurmctld -D -f "$conf"
# Ready when the node takes jobs; one left DOWN or DRAINED by an earlier run (a killed
# slurmd) is resumed once it has registered.
slurmd_ready() {
  node_ok && return 0
  case $(node_state) in
    down | down~ | drained | draining | drain*) timeout 5 scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
  esac
  return 1
}
start_one slurmd slurmd_ready slurmd -D -f "$conf"

node --input-type=module - "$dir" "$conf" "$socket" "$node" "$cpus" <<'EOF'
import { renameSync, writeFileSync } from 'node:fs';
const [dir, conf, mungeSocket, node, cpus] = process.argv.slice(2);
const env = { dir, slurmConf: conf, mungeSocket, node, cpus: Number(cpus), spool: `${dir}/d` };
writeFileSync(`${dir}/env.json.tmp`, JSON.stringify(env, null, 2) + '\n');
renameSync(`${dir}/env.json.tmp`, `${dir}/env.json`);
EOF
log "ready in $((SECONDS - started))s: SLURM_CONF=$conf"
