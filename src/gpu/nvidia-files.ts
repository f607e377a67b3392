/**
 * What --nv takes from the host's NVIDIA driver: the user-space libraries (by name, before
 * ".so"), the programs, and the device nodes. Kept here, in one place, and listed in the
 * README; a library missing from the list is not bound (add it here when a driver grows one).
 * Only files of the running driver's version are taken (see plan-nvidia.ts).
 */

/** Libraries, grouped as the driver's capabilities are; every one is versioned like the driver. */
export const NVIDIA_LIBRARIES: readonly string[] = [
  // utility (NVML, nvidia-smi's library)
  'libnvidia-ml', 'libnvidia-cfg', 'libnvidia-nscq',
  // compute (CUDA driver API, JIT, debugger, OpenCL)
  'libcuda', 'libcudadebugger', 'libnvidia-ptxjitcompiler', 'libnvidia-nvvm', 'libnvidia-gpucomp',
  'libnvidia-opencl', 'libnvidia-allocator', 'libnvidia-compiler', 'libnvidia-fatbinaryloader',
  'libnvidia-pkcs11', 'libnvidia-pkcs11-openssl3',
  // video (decode, encode, optical flow)
  'libnvcuvid', 'libnvidia-encode', 'libnvidia-opticalflow', 'libvdpau_nvidia',
  // graphics: the NVIDIA vendor libraries behind GLVND, EGL and Vulkan, and their cores
  'libGLX_nvidia', 'libEGL_nvidia', 'libGLESv2_nvidia', 'libGLESv1_CM_nvidia',
  'libnvidia-eglcore', 'libnvidia-glcore', 'libnvidia-tls', 'libnvidia-glsi', 'libnvidia-glvkspirv',
  'libnvidia-rtcore', 'libnvoptix', 'libnvidia-fbc', 'libnvidia-ifr', 'libnvidia-cbl', 'libnvidia-ngx',
];

/** Programs of the driver, bound at /usr/bin/<name> as Apptainer does. */
export const NVIDIA_BINARIES: readonly string[] = [
  'nvidia-smi', 'nvidia-debugdump', 'nvidia-persistenced', 'nvidia-cuda-mps-control', 'nvidia-cuda-mps-server',
];

/** Device nodes every GPU process needs (those present are bound); GPUs are /dev/nvidia<N>. */
export const NVIDIA_CONTROL_NODES: readonly string[] = ['nvidiactl', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia-modeset'];

/** The persistence daemon's socket: NVML talks to it when it runs. */
export const PERSISTENCED_SOCKET = '/var/run/nvidia-persistenced/socket';

/** Where the libraries go in the container: on the library path, as in Apptainer. */
export const CONTAINER_LIB_DIR = '/.singularity.d/libs';
/**
 * The 32-bit set (--compat32), apart from the 64-bit one and after it on the library
 * path: a 64-bit program finds every driver library in CONTAINER_LIB_DIR first, and the
 * loader passes over an object of the other ELF class anyway (Apptainer's directory).
 */
export const CONTAINER_LIB32_DIR = '/.singularity.d/libs32';
export const CONTAINER_BIN_DIR = '/usr/bin';

/**
 * The driver's ICD and vendor files, which tell the Vulkan, EGL and OpenCL loaders where
 * NVIDIA's library is; each is put in the container at the same path, when the host has it.
 */
export const NVIDIA_ICD_FILES: readonly string[] = [
  '/usr/share/glvnd/egl_vendor.d/10_nvidia.json',
  '/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json',
  '/usr/share/egl/egl_external_platform.d/10_nvidia_wayland.json',
  '/usr/share/egl/egl_external_platform.d/09_nvidia_wayland2.json',
  '/usr/share/egl/egl_external_platform.d/20_nvidia_xcb.json',
  '/usr/share/egl/egl_external_platform.d/20_nvidia_xlib.json',
  '/usr/share/vulkan/icd.d/nvidia_icd.json',
  '/etc/vulkan/icd.d/nvidia_icd.json',
  '/usr/share/vulkan/implicit_layer.d/nvidia_layers.json',
  '/etc/vulkan/implicit_layer.d/nvidia_layers.json',
  '/etc/OpenCL/vendors/nvidia.icd',
];
