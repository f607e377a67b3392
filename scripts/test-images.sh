#!/usr/bin/env bash
# Usage: scripts/test-images.sh          (as root; scripts/test.sh runs it)
# Builds the OCI fixtures the image builder's tests read, with the real tools (umoci,
# skopeo, GNU tar), under ${SIF_TEST_IMAGES:-<repo>/.cache/test-images}:
#   oci/                OCI layout, tags small, small-arm64, python, multi (an index)
#   oci-zstd/ oci-plain/  tag small with zstd / uncompressed layers
#   oci-archive/{small,python,multi}.tar  docker-archive/{small,python}.tar
#   unpacked/<tag>/rootfs  `umoci unpack` of small, small-arm64 and python: the
#                       reference trees a flattened image is compared with
#   oci-fixtures.stamp  hash of what made them: an unchanged stamp skips the rebuild
# `small` is a busybox image whose layers hold every flattening case (whiteouts, opaque
# dirs, hard links within and across layers, type changes, special files); the layer
# list is in the comments below and in each layer's history comment.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)
umask 022

log() { echo "test-images: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (umoci keeps owners, device nodes and capabilities only as root)"

# Installs what is missing, as scripts/setup-host.sh does (it lists the same packages).
bash "$(dirname "$0")/ensure-packages.sh" test-images umoci skopeo busybox-static attr libcap2-bin tar gzip

out=${SIF_TEST_IMAGES:-$repo/.cache/test-images}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
# One build at a time; a second caller waits and then finds the stamp up to date.
exec 9>"$out/.oci-fixtures.lock"
flock 9

# The python tag's first layer is the cached debootstrap tarball (minutes the first time).
tarball=$(bash scripts/base-rootfs.sh --tar-only)
[ -f "$tarball" ] || die "scripts/base-rootfs.sh --tar-only printed no tarball"

stamp=$({
  cat scripts/test-images.sh scripts/base-rootfs.sh
  stat -c '%s %Y' "$tarball"
  sha256sum /bin/busybox
  umoci --version
  skopeo --version
} | sha256sum | cut -c1-16)
if [ "$(cat "$out/oci-fixtures.stamp" 2>/dev/null || true)" = "$stamp" ]; then
  log "up to date ($out, stamp $stamp)"
  exit 0
fi

started=$SECONDS
build=$out/.oci-build
rm -rf --one-file-system "$build"
mkdir -p "$build"/{work,unpacked,oci-archive,docker-archive}
trap 'rm -rf --one-file-system "$build"' EXIT
work=$build/work
oci=$build/oci

# Fixed times, so layer contents do not depend on when they were built: what a step
# creates or changes gets day N after T0 for layer N. A step starts at `mark` (after an
# unpack or a repack); anything newer was touched in it (lower files keep their times).
T0=1700000000
created=2023-11-14T22:13:20Z
mark() { step_start=$(($(date +%s) - 1)); }
fix_mtimes() { # ROOTFS LAYER_NUMBER
  find "$1" -newermt "@$step_start" -exec touch -h -d "@$((T0 + $2 * 86400))" {} +
}
unpack() { # TAG BUNDLE
  umoci unpack --image "$oci:$1" "$2" >/dev/null
  mark
}
H=(--history.created "$created") # fixed history times too
repack() { # TAG BUNDLE LAYER_NUMBER COMMENT
  fix_mtimes "$2/rootfs" "$3"
  umoci repack "${H[@]}" --refresh-bundle --history.comment "$4" --image "$oci:$1" "$2"
  mark
}
# A layer written by GNU tar and added verbatim: umoci repack never writes an opaque
# marker nor a hard link to a lower layer's file, and `umoci insert --opaque` (0.4.7)
# writes a truncated tar. Entries are taken in the given order, no recursion.
add_tar_layer() { # TAG STAGING_DIR LAYER_NUMBER COMMENT [--delete MEMBER] -- PATHS...
  local tag=$1 dir=$2 n=$3 comment=$4 delete=
  shift 4
  if [ "$1" = --delete ]; then delete=$2; shift 2; fi
  shift # --
  tar -C "$dir" --numeric-owner --owner=0 --group=0 --mtime="@$((T0 + n * 86400))" \
    --no-recursion -cf "$work/layer.tar" "$@"
  # Dropping the first of two hard-linked members leaves a link entry whose target
  # is in no earlier member of this layer: it must resolve against the lower layers.
  [ -z "$delete" ] || tar --delete -f "$work/layer.tar" "$delete"
  umoci raw add-layer "${H[@]}" --history.comment "$comment" --image "$oci:$tag" "$work/layer.tar"
}

log "building OCI fixtures in $out"
umoci init --layout "$oci"

# --- small ------------------------------------------------------------------------
umoci new --image "$oci:small"
b=$work/small
unpack small "$b"
r=$b/rootfs

# Layer 1: a busybox system, plus the lower-layer content the later layers change.
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,root,home,work,tmp}
chmod 1777 "$r/tmp"
cp /bin/busybox "$r/bin/busybox"
chroot "$r" /bin/busybox --install -s # absolute symlinks, /bin/sh -> /bin/busybox
printf 'root:x:0:0:root:/root:/bin/sh\nsifowner:x:1234:5678::/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nsifgroup:x:5678:\nnogroup:x:65534:\n' >"$r/etc/group"
printf 'NAME="sif test small"\nID=sif-test-small\nVERSION_ID=1\n' >"$r/etc/os-release"
printf '#!/bin/sh\necho "hello from sif-test-small"\n' >"$r/hello.sh"
chmod 0755 "$r/hello.sh"
echo amd64 >"$r/arch"
echo "layer 1" >"$r/etc/motd"
mkdir -p "$r"/{del,gone-dir/sub,dir2file,opq/oldsub,hl}
echo gone >"$r/del/gone.txt"
echo kept >"$r/del/kept.txt"
echo a >"$r/gone-dir/a.txt"
echo b >"$r/gone-dir/sub/b.txt"
echo inner >"$r/dir2file/inner.txt"
echo file >"$r/file2dir"
echo v1 >"$r/readd.txt"
echo old >"$r/opq/old.txt"
echo deep >"$r/opq/oldsub/deep.txt"
echo shared >"$r/hl/lower"
echo pair >"$r/hl/a"
ln "$r/hl/a" "$r/hl/b" # hard link within one layer
repack small "$b" 1 "layer 1: busybox rootfs and lower files"

