import type { CompatImage, CompatLibrary } from '../../../src/gpu/cuda-compat.js';
import { compatReadsImage, findCompat } from '../../../src/gpu/cuda-compat.js';
import { compatRequest, planNvidia } from '../../../src/gpu/plan-nvidia.js';
import { debianDriver, fakeGpuHost } from './fake-gpu-host.js';

const V = '550.54.14';
const C = '570.86.10';
const DIR = '/usr/local/cuda-12.8/compat';
const LIBS = '/usr/lib/x86_64-linux-gnu';

/** An image with /usr/local/cuda-12.8/compat: directories by path, libraries by path. */
function image(libs: Record<string, CompatLibrary>, dirs: Record<string, string[]> = {}): CompatImage & { read: string[] } {
  const read: string[] = [];
  const all: Record<string, string[]> = { '/usr/local': ['bin', 'cuda', 'cuda-12.8'], [DIR]: ['libcuda.so', 'libcuda.so.1', ...Object.keys(libs).map((p) => p.slice(DIR.length + 1))], ...dirs };
  return {
    read,
    list: (d) => (read.push(d), all[d] ?? null),
    library: (p) => libs[p],
  };
}
const note = { drivers: [535, 550, 560, 570], cuda: '12.8' };
const pkg = (forward: CompatLibrary['forward'] | undefined = note) => ({
  [`${DIR}/libcuda.so.${C}`]: { elfClass: 64 as const, machine: 62, soname: 'libcuda.so.1', ...(forward ? { forward } : {}) },
  [`${DIR}/libnvidia-ptxjitcompiler.so.${C}`]: { elfClass: 64 as const, machine: 62, soname: 'libnvidia-ptxjitcompiler.so.1' },
});
const host = () => fakeGpuHost({ version: V, ...debianDriver(V), devices: ['nvidia0'] });
const need128 = ['CUDA_VERSION=12.8.1'];

