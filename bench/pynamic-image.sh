#!/usr/bin/env bash
# Usage: bash bench/pynamic-image.sh BASE_IMAGE DIR MODULES   (as root: chroot)
# Makes DIR/tree, the base image's tree plus /pynamic (MODULES generated modules of 20
# functions, precompiled, a 48 MiB file of text, and the payloads below), and
# DIR/pynamic.sqfs, that tree as plain squashfs. Shared by bench/pynamic.sh and bench/netfs.sh.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
image=$1 work=$2 modules=$3
tree=$work/tree
unsquashfs -q -n -d "$tree" "$image" >/dev/null
# Generated and precompiled by the image's own python (the .pyc format is per
# version; the host needs no python). The modules go on sys.path last, as
# site-packages would: each import first misses in the standard library's directories.
mkdir "$tree/pynamic"
cp "$repo/bench/pynamic-gen.py" "$tree/pynamic/gen.py"
chroot "$tree" python3 /pynamic/gen.py /pynamic/lib "$modules" 20
chroot "$tree" python3 -m compileall -q /pynamic/lib >/dev/null
cat >"$tree/pynamic/import.py" <<PY
import sys, time
sys.path.append('/pynamic/lib')
t = time.perf_counter()
for i in range($modules):
    __import__('pyn%04d' % i)
print('%.6f' % (time.perf_counter() - t))
PY
# First import in a fresh container, then the same in a second process in that container.
cat >"$tree/pynamic/import.sh" <<'SH'
echo "import-first $(python3 /pynamic/import.py)"
echo "import-repeat $(python3 /pynamic/import.py)"
SH
# N readers of /usr, each taking every Nth file (as bench/read.sh), timed together.
cat >"$tree/pynamic/tar.sh" <<'SH'
n=$1; i=0; s=$(date +%s%N)
b=$(while [ $i -lt $n ]; do find /usr ! -type d | sort | awk -v n=$n -v i=$i "NR % n == i" | /bin/tar -cf - -T - 2>/dev/null | wc -c & i=$((i+1)); done; wait)
e=$(date +%s%N)
echo $b | tr ' ' '\n' | awk -v n=$n -v s=$s -v e=$e '{ b += $1 } END { printf "tar%d %.6f %d\n", n, (e - s) / 1e9, b }'
SH
# One reader of one large file, start to end: text of random words, which zstd
# shrinks to about half (a log, a data set).
chroot "$tree" python3 -c '
import random
r = random.Random(1)
words = ["".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(2, 9))) for _ in range(5000)]
with open("/pynamic/stream.dat", "w") as f:
    for _ in range(48):
        f.write(" ".join(r.choice(words) for _ in range(200000))[:1 << 20])
'
cat >"$tree/pynamic/stream.sh" <<'SH'
s=$(date +%s%N); b=$(cat /pynamic/stream.dat | wc -c); e=$(date +%s%N)
awk -v s=$s -v e=$e -v b=$b 'BEGIN { printf "stream1 %.6f %d\n", (e - s) / 1e9, b }'
SH
chmod -R a+rX "$tree/pynamic"
# zstd level 3: what sif build writes by default.
mksquashfs "$tree" "$work/pynamic.sqfs" -comp zstd -Xcompression-level 3 -noappend -quiet >/dev/null
chmod 644 "$work/pynamic.sqfs"
