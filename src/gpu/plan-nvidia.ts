import type { GpuHostFacts } from '../host/gpu-host-facts.js';
import { type CompatImage, type CompatRequest, planCompat } from './cuda-compat.js';
import { driverCudaVersion, imageCudaNeed } from './cuda-version.js';
import { parseDriverVersion } from './driver-version.js';
import { rewriteIcd } from './icd-files.js';
import { CONTAINER_BIN_DIR, CONTAINER_LIB32_DIR, CONTAINER_LIB_DIR, NVIDIA_BINARIES, NVIDIA_ICD_FILES, NVIDIA_LIBRARIES, PERSISTENCED_SOCKET } from './nvidia-files.js';
import { parseSiteConfig } from '../host/site-config.js';
import { planDevices } from './plan-devices.js';
import { type GpuSelection, selectGpus } from './visible-devices.js';

export interface NvidiaRequest {
  /** --contain: /dev is minimal, so the chosen GPUs' nodes must be bound into it. */
  contain: boolean;
  /**
   * /tmp is the container's own tmpfs (--contain without --workdir). Otherwise it is
   * the host's /tmp, which shows the MPS pipe directory already, or --workdir's, where
   * sif makes no mount point.
   */
  privateTmp?: boolean;
  /** The image's OCI environment (KEY=VALUE), for the CUDA version it needs. */
  imageEnv?: readonly string[];
  /** --compat32: also the driver's 32-bit libraries, into CONTAINER_LIB32_DIR. */
  compat32?: boolean;
  /** --nv-compat: the image's CUDA forward-compatibility libraries in place of the host's (cuda-compat.ts). */
  compat?: boolean;
}

/** A host file bound read-only into the container. */
export interface GpuMount {
  src: string;
  dst: string;
  /** Bound read-write (the MPS pipe directory, where clients talk to the daemon). */
  writable?: boolean;
}

export interface NvidiaPlan {
  driverVersion?: string;
  /** Libraries, binaries, device nodes, sockets: read-only binds, but for the MPS pipe directory. */
  mounts: GpuMount[];
  /** Files written into the container (ICD and vendor files, rewritten where they name a host path). */
  files: { dst: string; data: string }[];
  /** Links made beside the libraries (libcuda.so -> libcuda.so.1, for programs that dlopen the bare name). */
  links: { target: string; dst: string }[];
  /** Variables to set in the container. */
  env: Record<string, string>;
  selection: GpuSelection;
  /** Every decision, for `sif doctor --gpu` and --debug. */
  notes: string[];
  /** What the user should hear. */
  warnings: string[];
}

const LIBRARIES = new Set(NVIDIA_LIBRARIES);
const ARCH_MASK = 0xff00;
/** The 32-bit ELF machine beside a 64-bit one: i386 beside x86-64, ARM beside AArch64. */
const COMPAT_MACHINE: Record<number, number> = { 62: 3, 183: 40 };

/** Whether a library name is one of the list's (for reading only those of the host's cache). */
export function isNvidiaLibrary(soname: string): boolean {
  const base = libraryBase(soname);
  return base !== undefined && LIBRARIES.has(base);
}

