import type { LdCacheEntry } from './elf/ld-so-cache.js';

/** A device node of the driver: its name below /dev (nvidia0, nvidia-caps/nvidia-cap1) and host path. */
export interface DeviceNode {
  name: string;
  path: string;
}

/**
 * What --nv needs to know about the host, asked for lazily (each at most once) so that
 * the planner (src/gpu/plan-nvidia.ts) stays pure and tests give it a fake host.
 * Paths returned are host paths to bind.
 */
export interface GpuHostFacts {
  /** /proc/driver/nvidia/version's text; undefined without a loaded driver. */
  driverVersionText(): string | undefined;
  /** The host's ld.so.cache entries. */
  ldCache(): LdCacheEntry[];
  /** The ld.so.cache flags of the host's own libraries (0x0303 on x86-64, 0x0a03 on aarch64). */
  cacheFlags(): number;
  /** The site file's text (/etc/sif/sif.conf), or undefined. */
  siteConfig(): string | undefined;
  /** Names in a directory; undefined when it cannot be read. */
  listDir(dir: string): string[] | undefined;
  /** The path with symlinks resolved; undefined when it does not exist. */
  realPath(path: string): string | undefined;
  /** ELF class (32 or 64) and machine of a file, from its header; undefined if not ELF. */
  elfKind(path: string): { elfClass: 32 | 64; machine: number } | undefined;
  /** The ELF machine of the host's own programs (62 on x86-64, 183 on aarch64). */
  elfMachine(): number;
  /** Whether path is an executable regular file. */
  isExecutable(path: string): boolean;
  /** The driver's device nodes present under /dev (nvidia*, nvidia-caps/*). */
  deviceNodes(): DeviceNode[];
  /** Each /proc/driver/nvidia/gpus/<bus>/information: the bus id and the text; undefined when none can be read. */
  gpuInformation(): { busId: string; text: string }[] | undefined;
  /** /proc/driver/nvidia-caps/mig-minors (what each /dev/nvidia-caps node opens), or undefined. */
  migMinors(): string | undefined;
  /** What `program -L` (the driver's nvidia-smi) prints, or undefined when it fails or hangs. */
  nvidiaSmiList(program: string): string | undefined;
  /** Directories to look for the driver's programs in, in order. */
  binaryDirs(): string[];
  /** A small text file of the driver (an ICD or vendor file), or undefined when absent. */
  driverFile(path: string): string | undefined;
  /** The MPS pipe directory (CUDA_MPS_PIPE_DIRECTORY, else /tmp/nvidia-mps) when it exists: its path in the container and on the host. */
  mpsPipeDir(): { path: string; src: string } | undefined;
  /** The persistence daemon's socket, when it exists. */
  persistencedSocket(): string | undefined;
  env: Record<string, string>;
}
