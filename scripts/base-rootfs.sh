#!/usr/bin/env bash
# Usage: scripts/base-rootfs.sh DEST
#        scripts/base-rootfs.sh --tar-only [--suite SUITE --include PKG,PKG...]
# Writes a squashfs image of a minimal Debian bookworm root filesystem with python3 to
# DEST. The debootstrap result is cached as a tarball (it takes minutes and hundreds of
# downloads), so later runs only repack it (seconds). With --tar-only it makes sure the
# tarball exists and prints its path instead (scripts/test-images.sh uses it as an OCI
# layer). --suite and --include (only with --tar-only) make another cached tree: that
# Debian release with those packages (scripts/mpi-images.sh: an older glibc).
# Run as root: debootstrap chroots and creates files owned by other users.
set -euo pipefail

log() { echo "base-rootfs: $*" >&2; }
usage() {
  echo "usage: $0 DEST | --tar-only [--suite SUITE --include PKG,PKG...]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
tar_only=false
dest=$1
suite=bookworm
include=python3-minimal,python3
name=python
if [ "$1" = --tar-only ]; then
  tar_only=true
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --suite) [ $# -ge 2 ] || usage; suite=$2; shift 2 ;;
      --include) [ $# -ge 2 ] || usage; include=$2; name=$(echo "$2" | tr , +); shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $suite =~ ^[a-z]+$ && $include =~ ^[a-z0-9.+,-]+$ ]] || usage
elif [ $# -ne 1 ]; then
  usage
fi
if [ "$(id -u)" != 0 ]; then
  log "error: must run as root (debootstrap needs it)"
  exit 1
fi

cache=${SIF_TEST_CACHE:-/var/cache/sif-test}
tarball=$cache/base-rootfs-$suite-$name.tar
umask 022
mkdir -p "$cache"

# Prints the Debian mirror apt already uses for $suite (it is known to be reachable from
# here), from deb822 .sources files or one-line sources.list entries.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # One stanza per paragraph: keep an enabled "deb" stanza that lists $suite itself
    # (not bookworm-security or bookworm-updates) and the main component.
    awk -v suite="$suite" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""; comps = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^[ \t]*#/) continue
          key = tolower(line); sub(/:.*/, "", key)
          val = line; sub(/^[^:]*:[ \t]*/, "", val)
          if (key == "types") types = val
          else if (key == "uris") uris = val
          else if (key == "suites") suites = val
          else if (key == "components") comps = val
          else if (key == "enabled") enabled = tolower(val)
        }
        if (enabled != "no" && (" " types " ") ~ / deb / &&
            (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main /) {
          split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E 's/\[[^]]*\]//' "$f" |
      awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}

if [ -f "$tarball" ]; then
  log "using cached $tarball"
else
  # One build at a time: parallel test runs on the same machine wait for the first.
  # (fd 9 is closed for debootstrap so nothing it leaves behind keeps the lock.)
  exec 9>"$cache/.base-rootfs.lock"
  flock 9
fi

if [ ! -f "$tarball" ]; then
  # An older release than the host's is not in its sources: the host's bookworm mirror
  # (deb.debian.org by default) serves it too.
  mirror=$(apt_mirror | head -n1)
  [ -n "$mirror" ] || mirror=$(suite=bookworm apt_mirror | head -n1)
  mirror=${mirror:-http://deb.debian.org/debian}
  # Build next to the cache so the final rename is atomic; not under /tmp, which may be
  # mounted noexec or nodev and would break debootstrap's chroot.
  work=$(mktemp -d "$cache/build.XXXXXX")
  cleanup() {
    # A killed debootstrap can leave proc/sys mounted inside the target: unmount them
    # (deepest first) and never let rm cross into them.
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$work"
  }
  trap cleanup EXIT
  log "debootstrap $suite from $mirror (a few minutes the first time)"
  rootfs=$work/rootfs
  # debootstrap ends with a global sync(1), which blocks forever in the kernel when any
  # FUSE mount on the host is hung (easy to cause while developing sif itself). Shadow
  # it with a sync of the build filesystem only: the result is tarred right away.
  mkdir "$work/bin"
  printf '#!/bin/sh\nexec /bin/sync -f "%s"\n' "$work" >"$work/bin/sync"
  chmod +x "$work/bin/sync"
  if ! PATH=$work/bin:$PATH debootstrap --variant=minbase --include="$include" \
      "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 9>&-; then
    log "error: debootstrap failed; last lines of its log:"
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    exit 1
  fi
  # Downloaded packages and indexes are dead weight in a read-only image.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*_* "$rootfs"/var/log/*.log \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
  log "packing $tarball"
  tar -C "$rootfs" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
  mv -f "$work/rootfs.tar" "$tarball"
  trap - EXIT
  cleanup
fi

if $tar_only; then
  echo "$tarball"
  exit 0
fi

# tar2sqfs (squashfs-tools-ng) reads the tar directly: ownership, modes, device nodes,
# xattrs and hard links come from the tar headers, root directory included, so nothing
# is unpacked again. Write a temp file next to DEST and rename it, so a half-written
# image never sits at DEST.
mkdir -p "$(dirname "$dest")"
tmp_dest=$(mktemp "$(dirname "$dest")/.$(basename "$dest").XXXXXX")
trap 'rm -f "$tmp_dest"' EXIT
log "writing $dest"
tar2sqfs --quiet --force --compressor zstd --defaults uid=0,gid=0,mode=0755 "$tmp_dest" <"$tarball"
chmod 0644 "$tmp_dest"
mv -f "$tmp_dest" "$dest"
trap - EXIT
log "done: $dest ($(du -h "$dest" | cut -f1))"
