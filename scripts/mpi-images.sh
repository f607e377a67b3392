#!/usr/bin/env bash
# Usage: scripts/mpi-images.sh          (as root; scripts/test.sh runs it)
# Builds the MPI test images under ${SIF_TEST_IMAGES:-<repo>/.cache/test-images}, each
# with the hello and ping-pong of test/fixtures/mpi in /opt/mpi (sources beside them),
# the bookworm ones also with dlhello, a program without MPI that dlopens
# hello-module.so (hello built as a module, needing libmpi) beside it, as Python loads
# mpi4py:
#   mpi-openmpi.sqfs    the cached debootstrap bookworm tree (scripts/base-rootfs.sh) with
#                       Debian's Open MPI (openmpi-bin, libopenmpi3): the "hybrid" model,
#                       where the image brings its own MPI and srun's PMIx reaches it;
#                       and python3-mpi4py, whose extension module loads libmpi at run
#                       time (--mpi must replace it with the host's).
#   mpi-bare.sqfs       the bookworm tree and the programs built against Open MPI
#                       (libmpi.so.40), but no MPI library: runs only with `--mpi`.
#   mpi-mpich-app.sqfs  the same built against Debian's MPICH (libmpich.so.12, the MPICH
#                       ABI), no MPI library either: refused against the host's Open MPI,
#                       runs against its MPICH.
#   mpi-oldglibc.sqfs   Debian bullseye (glibc 2.31) with its own Open MPI, the programs
#                       built in it: the host's MPI needs newer GLIBC_ versions.
#   NAME.stamp          hash of what made NAME.sqfs: an unchanged stamp skips its rebuild
# Packages come from apt in a chroot of the unpacked tree, with this host's package
# lists and its /var/cache/apt/archives (what the host already downloaded is reused).
# The bookworm programs are built on the host with mpicc (Open MPI) and mpicc.mpich:
# Debian's mpicc alternative stays Open MPI when MPICH is installed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

