#!/usr/bin/env bash
# Builds everything and runs the main job: as root on a fresh Debian machine, install,
# set up the host, build sif and a Debian+python image, then run python in that image
# as the unprivileged user sif-test, the way a cluster user would.
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

image=$repo/.cache/example/python.sqfs
[ -f "$image" ] || bash scripts/base-rootfs.sh "$image"

# A clean environment and a working directory of the user's own, as after a login.
home=/home/sif-test
cd "$home"
echo "example: running as sif-test: sif exec $image python3 ..." >&2
exec runuser -u sif-test -- env -i HOME="$home" USER=sif-test LOGNAME=sif-test \
  PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
  "$repo/bin/sif" exec "$image" python3 -c \
  'import os,sys; print("hello from python", sys.version.split()[0], "as uid", os.getuid())'