# Layer 2: deletions (file and directory whiteouts) and type changes.
rm "$r/del/gone.txt" "$r/readd.txt"
rm -r "$r/gone-dir"
rm -r "$r/dir2file"
echo "was a directory" >"$r/dir2file"
rm "$r/file2dir"
mkdir "$r/file2dir"
echo "was a file" >"$r/file2dir/now-a-dir.txt"
echo "layer 2" >"$r/etc/motd"
repack small "$b" 2 "layer 2: whiteouts, dir->file, file->dir, overwrite"

# Layer 3: special files, owners, xattrs, odd names, links, a re-added file.
s=$r/special
mkdir -p "$s" "$r/links" "$r/names"
printf '#!/bin/sh\nid\n' >"$s/setuid"
chmod 04755 "$s/setuid"
mkdir "$s/sticky"
chmod 1777 "$s/sticky"
mknod -m 0666 "$s/null" c 1 3
mkfifo -m 0644 "$s/fifo"
echo owned >"$s/owned"
mkdir -m 0750 "$s/owned-dir"
chown 1234:5678 "$s/owned" "$s/owned-dir"
echo xattr >"$s/xattr"
setfattr -n user.sif.test -v hello "$s/xattr"
echo cap >"$s/cap"
chmod 0755 "$s/cap"
setcap cap_net_raw+ep "$s/cap"
mkdir -m 0700 "$s/private"
echo secret >"$s/private/secret"
chmod 0600 "$s/private/secret"
echo one >"$s/hl-1"
ln "$s/hl-1" "$s/hl-2"
ln -s ../etc/os-release "$r/links/rel"
ln -s /etc/os-release "$r/links/abs"
ln -s /nonexistent/target "$r/links/dangling"
ln -s ../special "$r/links/dir"
echo long >"$r/names/$(printf 'n%.0s' {1..200})"
echo bytes >"$r/names/$(printf '\xff\xfe.bin')"
echo utf8 >"$r/names/caf$(printf '\xc3\xa9') with space.txt"
deep=$r/deep
for i in $(seq -w 1 24); do deep=$deep/level-$i-padding-pad; done # a 440-byte path
mkdir -p "$deep"
echo leaf >"$deep/leaf.txt"
echo "layer 3" >"$r/readd.txt"
echo l3 >"$r/opq/l3.txt"
repack small "$b" 3 "layer 3: special files, owners, xattrs, names, links"

# Layer 4: opq/ made opaque (hides opq/* from layers 1 and 3), with one new file.
st=$work/stage-opq
mkdir -p "$st/opq"
: >"$st/opq/.wh..wh..opq"
echo fresh >"$st/opq/fresh.txt"
add_tar_layer small "$st" 4 "layer 4: opaque directory opq/" -- opq opq/.wh..wh..opq opq/fresh.txt

# Layer 5: hl/cross, a hard link to hl/lower from layer 1.
st=$work/stage-hl
mkdir -p "$st/hl"
echo shared >"$st/hl/lower"
ln "$st/hl/lower" "$st/hl/cross"
add_tar_layer small "$st" 5 "layer 5: hard link to a lower layer's file" --delete hl/lower -- hl/lower hl/cross

umoci config "${H[@]}" --image "$oci:small" --created "$created" \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.env SIF_TEST_VAR=from-image \
  --config.entrypoint /bin/sh --config.entrypoint -c --config.cmd "echo entry-ok" \
  --config.workingdir /work --config.label org.sif.test=yes

