#!/usr/bin/env bash
# Prepares this machine for sif's tests and example: the Debian packages they use, an
# unprivileged test user, a usable /dev/fuse, and a repo that user can read.
# Run as root. Idempotent, and quiet and fast when everything is already in place.
set -euo pipefail

TEST_USER=sif-test
repo=$(cd "$(dirname "$0")/.." && pwd -P)

if [ "$(id -u)" != 0 ]; then
  echo "setup-host: error: must run as root (it installs packages and creates a user)" >&2
  exit 1
fi

# fuse3: fusermount3 and the FUSE runtime; squashfuse: squashfuse_ll, the reference
# mount for the squashfs writer's tests; squashfs-tools(-ng): building and checking
# images; zstd: zstd layers for the merge tests; busybox-static: tiny test rootfs;
# debootstrap: the python base rootfs.
# debian-archive-keyring lets debootstrap verify what it downloads. The builder's tests:
# umoci and skopeo make and copy OCI images, attr and libcap2-bin set xattrs in them,
# docker-registry, apache2-utils (htpasswd), openssl and curl run the test registries.
# The MPI tests: Open MPI and MPICH side by side (the host MPIs `sif exec --mpi` binds,
# and the compilers of the test programs).
packages=(fuse3 squashfuse squashfs-tools squashfs-tools-ng zstd busybox-static debootstrap debian-archive-keyring umoci skopeo attr libcap2-bin docker-registry apache2-utils openssl curl
  openmpi-bin libopenmpi-dev mpich libmpich-dev)
bash "$(dirname "$0")/ensure-packages.sh" setup-host "${packages[@]}"

# With both installed, Debian's "mpi" and "mpirun" alternatives pick Open MPI (higher
# priority); the tests call MPICH's tools by their own names (mpicc.mpich) and expect the
# plain names to be Open MPI's. Someone who switched the alternatives gets told.
for tool in mpicc mpirun; do
  if [ "$(readlink -f "/usr/bin/$tool")" != "$(readlink -f "/usr/bin/$tool.openmpi")" ]; then
    echo "setup-host: error: /usr/bin/$tool is not Open MPI's ($(readlink -f "/usr/bin/$tool"))" >&2
    echo "hint: run: update-alternatives --auto mpi; update-alternatives --auto mpirun" >&2
    exit 1
  fi
done

# The tests run the runtime as this user: running as root would hide every rootless bug.
# Its own primary group and no supplementary groups, like a plain cluster account.
if ! id -u "$TEST_USER" >/dev/null 2>&1; then
  useradd --create-home --home-dir "/home/$TEST_USER" --shell /bin/bash --user-group "$TEST_USER"
  echo "setup-host: created user $TEST_USER" >&2
fi

# Real distributions ship /dev/fuse as 0666 so unprivileged users can mount; minimal
# containers and CI images sometimes lack the node or make it 0600.
if [ ! -e /dev/fuse ]; then
  mknod -m 0666 /dev/fuse c 10 229
  echo "setup-host: created /dev/fuse" >&2
fi
if [ "$(stat -c %a /dev/fuse)" != 666 ]; then
  chmod 0666 /dev/fuse
fi

# The test user runs bin/sif and reads fixtures straight from the checkout, which may
# live under /root (0700). This is a throwaway CI machine, so open the path up.
dir=$(dirname "$repo")
while [ "$dir" != / ]; do
  if [ "$(( 0$(stat -c %a "$dir") & 01 ))" = 0 ]; then
    chmod o+x "$dir"
    echo "setup-host: chmod o+x $dir (so $TEST_USER can reach the repo)"
  fi
  dir=$(dirname "$dir")
done
if [ "$(( 0$(stat -c %a "$repo") & 05 ))" != 5 ]; then
  chmod o+rx "$repo"
  echo "setup-host: chmod o+rx $repo (so $TEST_USER can read it)"
fi
if ! runuser -u "$TEST_USER" -- test -r "$repo/package.json"; then
  echo "setup-host: error: $TEST_USER cannot read $repo/package.json" >&2
  echo "hint: the checkout was made with a restrictive umask; run: chmod -R o+rX $repo" >&2
  exit 1
fi

# Everything sif does starts with an unprivileged user namespace.
if ! err=$(runuser -u "$TEST_USER" -- unshare -U -r true 2>&1); then
  echo "setup-host: error: $TEST_USER cannot create a user namespace: ${err:-unknown error}" >&2
  echo "hint: check sysctl user.max_user_namespaces (must be > 0)," \
    "kernel.unprivileged_userns_clone (Debian/Ubuntu: must be 1) and" \
    "kernel.apparmor_restrict_unprivileged_userns (Ubuntu 24.04+: must be 0);" \
    "inside a container, the outer runtime's seccomp profile must allow unshare/clone" >&2
  exit 1
fi
