/**
 * CUDA forward compatibility (--nv-compat): an image that needs a newer CUDA than the
 * host driver runs may carry NVIDIA's cuda-compat package, a newer user-space libcuda
 * (and its JIT libraries) that works with an older kernel module on data-center GPUs.
 * With --nv-compat, each of the package's libraries replaces the host's of the same
 * soname in /.singularity.d/libs (a link into the image's compat directory), so every
 * program finds it first, whatever the image's LD_LIBRARY_PATH and env scripts do; the
 * rest of the driver (NVML, ...) stays the host's. Pure: the image comes through
 * CompatImage, read only when the option is given or the image needs a newer CUDA.
 */
import { compareVersions, type CompatInImage, cudaMismatch, driverCudaVersion } from './cuda-version.js';
import { CONTAINER_LIB_DIR } from './nvidia-files.js';
import type { NvidiaPlan } from './plan-nvidia.js';

export interface CompatLibrary {
  elfClass: 32 | 64;
  machine: number;
  soname?: string;
  /** The package's note (.note.cuda.fwd_compatibility): the driver branches it supports, its CUDA version. */
  forward?: { drivers?: number[]; cuda?: string };
}

/** The image's files, as --nv-compat needs them. */
export interface CompatImage {
  /** Names in a directory of the image (symlinks followed); null when there is none. */
  list(dir: string): readonly string[] | null;
  /** The ELF facts of a library in the image; undefined when it is not one. */
  library(path: string): CompatLibrary | undefined;
}

export interface CompatRequest {
  /** --nv-compat */
  use: boolean;
  need?: { version: string; from: string };
  /** The host driver's version. */
  driver: string;
  /** The host's ELF machine: only libraries of it replace the host's. */
  machine: number;
}

const COMPAT_LIBCUDA = /^libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$/;

/** Where the package puts its libraries: /usr/local/cuda-X.Y/compat (also reached as /usr/local/cuda/compat), or a lib/ below. */
export function findCompat(image: CompatImage): (CompatInImage & { files: string[] }) | undefined {
  const dirs = ['/usr/local/cuda/compat'];
  for (const n of image.list('/usr/local') ?? []) if (/^cuda-\d+\.\d+$/.test(n)) dirs.push(`/usr/local/${n}/compat`);
  let best: { dir: string; version: string; names: readonly string[] } | undefined;
  for (const dir of dirs.flatMap((d) => [d, `${d}/lib`])) {
    const names = image.list(dir);
    if (!names) continue;
    for (const n of names) {
      const version = COMPAT_LIBCUDA.exec(n)?.[1];
      if (!version || (best && compareVersions(version, best.version) <= 0)) continue;
      best = { dir, version, names };
    }
  }
  // The files once, for the newest only: a listing of n versions, filtered at each, costs n².
  if (!best) return undefined;
  const { dir, version, names } = best;
  return { dir, version, files: names.filter((f) => f.startsWith('lib') && f.endsWith(`.so.${version}`)) };
}

const major = (v: string) => Number(v.split('.')[0]);

/** The package has about ten libraries; a directory claiming more is not read past this many. */
const MAX_COMPAT_LIBRARIES = 64;

/** A name that stays in /.singularity.d/libs: no slash, not . or .., no NUL. */
const plainName = (n: string) => n !== '.' && n !== '..' && n.length > 0 && n.length <= 255 && !/[/\0]/.test(n);

/** Whether planCompat looks in the image: with --nv-compat, or when the image needs a newer CUDA than the driver's. */
export function compatReadsImage(req: CompatRequest): boolean {
  return req.use || (req.need !== undefined && cudaMismatch(req.need, req.driver) !== undefined);
}

/**
 * Whether the compat libraries are used, and the CUDA check with them in mind: the
 * mismatch warning (telling --nv-compat when the image has the package), or with
 * --nv-compat the links replacing the host's libraries. The image is not read when
 * the option is not given and the driver is new enough.
 */