# --- small-arm64: one layer with /arch, for the multi-architecture index ------------
umoci new --image "$oci:small-arm64"
b=$work/arm64
unpack small-arm64 "$b"
echo arm64 >"$b/rootfs/arch"
repack small-arm64 "$b" 1 "arm64 marker"
umoci config "${H[@]}" --image "$oci:small-arm64" --created "$created" --architecture arm64 --os linux

# --- multi: an OCI index over small (amd64) and small-arm64 -------------------------
# No tool at hand writes an index from existing manifests, so this does: the index blob
# lists both manifests with their platforms; index.json gets it under the tag "multi".
node --input-type=module - "$oci" <<'EOF'
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
const [oci] = process.argv.slice(2);
const blob = (d) => `${oci}/blobs/sha256/${d.slice('sha256:'.length)}`;
const top = JSON.parse(readFileSync(`${oci}/index.json`, 'utf8'));
const byTag = (tag) => {
  const m = top.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error(`no tag ${tag} in ${oci}`);
  const config = JSON.parse(readFileSync(blob(JSON.parse(readFileSync(blob(m.digest), 'utf8')).config.digest), 'utf8'));
  const platform = { architecture: config.architecture, os: config.os };
  if (config.architecture === 'arm64') platform.variant = 'v8';
  return { mediaType: m.mediaType, digest: m.digest, size: m.size, platform };
};
const index = {
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [byTag('small'), byTag('small-arm64')],
};
const bytes = Buffer.from(JSON.stringify(index));
const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
writeFileSync(blob(digest), bytes);
top.manifests.push({
  mediaType: index.mediaType, digest, size: bytes.length,
  annotations: { 'org.opencontainers.image.ref.name': 'multi' },
});
writeFileSync(`${oci}/index.json`, JSON.stringify(top));
EOF

# --- python: the debootstrap tarball as layer 1, plus a small app layer ------------
umoci new --image "$oci:python"
umoci raw add-layer "${H[@]}" --history.comment "debootstrap bookworm minbase + python3" \
  --image "$oci:python" "$tarball"
b=$work/python
unpack python "$b"
mkdir -p "$b/rootfs/opt/app"
printf 'print("hello from sif-test-python")\n' >"$b/rootfs/opt/app/hello.py"
rm -rf "$b/rootfs/usr/share/doc/"*
repack python "$b" 2 "app: /opt/app/hello.py, no /usr/share/doc"
umoci config "${H[@]}" --image "$oci:python" --created "$created" \
  --config.env PATH=/usr/local/bin:/usr/bin:/bin --config.cmd python3

# --- reference trees and other transports -----------------------------------------
for tag in small small-arm64 python; do
  umoci unpack --image "$oci:$tag" "$build/unpacked/$tag" >/dev/null
  chmod 0755 "$build/unpacked/$tag" # readable by the unprivileged test user
done
sk() { skopeo --insecure-policy copy --quiet "$@"; }
for tag in small python; do
  sk "oci:$oci:$tag" "oci-archive:$build/oci-archive/$tag.tar:$tag"
  sk "oci:$oci:$tag" "docker-archive:$build/docker-archive/$tag.tar:sif/$tag:latest"
done
sk --all "oci:$oci:multi" "oci-archive:$build/oci-archive/multi.tar:multi"
sk --dest-compress --dest-compress-format zstd "oci:$oci:small" "oci:$build/oci-zstd:small"
# skopeo's --dest-decompress only acts on dir: destinations, and an oci: destination
# compresses again unless told it may keep uncompressed layers: go through dir:.
sk --dest-decompress "oci:$oci:small" "dir:$work/plain"
sk --dest-oci-accept-uncompressed-layers "dir:$work/plain" "oci:$build/oci-plain:small"
grep -qs 'tar+zstd' "$build/oci-zstd/blobs/sha256/"* || die "skopeo wrote no zstd layers in oci-zstd"
grep -qs 'layer.v1.tar"' "$build/oci-plain/blobs/sha256/"* || die "skopeo wrote no uncompressed layers in oci-plain"

# umoci 0.4.7 leaves some layouts without the oci-layout file the spec requires, and
# writes index.json 0600: the builder's tests read these layouts as the test user.
for d in oci oci-zstd oci-plain; do
  [ -f "$build/$d/oci-layout" ] || printf '{"imageLayoutVersion":"1.0.0"}' >"$build/$d/oci-layout"
done
chmod -R a+rX "$build/oci" "$build/oci-zstd" "$build/oci-plain" "$build/oci-archive" "$build/docker-archive"

# Swap the new fixtures in, stamp last: an interrupted build leaves no stamp.
rm -rf --one-file-system "$work"
rm -f "$out/oci-fixtures.stamp"
for d in oci oci-zstd oci-plain oci-archive docker-archive unpacked; do
  rm -rf --one-file-system "${out:?}/$d"
  mv "$build/$d" "$out/$d"
done
echo "$stamp" >"$out/oci-fixtures.stamp"
log "done in $((SECONDS - started))s: $out (stamp $stamp)"
