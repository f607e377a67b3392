#!/usr/bin/env bash
# Usage: bash bench/netfs.sh        (as root; also run by bench/run.sh, part "netfs")
# The image on a network file system against the same files unpacked on it, with the
# page cache dropped before every run: what a cluster's shared file system makes of an
# image of one file against a tree of thousands. The network file system is sshfs over
# loopback: this script starts its own sshd (as BENCH_USER, on a free port of
# 127.0.0.1, with keys made for the run) and mounts the export with sshfs as
# BENCH_USER (no allow_other: sif and bwrap run as that user, and FUSE lets the
# mount's owner in from its own user namespaces). A fresh mount per run, so that
# sshfs's own caches start empty too. Rows:
#   image: sif exec of the squashfs image on the mount (the image's python3)
#   tree:  bwrap over the image's tree unpacked on the mount (the same python3, libraries
#          and modules, each file read through sshfs)
# Payloads: the Pynamic-like import of bench/pynamic.sh (BENCH_NETFS_MODULES modules,
# first import and a repeat in a second process), timed inside, and the whole command
# (runtime start, python's start, the imports) timed outside; with BENCH_NETFS_TAR=1 also
# a tar of /usr. Root is needed to drop caches and to unpack the tree; everything
# measured runs as BENCH_USER. Installs nothing: bench/run.sh as root installs
# openssh-server and sshfs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
why_root="it drops the page cache"
. "$repo/bench/as-root.sh"
runs=${BENCH_NETFS_RUNS:-3}
modules=${BENCH_NETFS_MODULES:-1000}
tar=${BENCH_NETFS_TAR:-}
keep=${BENCH_KEEP:-}
sshd=/usr/sbin/sshd
[ -x "$sshd" ] || { log "error: $sshd not found (bench/run.sh as root installs openssh-server)"; exit 1; }
need_tools sshfs fusermount3 ssh ssh-keygen bwrap unsquashfs mksquashfs node runuser
need_image

work=$(mktemp -d "${TMPDIR:-/tmp}/sif-netfs.XXXXXX")
chmod 755 "$work"
export_dir=$work/export # what the "server" exports
mnt=$work/mnt           # where the "client" mounts it
ssh_dir=$work/ssh
mkdir "$export_dir" "$mnt" "$ssh_dir"
chown "$user" "$mnt" "$ssh_dir"
chmod 700 "$ssh_dir"
sshd_pid=
cleanup() {
  trap - EXIT INT TERM
  if mountpoint -q "$mnt"; then as_user fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" || true; fi
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  if [ -n "$keep" ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# Ctrl-C or a kill: clean up, then end as that signal would have.
trap 'cleanup; trap - INT; kill -INT $$' INT
trap 'cleanup; exit 143' TERM

# --- What the network file system holds: the pynamic image and its tree. -------------
bash "$repo/bench/pynamic-image.sh" "$image" "$export_dir" "$modules"
# sshfs (3.7 here) answers EPERM to reading a symlink whose target is absolute or has
# "..", so the mount follows links on the server (follow_symlinks, below); for that, the
# tree's absolute links become relative ones to the same files, inside the tree.
node -e '
const fs = require("fs"), path = require("path"), root = process.argv[1];
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.isSymbolicLink()) {
      const t = fs.readlinkSync(p);
      if (!t.startsWith("/")) continue;
      fs.unlinkSync(p);
      fs.symlinkSync(path.relative(path.dirname(p), path.join(root, t)) || ".", p);
    }
  }
};
walk(root);' "$export_dir/tree"

# --- The server: sshd as the user, on loopback, with this run's keys. ------------------
as_user ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/host_key"
as_user ssh-keygen -q -t ed25519 -N '' -f "$ssh_dir/user_key"
as_user cp "$ssh_dir/user_key.pub" "$ssh_dir/authorized_keys"
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
cat >"$ssh_dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $ssh_dir/host_key
AuthorizedKeysFile $ssh_dir/authorized_keys
PidFile $ssh_dir/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The work directory lies under TMPDIR (/tmp: world-writable), which StrictModes refuses.
StrictModes no
Subsystem sftp internal-sftp
EOF
# Not as root: an sshd of the user's own needs no privilege separation directory and can
# log in only that user.
runuser -u "$user" -- "$sshd" -D -e -f "$ssh_dir/sshd_config" 2>"$ssh_dir/sshd.log" &
sshd_pid=$!
ssh_opts=(-o IdentityFile="$ssh_dir/user_key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
  -o BatchMode=yes -o LogLevel=ERROR)
for ((i = 0; ; i++)); do
  as_user ssh -p "$port" "${ssh_opts[@]}" "$user@127.0.0.1" true 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null && [ "$i" -lt 50 ] || {
    log "error: sshd did not start on 127.0.0.1:$port"
    sed 's/^/bench:    /' "$ssh_dir/sshd.log" >&2
    exit 1
  }
  sleep 0.1
done

# --- The client: sshfs as the user, remounted for every run. ---------------------------
mount_netfs() { as_user sshfs -p "$port" -o follow_symlinks "${ssh_opts[@]}" "$user@127.0.0.1:$export_dir" "$mnt"; }
umount_netfs() { as_user fusermount3 -u "$mnt"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# What is measured is the network file system cold; the runtimes' own files (on local
# disk: Node and its libraries, sif's bundles and starter, bwrap) are read back after
# the drop, as they would be on a node that ran them before.
runtime_files=("$(realpath "$(command -v node)")" "$(realpath "$(command -v bwrap)")")
for bin in "${runtime_files[@]}"; do
  runtime_files+=($(ldd "$bin" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'))
done
runtime_files+=("$repo"/bin/* "$repo"/dist/* "$repo/native/build/sif-starter" "$repo"/native/*/build/Release/*.node)
warm_runtimes() { cat "${runtime_files[@]}" >/dev/null 2>&1 || true; }

echo "netfs: $(date -u +%FT%TZ), $(nproc) CPUs, $modules modules, image $(du -h "$export_dir/pynamic.sqfs" | cut -f1)" \
  "and tree $(du -sh "$export_dir/tree" | cut -f1) on sshfs over loopback, $runs runs after 1 warm-up, caches dropped"
echo "host load before start: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A prefix=(
  [image]="$repo/bin/sif exec $mnt/pynamic.sqfs"
  [tree]="bwrap --unshare-user --ro-bind $mnt/tree / --proc /proc --dev /dev --bind /tmp /tmp --"
)
names=(image tree)
payloads=("sh /pynamic/import.sh")
[ -n "$tar" ] && payloads+=("sh /pynamic/tar.sh 1")
# Each payload's first metric names its whole command's time too (import -> import-wall).
wall_names=(import-wall tar1-wall)

# run NAME PAYLOAD-INDEX: prints "NAME METRIC SECONDS" lines, the payload's and the wall's.
run() {
  local name=$1 p=$2 out status=0 start end
  mount_netfs
  drop_caches
  warm_runtimes
  start=$(date +%s%N)
  out=$(as_user ${prefix[$name]} ${payloads[p]} </dev/null 2>"$work/err") || status=$?
  end=$(date +%s%N)
  umount_netfs
  if [ "$status" != 0 ]; then
    log "FAILED: $name ${payloads[p]}: exit status $status"
    head -n 4 "$work/err" | sed 's/^/bench:    /' >&2
    return 0
  fi
  printf '%s\n' "$out" | sed "s/^/$name /"
  awk -v n="$name" -v m="${wall_names[p]}" -v s="$start" -v e="$end" 'BEGIN { printf "%s %s %.6f\n", n, m, (e - s) / 1e9 }'
}

run_rotated netfs