log() { echo "mpi-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt in a chroot)"
bash "$(dirname "$0")/ensure-packages.sh" mpi-images openmpi-bin libopenmpi-dev mpich libmpich-dev \
  gcc libc6-dev squashfs-tools squashfs-tools-ng debootstrap
command -v mpicc.mpich >/dev/null || die "mpicc.mpich not found (package libmpich-dev)"

out=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
exec 9>"$out/.mpi-images.lock" # one build at a time
flock 9

tarball=$(bash scripts/base-rootfs.sh --tar-only)
[ -f "$tarball" ] || die "scripts/base-rootfs.sh --tar-only printed no tarball"
# Next to the base cache, not /tmp (may be noexec or nodev, which breaks the chroot).
cache=$(dirname "$tarball")
programs=(hello pingpong)

work=
cleanup() {
  [ -n "$work" ] || return 0
  # Deepest mount first; never let rm cross into a mount left behind.
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
  work=
}
trap cleanup EXIT

# fresh NAME STAMP: true when NAME.sqfs was made from the inputs that hash to STAMP.
fresh() {
  [ -f "$out/$1.sqfs" ] && [ "$(cat "$out/$1.stamp" 2>/dev/null || true)" = "$2" ]
}

# stamp_of: hashes stdin (the inputs of one image) into a short stamp.
stamp_of() { sha256sum | cut -c1-16; }

# common_inputs: what every image depends on.
common_inputs() {
  cat scripts/mpi-images.sh test/fixtures/mpi/*.c
}

# publish NAME STAMP FILE: moves a finished image into place, stamp last (an
# interrupted build leaves none, so the next run rebuilds).
publish() {
  chmod 0644 "$3"
  rm -f "$out/$1.stamp"
  mv -f "$3" "$out/$1.sqfs"
  echo "$2" >"$out/$1.stamp"
  log "$1: done in $((SECONDS - started))s ($(du -h "$out/$1.sqfs" | cut -f1), stamp $2)"
}

# squash_tree NAME STAMP ROOTFS: the image of an unpacked tree.
squash_tree() {
  local tmp
  tmp=$(mktemp "$out/.$1.sqfs.XXXXXX")
  mksquashfs "$3" "$tmp" -noappend -quiet -no-progress -comp zstd >/dev/null
  publish "$1" "$2" "$tmp"
}

# apt_in_chroot ROOTFS PACKAGE...: installs bookworm packages into the unpacked tree with
# the host's apt configuration (sources, keys, proxy), the keyrings its sources may
# name, its lists (apt reads only the lists its sources name) and its package cache
# bound in; the image's own apt configuration comes back after.
apt_in_chroot() {
  local rootfs=$1 k
  shift
  rm -rf "$rootfs/etc/apt"
  cp -a /etc/apt "$rootfs/etc/apt"
  local added_keyrings=()
  for k in /usr/share/keyrings/*; do
    [ -e "$rootfs$k" ] || { cp -a "$k" "$rootfs$k"; added_keyrings+=("$rootfs$k"); }
  done
  find /var/lib/apt/lists -maxdepth 1 -type f ! -name lock -exec cp -t "$rootfs/var/lib/apt/lists/" {} +
  cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf" 2>/dev/null || true
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d" # start no services
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  mkdir -p "$rootfs/var/cache/apt/archives"
  mount --bind /var/cache/apt/archives "$rootfs/var/cache/apt/archives"
  mount -t proc proc "$rootfs/proc"
  mount --bind /dev "$rootfs/dev"
  if ! DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq --no-install-recommends \
      "$@" >"$work/apt.log" 2>&1; then
    log "error: apt-get install in the chroot failed; last lines of its log:"
    tail -n 30 "$work/apt.log" >&2
    exit 1
  fi
  umount "$rootfs/dev" "$rootfs/proc" "$rootfs/var/cache/apt/archives"
  # What only the build needed goes; the image's apt config stays as debootstrap made it.
  rm -f "$rootfs/usr/sbin/policy-rc.d"
  rm -rf "$rootfs"/var/lib/apt/lists/*_* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/var/log/apt/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  rm -rf "$rootfs/etc/apt" "${added_keyrings[@]}"
  tar -C "$rootfs" --numeric-owner -xf "$tarball" ./etc/apt
  : >"$rootfs/etc/resolv.conf"
}

# compile CC DIR: the programs, built on the host with the MPI compiler wrapper CC, and
# their sources, into DIR (the image's /opt/mpi); dlhello with plain gcc (no MPI), its
# module with CC.
compile() {
  local prog
  mkdir -p "$2"
  for prog in "${programs[@]}"; do
    "$1" -O2 -Wall -Wextra -Werror -o "$2/$prog" "test/fixtures/mpi/$prog.c"
    cp "test/fixtures/mpi/$prog.c" "$2/"
  done
  gcc -O2 -Wall -Wextra -Werror -o "$2/dlhello" test/fixtures/mpi/dlhello.c
  "$1" -O2 -Wall -Wextra -Werror -shared -fPIC -DHELLO_MODULE -o "$2/hello-module.so" test/fixtures/mpi/hello.c
  cp test/fixtures/mpi/dlhello.c "$2/"
}

# bare_image NAME CC: the bookworm base and /opt/mpi built with CC, no MPI library. The
# base tarball plus /opt/mpi appended goes straight into tar2sqfs: nothing is unpacked.
bare_image() {
  local name=$1 cc=$2 stamp tmp
  stamp=$({
    common_inputs
    stat -c '%s %Y' "$tarball"
    "$cc" -show
    dpkg-query -W openmpi-bin libopenmpi3 libopenmpi-dev mpich libmpich-dev libmpich12 libc6-dev gcc
  } | stamp_of)
  if fresh "$name" "$stamp"; then log "$name: up to date (stamp $stamp)"; return; fi
  started=$SECONDS
  log "$name: building"
  work=$(mktemp -d "$cache/mpi-build.XXXXXX")
  compile "$cc" "$work/stage/opt/mpi"
  # The base has ./opt already: tar2sqfs refuses a path twice, so only ./opt/mpi goes.
  cp "$tarball" "$work/image.tar"
  tar -C "$work/stage" --owner=0 --group=0 --numeric-owner -rf "$work/image.tar" ./opt/mpi
  tmp=$(mktemp "$out/.$name.sqfs.XXXXXX")
  tar2sqfs --quiet --force --compressor zstd --defaults uid=0,gid=0,mode=0755 "$tmp" <"$work/image.tar"
  publish "$name" "$stamp" "$tmp"
  cleanup
}

# (a) Open MPI in the image (hybrid).
openmpi_image() {
  local stamp
  stamp=$({
    common_inputs
    stat -c '%s %Y' "$tarball"
    dpkg-query -W openmpi-bin libopenmpi3 libopenmpi-dev
  } | stamp_of)
  if fresh mpi-openmpi "$stamp"; then log "mpi-openmpi: up to date (stamp $stamp)"; return; fi
  started=$SECONDS
  log "mpi-openmpi: building"
  work=$(mktemp -d "$cache/mpi-build.XXXXXX")
  mkdir -p "$work/rootfs"
  tar -C "$work/rootfs" --numeric-owner --xattrs -xf "$tarball"
  apt_in_chroot "$work/rootfs" openmpi-bin libopenmpi3 python3-mpi4py
  compile mpicc "$work/rootfs/opt/mpi"
  squash_tree mpi-openmpi "$stamp" "$work/rootfs"
  cleanup
}

# (d) bullseye, an older glibc (2.31), with its own Open MPI 4.1.0 and the programs
# built in it by its mpicc: the host's MPI libraries need GLIBC_2.32 and later, which
# this image's libc does not define. debootstrap's tree is cached by base-rootfs.sh.
# automake is named because debootstrap resolves no virtual packages: libltdl-dev (which
# libopenmpi-dev pulls in) needs automake-1.16, which only automake provides.
oldglibc_image() {
  local old stamp prog
  old=$(bash scripts/base-rootfs.sh --tar-only --suite bullseye --include automake,gcc,libc6-dev,libopenmpi-dev)
  [ -f "$old" ] || die "scripts/base-rootfs.sh printed no bullseye tarball"
  stamp=$({
    common_inputs
    stat -c '%s %Y' "$old"
  } | stamp_of)
  if fresh mpi-oldglibc "$stamp"; then log "mpi-oldglibc: up to date (stamp $stamp)"; return; fi
  started=$SECONDS
  log "mpi-oldglibc: building"
  work=$(mktemp -d "$cache/mpi-build.XXXXXX")
  local rootfs=$work/rootfs
  mkdir -p "$rootfs"
  tar -C "$rootfs" --numeric-owner --xattrs -xf "$old"
  mkdir -p "$rootfs/opt/mpi"
  mount -t proc proc "$rootfs/proc"
  for prog in "${programs[@]}"; do
    cp "test/fixtures/mpi/$prog.c" "$rootfs/opt/mpi/"
    chroot "$rootfs" mpicc -O2 -Wall -Wextra -Werror -o "/opt/mpi/$prog" "/opt/mpi/$prog.c"
  done
  umount "$rootfs/proc"
  squash_tree mpi-oldglibc "$stamp" "$rootfs"
  cleanup
}

openmpi_image
bare_image mpi-bare mpicc
bare_image mpi-mpich-app mpicc.mpich
oldglibc_image
