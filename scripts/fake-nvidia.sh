#!/usr/bin/env bash
# Builds a fake NVIDIA driver root for the --nv tests (no GPU needed), as root:
#   ROOT/proc/driver/nvidia/version           the version file, read by sif through the
#                                             test-only SIF_TEST_NVIDIA_ROOT=ROOT
#   ROOT/usr/lib/x86_64-linux-gnu/lib*.so.V   libcuda, libnvidia-ml, libnvidia-ptxjitcompiler
#                                             (gcc-built, real sonames, soname links)
#   ROOT/usr/lib/i386-linux-gnu/libcuda.so.V  a 32-bit one (left out, or bound by --compat32)
#   ROOT/opt/old/libnvidia-ml.so.470.57.02    a leftover of an older driver
#   ROOT/usr/bin/nvidia-smi                   a script with a fixed answer, and -L's list: GPU 1
#                                             in MIG mode with MIG devices 0 and 1
#   ROOT/proc/driver/nvidia/gpus/<bus>/information  each GPU's minor and UUID
#   ROOT/proc/driver/nvidia-caps/mig-minors   the capability minors, numbered as the driver does
#   ROOT/dev/nvidia{0,1,ctl,-uvm,-uvm-tools} (mknod, major 195), ROOT/dev/nvidia-caps/nvidia-cap<M>:
#                                             config (1), monitor (2), and GPU 1's GPU instances
#                                             1 and 2 with compute instance 0 of each
#   ROOT/etc/ld.so.cache                      built over ROOT with ldconfig -r
#   ROOT/usr/share/vulkan/icd.d/nvidia_icd.json (an absolute library_path), ROOT/etc/OpenCL/vendors/nvidia.icd
#   ROOT/tmp/nvidia-mps                       an MPS pipe directory (mode 1777)
#   ROOT/etc/cdi/nvidia.yaml                  a CDI spec for nvidia.com/gpu in the shape
#                                             `nvidia-ctk cdi generate --driver-root=ROOT` writes
#                                             (host paths under ROOT, container paths as on a host)
#   ROOT/cuda-probe                           a program that dlopens libcuda.so.1 (for the image)
#   ROOT/compat/                              a cuda-compat package for a test image's
#                                             /usr/local/cuda-12.8/compat: libcuda of driver
#                                             570.86.10 (CUDA 12.8) with the package's note
#                                             naming branches 535-570, and its ptxjitcompiler
# Usage: scripts/fake-nvidia.sh [ROOT]  (default .cache/fake-nvidia); rebuilt only when
# this script or its sources change.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-$PWD/.cache/fake-nvidia}
src=test/native/fake-nvidia
version=550.54.14
stamp=$(cat "$0" "$src"/*.c | sha256sum | cut -c1-16)
[ -f "$root/.stamp" ] && [ "$(cat "$root/.stamp")" = "$stamp" ] && exit 0

rm -rf "$root"
lib=$root/usr/lib/x86_64-linux-gnu
mkdir -p "$lib" "$root/usr/lib/i386-linux-gnu" "$root/opt/old" "$root/usr/bin" "$root/proc/driver/nvidia" "$root/proc/driver/nvidia-caps" \
  "$root/dev/nvidia-caps" "$root/etc"
flags=(-shared -fPIC -O2 -Wall -DFAKE_CUDA_VERSION=12040 -DFAKE_DRIVER_VERSION="\"$version\"")
gcc "${flags[@]}" -Wl,-soname,libcuda.so.1 -o "$lib/libcuda.so.$version" "$src/libcuda.c"
gcc "${flags[@]}" -Wl,-soname,libnvidia-ml.so.1 -o "$lib/libnvidia-ml.so.$version" "$src/libnvidia-ml.c"
gcc "${flags[@]}" -Wl,-soname,libnvidia-ptxjitcompiler.so.1 -o "$lib/libnvidia-ptxjitcompiler.so.$version" -x c /dev/null
# A library of the list that is not NVIDIA's user-space driver of this version.
gcc "${flags[@]}" -Wl,-soname,libnvidia-ml.so.1 -o "$root/opt/old/libnvidia-ml.so.470.57.02" "$src/libnvidia-ml.c"
# 32-bit, without a 32-bit C library: against a stub libc.so.6, so that ldconfig files it as libc6.
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
gcc -m32 -shared -nostdlib -Wl,-soname,libc.so.6 -o "$stub/libc.so.6" -x c /dev/null
gcc -m32 -shared -nostdlib -fPIC -Wl,-soname,libcuda.so.1 -o "$root/usr/lib/i386-linux-gnu/libcuda.so.$version" -x c /dev/null -x none "$stub/libc.so.6"
for d in "$lib" "$root/usr/lib/i386-linux-gnu" "$root/opt/old"; do
  for f in "$d"/lib*.so.*.*; do
    name=$(basename "$f")
    ln -s "$name" "$d/${name%%.so.*}.so.1"
  done
done
printf '/usr/lib/x86_64-linux-gnu\n/usr/lib/i386-linux-gnu\n/opt/old\n' > "$root/etc/ld.so.conf"
ldconfig -r "$root" -C /etc/ld.so.cache -f /etc/ld.so.conf -X

gpu0=GPU-00000000-0000-4000-8000-000000000000 gpu1=GPU-11111111-1111-4111-8111-111111111111
mig0=MIG-aaaaaaaa-0000-5000-8000-000000000000 mig1=MIG-bbbbbbbb-1111-5111-8111-111111111111
cat > "$root/usr/bin/nvidia-smi" <<SMI
#!/bin/sh
if [ "\$1" = -L ]; then
  echo "GPU 0: Fake GPU (UUID: $gpu0)"
  echo "GPU 1: Fake GPU (UUID: $gpu1)"
  echo "  MIG 1g.5gb      Device  0: (UUID: $mig0)"
  echo "  MIG 1g.5gb      Device  1: (UUID: $mig1)"
  exit 0
fi
echo "fake nvidia-smi: driver 550.54.14, CUDA 12.4"
SMI
chmod 755 "$root/usr/bin/nvidia-smi"
printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n' "$version" \
  > "$root/proc/driver/nvidia/version"
for n in 0 1; do mknod -m 666 "$root/dev/nvidia$n" c 195 "$n"; done
mknod -m 666 "$root/dev/nvidiactl" c 195 255
mknod -m 666 "$root/dev/nvidia-uvm" c 510 0
mknod -m 666 "$root/dev/nvidia-uvm-tools" c 510 1
# The driver's numbering: config 1, monitor 2, then per GPU (by minor) 15 GPU instances
# of 9 minors each: the instance's access, then its compute instances 0-7.
cap() { if [ $# = 3 ]; then echo $((3 + $1 * 135 + $2 * 9 + 1 + $3)); else echo $((3 + $1 * 135 + $2 * 9)); fi; }
{
  printf 'config 1\nmonitor 2\n'
  for g in 0 1; do for gi in $(seq 0 14); do
    printf 'gpu%d/gi%d/access %d\n' "$g" "$gi" "$(cap "$g" "$gi")"
    for ci in $(seq 0 7); do printf 'gpu%d/gi%d/ci%d/access %d\n' "$g" "$gi" "$ci" "$(cap "$g" "$gi" "$ci")"; done
  done; done
} > "$root/proc/driver/nvidia-caps/mig-minors"
mknod -m 400 "$root/dev/nvidia-caps/nvidia-cap1" c 511 1
mknod -m 444 "$root/dev/nvidia-caps/nvidia-cap2" c 511 2
for m in "$(cap 1 1)" "$(cap 1 1 0)" "$(cap 1 2)" "$(cap 1 2 0)"; do mknod -m 444 "$root/dev/nvidia-caps/nvidia-cap$m" c 511 "$m"; done
for g in 0 1; do
  bus=$([ $g = 0 ] && echo 0000:3b:00.0 || echo 0000:86:00.0)
  uuid=$([ $g = 0 ] && echo $gpu0 || echo $gpu1)
  mkdir -p "$root/proc/driver/nvidia/gpus/$bus"
  printf 'Model: \t\t Fake GPU\nIRQ:   \t\t 44\nGPU UUID: \t %s\nVideo BIOS: \t 88.00.4f.00.09\nBus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t %s\nDevice Minor: \t %d\nGPU Excluded:\t No\n' \
    "$uuid" "$bus" "$g" > "$root/proc/driver/nvidia/gpus/$bus/information"
done
mkdir -p "$root/usr/share/vulkan/icd.d" "$root/etc/OpenCL/vendors"
printf '{\n    "file_format_version" : "1.0.1",\n    "ICD": {\n        "library_path": "/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0",\n        "api_version" : "1.3.277"\n    }\n}\n' \
  > "$root/usr/share/vulkan/icd.d/nvidia_icd.json"
echo libnvidia-opencl.so.1 > "$root/etc/OpenCL/vendors/nvidia.icd"
mkdir -p -m 1777 "$root/tmp/nvidia-mps"
mkdir -p "$root/etc/cdi"
{
  printf -- '---\ncdiVersion: 0.5.0\ncontainerEdits:\n  deviceNodes:\n'
  for n in nvidiactl nvidia-uvm nvidia-uvm-tools; do printf '  - hostPath: %s/dev/%s\n    path: /dev/%s\n' "$root" "$n" "$n"; done
  printf '  env:\n  - NVIDIA_VISIBLE_DEVICES=void\n  hooks:\n'
  hook() { printf '  - args:\n'; for a in nvidia-cdi-hook "$@"; do printf '    - %s\n' "$a"; done
    printf '    env:\n    - NVIDIA_CTK_DEBUG=false\n    hookName: createContainer\n    path: /usr/bin/nvidia-cdi-hook\n'; }
  hook create-symlinks --link libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so
  hook enable-cuda-compat --host-driver-version=$version
  hook update-ldcache --folder /usr/lib/x86_64-linux-gnu
  printf '  mounts:\n'
  for f in usr/lib/x86_64-linux-gnu/libcuda.so.$version usr/lib/x86_64-linux-gnu/libnvidia-ml.so.$version \
    usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.$version usr/bin/nvidia-smi; do
    printf '  - containerPath: /%s\n    hostPath: %s/%s\n    options:\n    - ro\n    - nosuid\n    - nodev\n    - rbind\n    - rprivate\n' "$f" "$root" "$f"
  done
  printf 'devices:\n'
  dev() { printf -- '- containerEdits:\n    deviceNodes:\n'; for n in "${@:2}"; do printf '    - hostPath: %s/dev/nvidia%s\n      path: /dev/nvidia%s\n' "$root" "$n" "$n"; done
    printf '  name: %s\n' "$1"; }
  dev '"0"' 0; dev '"1"' 1
  dev $gpu0 0; dev $gpu1 1
  dev all 0 1
  printf 'kind: nvidia.com/gpu\n'
} > "$root/etc/cdi/nvidia.yaml"
gcc -O2 -Wall -o "$root/cuda-probe" "$src/cuda-probe.c"
compat=570.86.10
mkdir -p "$root/compat"
cflags=(-shared -fPIC -O2 -Wall -DFAKE_CUDA_VERSION=12080 -DFAKE_DRIVER_VERSION="\"$compat\""
  -DFAKE_COMPAT_NOTE='"{\"Format\":1,\"CUDA Version\":\"12.8\",\"Driver\":[535,550,560,570],\"Device\":[1,2,7,8]}"')
gcc "${cflags[@]}" -Wl,-soname,libcuda.so.1 -o "$root/compat/libcuda.so.$compat" "$src/libcuda.c" "$src/compat-note.c"
gcc "${cflags[@]}" -Wl,-soname,libnvidia-ptxjitcompiler.so.1 -o "$root/compat/libnvidia-ptxjitcompiler.so.$compat" -x c /dev/null
ln -s "libcuda.so.$compat" "$root/compat/libcuda.so.1"
ln -s libcuda.so.1 "$root/compat/libcuda.so"
ln -s "libnvidia-ptxjitcompiler.so.$compat" "$root/compat/libnvidia-ptxjitcompiler.so.1"
chmod -R o+rX "$root"
echo "$stamp" > "$root/.stamp"