export function planCompat(req: CompatRequest, image: CompatImage | undefined, plan: NvidiaPlan): void {
  const mismatch = (c?: CompatInImage) => (req.need ? cudaMismatch(req.need, req.driver, c) : undefined);
  if (!compatReadsImage(req)) return;
  if (!image) {
    // sif doctor --gpu without an image: nothing to look in.
    if (req.use) plan.notes.push('--nv-compat: no image given, so no compat libraries to look for');
    return void (req.need && plan.warnings.push(mismatch()!));
  }
  const found = findCompat(image);
  const newer = found && major(found.version) > major(req.driver) ? found : undefined;
  if (found) plan.notes.push(`the image's CUDA forward-compatibility libraries: driver ${found.version} in ${found.dir}`);
  const warn = (w: string | undefined) => w && plan.warnings.push(w);
  if (!req.use) return void warn(mismatch(newer));
  if (!found) {
    plan.warnings.push('--nv-compat: the image has no CUDA forward-compatibility libraries (libcuda.so.<version> in /usr/local/cuda/compat or /usr/local/cuda-X.Y/compat): the host driver\'s are used');
    return void warn(mismatch());
  }
  if (!newer) {
    plan.notes.push(`--nv-compat: the image's compat libraries (driver ${found.version}) are not of a newer branch than the host driver ${req.driver}: the host's are used`);
    return void warn(mismatch());
  }
  const libcuda = image.library(`${found.dir}/libcuda.so.${found.version}`);
  const drivers = libcuda?.forward?.drivers;
  if (drivers && !drivers.includes(major(req.driver))) {
    plan.warnings.push(
      `--nv-compat: the image's compat libraries (driver ${found.version}) support forward compatibility on driver branches ${drivers.join(', ')}, not the host's ${major(req.driver)}: the host driver's are used`,
    );
    return void warn(mismatch());
  }
  plan.notes.push(
    drivers
      ? `--nv-compat: driver branch ${major(req.driver)} is one the package supports (${drivers.join(', ')})`
      : `--nv-compat: the package names no driver branches (no .note.cuda.fwd_compatibility): whether branch ${major(req.driver)} supports forward compatibility is not known here; where it does not, or on a GPU without it, cuInit fails with CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE (804)`,
  );
  // libcuda first: it is the one library the package is for.
  const files = [...found.files].sort((a, b) => Number(b.startsWith('libcuda.so.')) - Number(a.startsWith('libcuda.so.')));
  if (files.length > MAX_COMPAT_LIBRARIES) {
    plan.warnings.push(`--nv-compat: ${found.dir} holds ${files.length} libraries of driver ${found.version}, more than the ${MAX_COMPAT_LIBRARIES} sif reads: the rest are left out`);
  }
  for (const file of files.slice(0, MAX_COMPAT_LIBRARIES)) {
    const path = `${found.dir}/${file}`;
    const lib = image.library(path);
    if (!lib || lib.elfClass !== 64 || lib.machine !== req.machine) {
      plan.notes.push(`--nv-compat: skip ${path}: not a library of the host's architecture`);
      continue;
    }
    const soname = lib.soname ?? file;
    if (!plainName(soname)) {
      // A hostile image's soname must not place a link outside the library directory.
      plan.notes.push(`--nv-compat: skip ${path}: its soname ${JSON.stringify(soname)} is not a plain file name`);
      continue;
    }
    const dst = `${CONTAINER_LIB_DIR}/${soname}`;
    const host = plan.mounts.findIndex((m) => m.dst === dst);
    if (host >= 0) plan.mounts.splice(host, 1);
    plan.links.push({ target: path, dst });
    plan.notes.push(`library ${soname}: the image's ${path} (--nv-compat)${host >= 0 ? ", in place of the host's" : ''}`);
  }
  const cuda = libcuda?.forward?.cuda ?? driverCudaVersion(found.version);
  if (!req.need || !cuda) return;
  if (compareVersions(req.need.version, cuda) <= 0) plan.notes.push(`the image needs CUDA ${req.need.version}: the compat libraries run CUDA ${cuda}`);
  else plan.warnings.push(`--nv-compat: the image needs CUDA ${req.need.version}, more than its compat libraries (driver ${found.version}) run: CUDA ${cuda}`);
}
