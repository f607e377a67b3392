#!/usr/bin/env bash
# Builds sif's native parts: the starter (native/starter), the handoff addon
# (native/handoff) and the squashfs writer addon (native/squashfs). Missing Debian
# build packages are installed when run as root; otherwise the list is printed.
set -euo pipefail
cd "$(dirname "$0")/.."

# package:file-that-proves-it-is-installed
need=(
  "gcc:/usr/bin/gcc"
  "make:/usr/bin/make"
  "pkg-config:/usr/bin/pkg-config"
  "libfuse3-dev:/usr/include/fuse3/fuse_lowlevel.h"
  "libsquashfuse-dev:/usr/include/squashfuse/ll.h"
  "libsquashfs-dev:/usr/include/sqfs/block_processor.h"
  "zlib1g-dev:/usr/include/zlib.h"
  "liblzma-dev:/usr/include/lzma.h"
  "liblzo2-dev:/usr/include/lzo/lzo1x.h"
  "liblz4-dev:/usr/include/lz4.h"
  "libzstd-dev:/usr/include/zstd.h"
)
missing=()
for entry in "${need[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "sif: installing build packages: ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "sif: error: missing build packages: ${missing[*]}" >&2
    echo "hint: ask an administrator to run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# node-gyp: npm puts its own on PATH while it runs an install script (an installed
# package has no devDependencies); in the checkout, the dev dependency.
gyp=(npx --no-install node-gyp)
command -v node-gyp >/dev/null && gyp=(node-gyp)
# Node's headers: those installed beside this node (Debian's nodejs, the official
# tarballs) when present, so that no build needs to download them.
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
[ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node_api.h" ] && gyp+=(--nodedir="$prefix")

make -s -C native/starter
"${gyp[@]}" rebuild --silent --directory native/handoff >/dev/null
"${gyp[@]}" rebuild --silent --directory native/squashfs >/dev/null
