/**
 * The CUDA version an image's runtime needs against what the driver supports. The
 * driver's CUDA version follows from its version: each CUDA release names the oldest
 * Linux driver it needs (NVIDIA's CUDA toolkit release notes, "CUDA Toolkit and
 * Corresponding Driver Versions"). The image says what it needs in its OCI environment:
 * NVIDIA_REQUIRE_CUDA ("cuda>=12.4 brand=...") or CUDA_VERSION (12.4.1), as NVIDIA's
 * CUDA images do.
 */

/**
 * [CUDA version, oldest Linux x86_64 driver of its first general release], newest first.
 * 11.0's is its GA's (11.0.2), not the release candidate's 450.36.06. The table stops at
 * 13.0: a driver of a newer branch is taken to run at least that (see cudaMismatch).
 */
const CUDA_DRIVERS: readonly [string, string][] = [
  ['13.0', '580.65.06'], ['12.9', '575.51.03'], ['12.8', '570.26'], ['12.6', '560.28.03'],
  ['12.5', '555.42.02'], ['12.4', '550.54.14'], ['12.3', '545.23.06'], ['12.2', '535.54.03'],
  ['12.1', '530.30.02'], ['12.0', '525.60.13'], ['11.8', '520.61.05'], ['11.7', '515.43.04'],
  ['11.6', '510.39.01'], ['11.5', '495.29.05'], ['11.4', '470.42.01'], ['11.3', '465.19.01'],
  ['11.2', '460.27.03'], ['11.1', '455.23'], ['11.0', '450.51.05'],
];

/**
 * The oldest driver with which CUDA's minor-version compatibility runs any X.y of a
 * major release built for a newer minor (NVIDIA's CUDA compatibility guide); older
 * drivers of the major (11.0's first ones) run only what they were made for.
 */
const MINOR_COMPAT_DRIVERS: Record<string, string> = { '13': '580.65.06', '12': '525.60.13', '11': '450.80.02' };

/** Compares dotted versions numerically. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** The newest CUDA version a driver runs (per the table), or undefined when older than all. */
export function driverCudaVersion(driver: string): string | undefined {
  return CUDA_DRIVERS.find(([, min]) => compareVersions(driver, min) >= 0)?.[0];
}

/** What the image's environment says it needs: 'X.Y' and the variable that said it. */
export function imageCudaNeed(env: readonly string[]): { version: string; from: string } | undefined {
  const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1);
  const require = get('NVIDIA_REQUIRE_CUDA')?.match(/cuda>=(\d+\.\d+)/)?.[1];
  if (require) return { version: require, from: 'NVIDIA_REQUIRE_CUDA' };
  const version = get('CUDA_VERSION')?.match(/^(\d+\.\d+)/)?.[1];
  return version ? { version, from: 'CUDA_VERSION' } : undefined;
}

/** The image's forward-compatibility libraries, when it has them: their directory and driver version. */
export interface CompatInImage {
  dir: string;
  version: string;
}

/**
 * A warning when the image needs a newer CUDA than the driver supports, saying what to
 * do: update the driver, or use CUDA's forward compatibility through --nv-compat (the
 * image's package named when it has one, the package to install when not).
 */
export function cudaMismatch(need: { version: string; from: string }, driver: string, compat?: CompatInImage): string | undefined {
  const has = driverCudaVersion(driver);
  if (has && compareVersions(need.version, has) <= 0) return undefined;
  const major = need.version.split('.')[0]!;
  const newestBranch = CUDA_DRIVERS[0]![1].split('.')[0]!;
  // A driver of a branch newer than the table's newest knows CUDA releases the table does not.
  if (has?.split('.')[0] === major && Number(driver.split('.')[0]) > Number(newestBranch)) return undefined;
  const minorCompat = has?.split('.')[0] === major && MINOR_COMPAT_DRIVERS[major] !== undefined && compareVersions(driver, MINOR_COMPAT_DRIVERS[major]) >= 0;
  const forward = compat
    ? `the image carries CUDA's forward-compatibility libraries of driver ${compat.version} in ${compat.dir}: add --nv-compat to use them in place of the host's libcuda`
    : `install CUDA's forward-compatibility package cuda-compat-${need.version.replace('.', '-')} in the image and run with --nv-compat`;
  return (
    `--nv: the image needs CUDA ${need.version} (its ${need.from}), but driver ${driver} supports CUDA ${has ?? 'older than 11.0'}: ` +
    (minorCompat ? `CUDA's minor-version compatibility runs most programs, but newer features and PTX may fail; ` : '') +
    `update the driver, or ${forward} (data-center GPUs, on the driver branches the package supports)`
  );
}
