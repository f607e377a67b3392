#!/usr/bin/env bash
# Usage: scripts/mpi-images.sh          (as root; scripts/test.sh runs it)
# Builds the MPI test images under ${SIF_TEST_IMAGES:-<repo>/.cache/test-images}:
#   mpi-openmpi.sqfs   the cached debootstrap bookworm tree (scripts/base-rootfs.sh) with
#                      Debian's Open MPI (openmpi-bin, libopenmpi3) and, in /opt/mpi, the
#                      hello and ping-pong of test/fixtures/mpi: the "hybrid" model, where
#                      the image brings its own MPI and srun's PMIx reaches it.
#   mpi-openmpi.stamp  hash of what made it: an unchanged stamp skips the rebuild
# Packages come from apt in a chroot of the unpacked tree, with this host's package
# lists and its /var/cache/apt/archives (what the host already downloaded is reused).
# The programs are built on the host with mpicc against the same Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

log() { echo "mpi-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt in a chroot)"
bash "$(dirname "$0")/ensure-packages.sh" mpi-images openmpi-bin libopenmpi-dev gcc libc6-dev squashfs-tools

out=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
exec 9>"$out/.mpi-images.lock" # one build at a time
flock 9

tarball=$(bash scripts/base-rootfs.sh --tar-only)
[ -f "$tarball" ] || die "scripts/base-rootfs.sh --tar-only printed no tarball"
image=$out/mpi-openmpi.sqfs
stamp=$({
  cat scripts/mpi-images.sh test/fixtures/mpi/*.c
  stat -c '%s %Y' "$tarball"
  dpkg-query -W openmpi-bin libopenmpi3 libopenmpi-dev
} | sha256sum | cut -c1-16)
if [ -f "$image" ] && [ "$(cat "$out/mpi-openmpi.stamp" 2>/dev/null || true)" = "$stamp" ]; then
  log "up to date ($image, stamp $stamp)"
  exit 0
fi

started=$SECONDS
# Next to the base cache, not /tmp (may be noexec or nodev, which breaks the chroot).
cache=$(dirname "$tarball")
work=$(mktemp -d "$cache/mpi-build.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  # Deepest mount first; never let rm cross into a mount left behind.
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "building $image"
mkdir -p "$rootfs"
tar -C "$rootfs" --numeric-owner --xattrs -xf "$tarball"

# apt inside the tree, with the host's apt configuration (sources, keys, proxy), the
# keyrings its sources may name, its lists (apt reads only the lists its sources name)
# and its package cache bound in. The image's own apt configuration comes back after.
rm -rf "$rootfs/etc/apt"
cp -a /etc/apt "$rootfs/etc/apt"
added_keyrings=()
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
    openmpi-bin libopenmpi3 >"$work/apt.log" 2>&1; then
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

mkdir -p "$rootfs/opt/mpi"
for prog in hello pingpong; do
  mpicc -O2 -Wall -Wextra -Werror -o "$rootfs/opt/mpi/$prog" "test/fixtures/mpi/$prog.c"
  cp "test/fixtures/mpi/$prog.c" "$rootfs/opt/mpi/"
done

tmp=$(mktemp "$out/.mpi-openmpi.sqfs.XXXXXX")
mksquashfs "$rootfs" "$tmp" -noappend -quiet -no-progress -comp zstd >/dev/null
chmod 0644 "$tmp"
rm -f "$out/mpi-openmpi.stamp" # stamp last: an interrupted build leaves none
mv -f "$tmp" "$image"
echo "$stamp" >"$out/mpi-openmpi.stamp"
log "done in $((SECONDS - started))s: $image ($(du -h "$image" | cut -f1), stamp $stamp)"
