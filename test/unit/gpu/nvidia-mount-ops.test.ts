import { combineContributions } from '../../../src/exec/launch-contribution.js';
import { nvidiaMountOps } from '../../../src/gpu/nvidia-mount-ops.js';
import type { NvidiaPlan } from '../../../src/gpu/plan-nvidia.js';

const plan: NvidiaPlan = {
  driverVersion: '550.54.14',
  mounts: [
    { src: '/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14', dst: '/.singularity.d/libs/libcuda.so.1' },
    { src: '/usr/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi' },
    { src: '/run/nvidia-persistenced/socket', dst: '/var/run/nvidia-persistenced/socket' },
  ],
  files: [{ dst: '/etc/OpenCL/vendors/nvidia.icd', data: 'libnvidia-opencl.so.1\n' }],
  links: [{ target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' }],
  env: { CUDA_VISIBLE_DEVICES: '0' },
  selection: { kind: 'all' },
  notes: [],
  warnings: ['w'],
};

describe('nvidiaMountOps', () => {
  it('binds read-only into a fresh tmpfs at /.singularity.d/libs, then links', () => {
    expect(nvidiaMountOps(plan)).toMatchObject({
      libraries: [{ src: '/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14', name: 'libcuda.so.1' }],
      libraryOrder: 'last',
    });
    const parts = combineContributions([nvidiaMountOps(plan)], {});
    expect(parts.ops).toEqual([
      { op: 'tmpfs', dst: '/.singularity.d/libs', mode: 0o755 },
      { op: 'bind', src: '/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.14', dst: '/.singularity.d/libs/libcuda.so.1', readonly: true },
      { op: 'bind', src: '/usr/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi', readonly: true },
      { op: 'bind', src: '/run/nvidia-persistenced/socket', dst: '/var/run/nvidia-persistenced/socket', readonly: true, optional: true },
      { op: 'file', dst: '/etc/OpenCL/vendors/nvidia.icd', mode: 0o644, data: 'libnvidia-opencl.so.1\n' },
      { op: 'symlink', target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' },
    ]);
    expect(parts.env).toEqual({ CUDA_VISIBLE_DEVICES: '0', LD_LIBRARY_PATH: '/.singularity.d/libs' });
    expect(parts.warnings).toEqual(['w']);
  });

  it('adds the library directory to an LD_LIBRARY_PATH once', () => {
    expect(combineContributions([nvidiaMountOps(plan)], { LD_LIBRARY_PATH: '/opt/lib' }).env.LD_LIBRARY_PATH).toBe('/opt/lib:/.singularity.d/libs');
    expect(combineContributions([nvidiaMountOps(plan)], { LD_LIBRARY_PATH: '/.singularity.d/libs:/x' }).env.LD_LIBRARY_PATH).toBeUndefined();
  });

  it('puts a 32-bit set in a tmpfs of its own, after /.singularity.d/libs on LD_LIBRARY_PATH', () => {
    const lib32 = '/usr/lib/i386-linux-gnu/libcuda.so.550.54.14';
    const with32 = { ...plan, mounts: [...plan.mounts, { src: lib32, dst: '/.singularity.d/libs32/libcuda.so.1' }] };
    const c = nvidiaMountOps(with32);
    expect(c.libraries.map((l) => l.src)).not.toContain(lib32);
    expect(c.libraryDirsAfter).toEqual(['/.singularity.d/libs32']);
    const parts = combineContributions([c], { LD_LIBRARY_PATH: '/opt/lib:/.singularity.d/libs' });
    expect(parts.ops.filter((o) => o.dst.startsWith('/.singularity.d/libs32'))).toEqual([
      { op: 'tmpfs', dst: '/.singularity.d/libs32', mode: 0o755 },
      { op: 'bind', src: lib32, dst: '/.singularity.d/libs32/libcuda.so.1', readonly: true },
    ]);
    expect(parts.env.LD_LIBRARY_PATH).toBe('/opt/lib:/.singularity.d/libs:/.singularity.d/libs32');
  });

  it('makes no tmpfs when no library is bound', () => {
    const parts = combineContributions([nvidiaMountOps({ ...plan, mounts: [], files: [], links: [], env: {} })], {});
    expect(parts).toEqual({ ops: [], env: {}, warnings: ['w'], librariesFirst: false });
  });
});
