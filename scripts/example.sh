#!/usr/bin/env bash
# Builds everything and runs the main job: as root on a fresh Debian machine, install,
# set up the host, build sif, then as the unprivileged user sif-test (the way a cluster
# user would) build a SIF from a local Debian+python OCI image and run python in it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

if [ "$(id -u)" != 0 ]; then
  echo "example: error: run as root (it installs packages and creates the user sif-test)" >&2
  exit 1
fi

# npm ci again only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash scripts/setup-host.sh
npm run --silent build

# The local source: an OCI image layout of Debian bookworm with python3, made by
# debootstrap and umoci (cached after the first run; scripts/test-images.sh).
bash scripts/test-images.sh
layout=${SIF_TEST_IMAGES:-$repo/.cache/test-images}/oci
out=/home/sif-test/example
install -d -o sif-test -g sif-test "$out"
rm -f "$out/python.sif"

# A clean environment and a working directory of the user's own, as after a login.
home=/home/sif-test
cd "$home"
as_user() {
  runuser -u sif-test -- env -i HOME="$home" USER=sif-test LOGNAME=sif-test \
    PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
}
echo "example: as sif-test: sif build $out/python.sif oci:$layout:python" >&2
as_user "$repo/bin/sif" build "$out/python.sif" "oci:$layout:python"
echo "example: as sif-test: sif exec $out/python.sif python3 ..." >&2
as_user "$repo/bin/sif" exec "$out/python.sif" python3 -c \
  'import os,sys; print("hello from python", sys.version.split()[0], "as uid", os.getuid())'