/** "libcuda" for "libcuda.so.1", if the name has a version after ".so". */
function libraryBase(name: string): string | undefined {
  const at = name.indexOf('.so.');
  return at > 0 ? name.slice(0, at) : undefined;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

interface Candidate {
  soname: string;
  path: string;
  /** 64 when it is of the host's own architecture, 32 (or other) when not. */
  own: boolean;
  origin: string;
}

/** Libraries named in the list, from the site's directories first, then the host's ld.so.cache. */
function candidates(facts: GpuHostFacts, version: string, libDirs: string[]): Candidate[] {
  const out: Candidate[] = [];
  for (const dir of libDirs) {
    const names = (facts.listDir(dir) ?? []).sort();
    for (const name of names) {
      const base = libraryBase(name);
      if (!base || !LIBRARIES.has(base)) continue;
      // The versioned file is taken under its soname link when the directory has one.
      if (name === `${base}.so.${version}` && names.some((n) => n !== name && libraryBase(n) === base)) continue;
      const path = `${dir}/${name}`;
      const kind = facts.elfKind(path);
      if (!kind) continue;
      out.push({ soname: name, path, own: kind.elfClass === 64 && kind.machine === facts.elfMachine(), origin: `sif.conf 'nvidia lib dir' ${dir}` });
    }
  }
  const own = facts.cacheFlags();
  for (const e of facts.ldCache()) {
    const base = libraryBase(e.soname);
    if (!base || !LIBRARIES.has(base)) continue;
    // The architecture byte: 0x03 x86-64, 0x0a aarch64, 0x00 i386 (a library linked
    // without libc is typed plain ELF rather than libc6, same architecture byte).
    out.push({ soname: e.soname, path: e.path, own: (e.flags & ARCH_MASK) === (own & ARCH_MASK), origin: 'ld.so.cache' });
  }
  return out;
}

/**
 * Whether a 32-bit candidate is the 32-bit companion of the host's architecture (i386
 * on x86-64), read from its ELF header: the cache's flags say only "not ours".
 */
function isCompat32(facts: GpuHostFacts, path: string): boolean {
  const kind = facts.elfKind(path);
  return kind?.elfClass === 32 && kind.machine === COMPAT_MACHINE[facts.elfMachine()];
}

function planLibraries(facts: GpuHostFacts, version: string, libDirs: string[], compat32: boolean, plan: NvidiaPlan): void {
  const bound = new Set<string>();
  const bound32 = new Set<string>();
  const skipped32 = new Set<string>();
  for (const c of candidates(facts, version, libDirs)) {
    if ((c.own ? bound : bound32).has(c.soname)) {
      plan.notes.push(`skip ${c.path} (${c.origin}): ${c.soname} is already bound`);
      continue;
    }
    const base = libraryBase(c.soname)!;
    const real = facts.realPath(c.path);
    if (!real) {
      plan.notes.push(`skip ${c.path} (${c.origin}): it does not exist`);
      continue;
    }
    // The file behind the soname link must be this driver's: a leftover of an older
    // driver in another directory would not talk to the running kernel module.
    if (basename(real) !== `${base}.so.${version}`) {
      plan.notes.push(`skip ${c.path} -> ${real} (${c.origin}): not of driver ${version}`);
      continue;
    }
    if (!c.own) {
      // Never into the 64-bit directory: a 32-bit set of its own, and only when asked.
      if (compat32 && isCompat32(facts, real)) {
        bound32.add(c.soname);
        plan.mounts.push({ src: real, dst: `${CONTAINER_LIB32_DIR}/${c.soname}` });
        plan.notes.push(`32-bit library ${c.soname}: ${real} (${c.origin}) into ${CONTAINER_LIB32_DIR}`);
        continue;
      }
      skipped32.add(c.soname);
      plan.notes.push(`skip ${c.path} (${c.origin}): ${compat32 ? 'of an architecture that is neither the host\'s nor its 32-bit one' : '32-bit or another architecture; only the host\'s own are bound without --compat32'}`);
      continue;
    }
    bound.add(c.soname);
    plan.mounts.push({ src: real, dst: `${CONTAINER_LIB_DIR}/${c.soname}` });
    plan.notes.push(`library ${c.soname}: ${real} (${c.origin})`);
  }
  if (bound.has('libcuda.so.1')) plan.links.push({ target: 'libcuda.so.1', dst: `${CONTAINER_LIB_DIR}/libcuda.so` });
  if (bound32.has('libcuda.so.1')) plan.links.push({ target: 'libcuda.so.1', dst: `${CONTAINER_LIB32_DIR}/libcuda.so` });
  if (!bound.has('libcuda.so.1')) plan.warnings.push(`--nv: no libcuda.so.1 of driver ${version} found in the library cache${libDirs.length ? ' or the sif.conf directories' : ''}: CUDA programs will not find the driver (name its directory with 'nvidia lib dir = DIR' in /etc/sif/sif.conf)`);
  if (skipped32.size) plan.notes.push(`32-bit libraries not bound: ${[...skipped32].sort().join(', ')}${compat32 ? '' : ` (--compat32 binds them into ${CONTAINER_LIB32_DIR}, for 32-bit programs)`}`);
  if (bound32.size) plan.notes.push(`32-bit libraries in ${CONTAINER_LIB32_DIR}, after ${CONTAINER_LIB_DIR} on LD_LIBRARY_PATH: ${[...bound32].sort().join(', ')}`);
  else if (compat32) plan.warnings.push(`--compat32: the driver has no 32-bit libraries of version ${version} on this host: 32-bit programs will not find it`);
}

function planBinaries(facts: GpuHostFacts, binDirs: string[], plan: NvidiaPlan): void {
  const dirs = [...binDirs, ...facts.binaryDirs()];
  for (const name of NVIDIA_BINARIES) {
    const dir = dirs.find((d) => facts.isExecutable(`${d}/${name}`));
    const real = dir && facts.realPath(`${dir}/${name}`);
    if (!real) {
      plan.notes.push(`program ${name}: not found`);
      continue;
    }
    plan.mounts.push({ src: real, dst: `${CONTAINER_BIN_DIR}/${name}` });
    plan.notes.push(`program ${name}: ${real} at ${CONTAINER_BIN_DIR}/${name}`);
  }
}

function planIcdFiles(facts: GpuHostFacts, plan: NvidiaPlan): void {
  for (const path of NVIDIA_ICD_FILES) {
    const text = facts.driverFile(path);
    if (text === undefined) continue;
    const data = rewriteIcd(path, text);
    if (data === undefined) {
      plan.notes.push(`skip ${path}: not an ICD file sif can read`);
      continue;
    }
    plan.files.push({ dst: path, data });
    plan.notes.push(`ICD file ${path}${data === text ? '' : ' (library path made a bare name, found in /.singularity.d/libs)'}`);
  }
}

/** What the compat planning is asked, for the driver version given (from facts when not). */
export function compatRequest(req: NvidiaRequest, facts: GpuHostFacts, version = driverVersionOf(facts)): CompatRequest {
  const need = imageCudaNeed(req.imageEnv ?? []);
  return { use: req.compat === true, ...(need ? { need } : {}), driver: version ?? '', machine: facts.elfMachine() };
}

function driverVersionOf(facts: GpuHostFacts): string | undefined {
  const text = facts.driverVersionText();
  return text === undefined ? undefined : parseDriverVersion(text);
}

/**
 * Plans --nv: the running driver's libraries into /.singularity.d/libs (under their
 * sonames, 64-bit only; the 32-bit set apart with --compat32), its programs at
 * /usr/bin, its device nodes (with --contain), the persistence daemon's socket, and
 * with --nv-compat the image's forward-compatibility libraries in place of the host's
 * (`image`, read only then or when the image needs a newer CUDA). Without a driver: a
 * warning, and nothing to bind.
 */
export function planNvidia(req: NvidiaRequest, facts: GpuHostFacts, image?: CompatImage): NvidiaPlan {
  const plan: NvidiaPlan = { mounts: [], files: [], links: [], env: {}, selection: selectGpus(facts.env), notes: [], warnings: [] };
  const text = facts.driverVersionText();
  const version = text === undefined ? undefined : parseDriverVersion(text);
  if (!version) {
    plan.warnings.push(
      text === undefined
        ? '--nv: no NVIDIA driver is loaded on this host (no /proc/driver/nvidia/version): running without GPU support'
        : '--nv: cannot read the driver version in /proc/driver/nvidia/version: running without GPU support',
    );
    return plan;
  }
  plan.driverVersion = version;
  plan.notes.push(`driver ${version} (/proc/driver/nvidia/version), CUDA ${driverCudaVersion(version) ?? 'older than 11.0'}`);
  const compat = compatRequest(req, facts, version);
  if (compat.need) plan.notes.push(`the image needs CUDA ${compat.need.version} (${compat.need.from})`);
  const site = parseSiteConfig(facts.siteConfig());
  for (const p of site.problems) plan.warnings.push(p);
  planLibraries(facts, version, site.nvidiaLibDirs, req.compat32 === true, plan);
  planCompat(compat, image, plan);
  planBinaries(facts, site.nvidiaBinDirs, plan);
  planIcdFiles(facts, plan);
  planDevices(facts, req, plan, plan.mounts.find((m) => m.dst === `${CONTAINER_BIN_DIR}/nvidia-smi`)?.src);
  const mps = facts.mpsPipeDir();
  const underTmp = mps && (mps.path === '/tmp' || mps.path.startsWith('/tmp/'));
  if (mps && underTmp && !req.privateTmp) {
    plan.notes.push(`MPS pipe directory ${mps.path}: in the container's /tmp, which is a host directory, not bound`);
  } else if (mps) {
    plan.mounts.push({ src: mps.src, dst: mps.path, writable: true });
    plan.notes.push(`MPS pipe directory ${mps.path}`);
  }
  const socket = facts.persistencedSocket();
  if (socket) {
    plan.mounts.push({ src: socket, dst: PERSISTENCED_SOCKET });
    plan.notes.push(`persistenced socket ${socket}`);
  }
  return plan;
}