describe('--nv-compat (CUDA forward compatibility)', () => {
  it('looks in the image only with --nv-compat or when the image needs a newer CUDA than the driver', () => {
    const reads = (compat: boolean, imageEnv: string[]) => compatReadsImage(compatRequest({ contain: false, compat, imageEnv }, host()));
    expect(reads(true, [])).toBe(true);
    expect(reads(false, need128)).toBe(true); // driver 550 is CUDA 12.4
    expect(reads(false, ['CUDA_VERSION=12.2.0'])).toBe(false);
    expect(reads(false, [])).toBe(false);
  });

  it('finds the package in /usr/local/cuda-X.Y/compat, the newest when several', () => {
    expect(findCompat(image(pkg()))).toEqual({ dir: DIR, version: C, files: [`libcuda.so.${C}`, `libnvidia-ptxjitcompiler.so.${C}`] });
    const two = image(pkg(), { '/usr/local/cuda/compat/lib': ['libcuda.so.1', 'libcuda.so.575.51.03'] });
    expect(findCompat(two)).toMatchObject({ dir: '/usr/local/cuda/compat/lib', version: '575.51.03' });
  });

  it("links the package's libraries in place of the host's; the rest of the driver stays the host's", () => {
    const plan = planNvidia({ contain: false, compat: true, imageEnv: need128 }, host(), image(pkg()));
    const libs = plan.mounts.filter((m) => m.dst.startsWith('/.singularity.d/libs/'));
    expect(libs).toEqual([{ src: `${LIBS}/libnvidia-ml.so.${V}`, dst: '/.singularity.d/libs/libnvidia-ml.so.1' }]);
    expect(plan.links).toEqual([
      { target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' },
      { target: `${DIR}/libcuda.so.${C}`, dst: '/.singularity.d/libs/libcuda.so.1' },
      { target: `${DIR}/libnvidia-ptxjitcompiler.so.${C}`, dst: '/.singularity.d/libs/libnvidia-ptxjitcompiler.so.1' },
    ]);
    expect(plan.warnings).toEqual([]);
    expect(plan.notes).toContain('--nv-compat: driver branch 550 is one the package supports (535, 550, 560, 570)');
    expect(plan.notes).toContain('the image needs CUDA 12.8: the compat libraries run CUDA 12.8');
  });

  it('without the option, the mismatch warning names the package the image carries and the option', () => {
    const img = image(pkg());
    const plan = planNvidia({ contain: false, imageEnv: need128 }, host(), img);
    expect(plan.warnings).toEqual([expect.stringContaining(`the image carries CUDA's forward-compatibility libraries of driver ${C} in ${DIR}: add --nv-compat`)]);
    expect(plan.links.map((l) => l.dst)).toEqual(['/.singularity.d/libs/libcuda.so']);
    // An image the driver is new enough for is not read at all.
    const quiet = image(pkg());
    expect(planNvidia({ contain: false, imageEnv: ['CUDA_VERSION=12.2.0'] }, host(), quiet).warnings).toEqual([]);
    expect(quiet.read).toEqual([]);
  });

  it('refuses a host driver branch the package does not name', () => {
    const plan = planNvidia({ contain: false, compat: true, imageEnv: need128 }, host(), image(pkg({ drivers: [535, 570], cuda: '12.8' })));
    expect(plan.warnings[0]).toBe(`--nv-compat: the image's compat libraries (driver ${C}) support forward compatibility on driver branches 535, 570, not the host's 550: the host driver's are used`);
    expect(plan.mounts.find((m) => m.dst === '/.singularity.d/libs/libcuda.so.1')?.src).toBe(`${LIBS}/libcuda.so.${V}`);
  });

  it('without the note, uses the package and says the branch support is unknown', () => {
    const plan = planNvidia({ contain: false, compat: true }, host(), image(pkg(null as unknown as undefined)));
    expect(plan.links.map((l) => l.target)).toContain(`${DIR}/libcuda.so.${C}`);
    expect(plan.notes.some((n) => n.includes('whether branch 550 supports forward compatibility is not known') && n.includes('CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE (804)'))).toBe(true);
  });

  it('uses nothing not newer than the host driver, nothing of another architecture, and says when there is no package', () => {
    const old = { [`${DIR}/libcuda.so.535.1`]: { elfClass: 64 as const, machine: 62, soname: 'libcuda.so.1' } };
    const p1 = planNvidia({ contain: false, compat: true }, host(), image(old));
    expect(p1.links.map((l) => l.dst)).toEqual(['/.singularity.d/libs/libcuda.so']);
    expect(p1.notes).toContain(`--nv-compat: the image's compat libraries (driver 535.1) are not of a newer branch than the host driver ${V}: the host's are used`);
    const arm = pkg();
    arm[`${DIR}/libnvidia-ptxjitcompiler.so.${C}`]!.machine = 183;
    expect(planNvidia({ contain: false, compat: true }, host(), image(arm)).links.map((l) => l.dst)).not.toContain('/.singularity.d/libs/libnvidia-ptxjitcompiler.so.1');
    const none = planNvidia({ contain: false, compat: true }, host(), image({}, { [DIR]: [] }));
    expect(none.warnings[0]).toMatch(/^--nv-compat: the image has no CUDA forward-compatibility libraries/);
    // Doctor without an image: nothing looked for, nothing to warn of.
    const noImage = planNvidia({ contain: false, compat: true }, host());
    expect(noImage.warnings).toEqual([]);
    expect(noImage.notes).toContain('--nv-compat: no image given, so no compat libraries to look for');
  });
  describe('on a hostile image', () => {
    it('finds the newest of 100,000 libcuda versions in one pass', () => {
      const names = Array.from({ length: 100_000 }, (_, i) => `libcuda.so.${570 + Math.floor(i / 1000)}.${i % 1000}.0`).sort();
      const t0 = performance.now();
      const found = findCompat(image({}, { [DIR]: names }));
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(found).toMatchObject({ dir: DIR, version: '669.999.0', files: ['libcuda.so.669.999.0'] });
    });

    it('reads at most 64 of a package claiming 100,000 libraries, and says the rest are left out', () => {
      const libs = pkg();
      const names = [...Object.keys(libs).map((p) => p.slice(DIR.length + 1)), ...Array.from({ length: 100_000 }, (_, i) => `libjunk${i}.so.${C}`)];
      const img = image(libs, { [DIR]: names });
      let read = 0;
      const counting: CompatImage = { list: img.list, library: (p) => (read++, img.library(p)) };
      const plan = planNvidia({ contain: false, compat: true, imageEnv: need128 }, host(), counting);
      expect(read).toBeLessThanOrEqual(65);
      expect(plan.links.map((l) => l.dst)).toContain('/.singularity.d/libs/libcuda.so.1');
      expect(plan.warnings).toContainEqual(expect.stringContaining('100002 libraries'));
    });

    it('leaves out a library whose soname or file name is not a plain name: no link outside /.singularity.d/libs', () => {
      const libs = {
        ...pkg(),
        [`${DIR}/libevil.so.${C}`]: { elfClass: 64 as const, machine: 62, soname: '../../../etc/ld.so.preload' },
        [`${DIR}/libdot.so.${C}`]: { elfClass: 64 as const, machine: 62, soname: '..' },
      };
      const plan = planNvidia({ contain: false, compat: true, imageEnv: need128 }, host(), image(libs));
      for (const l of plan.links) expect(l.dst).toMatch(/^\/\.singularity\.d\/libs\/[^/]+$/);
      expect(plan.links.map((l) => l.dst)).not.toContain('/.singularity.d/libs/..');
      expect(plan.notes).toContainEqual(expect.stringContaining(`skip ${DIR}/libevil.so.${C}: its soname`));
    });
  });
});
