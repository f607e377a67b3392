import { planNvidia } from '../../../src/gpu/plan-nvidia.js';
import { debianDriver, fakeGpuHost } from './fake-gpu-host.js';

const V = '550.54.14';
const LIBS = '/usr/lib/x86_64-linux-gnu';
const dsts = (p: ReturnType<typeof planNvidia>) => p.mounts.map((m) => m.dst);

describe('planNvidia', () => {
  it('binds the driver libraries under their sonames into /.singularity.d/libs, 64-bit only', () => {
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...debianDriver(V), devices: ['nvidia0', 'nvidiactl'] }));
    const libs = plan.mounts.filter((m) => m.dst.startsWith('/.singularity.d/libs/'));
    expect(libs).toEqual([
      { src: `${LIBS}/libcuda.so.${V}`, dst: '/.singularity.d/libs/libcuda.so.1' },
      { src: `${LIBS}/libnvidia-ml.so.${V}`, dst: '/.singularity.d/libs/libnvidia-ml.so.1' },
      { src: `${LIBS}/libnvidia-ptxjitcompiler.so.${V}`, dst: '/.singularity.d/libs/libnvidia-ptxjitcompiler.so.1' },
    ]);
    expect(plan.links).toEqual([{ target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' }]);
    expect(plan.notes).toContain(
      '32-bit libraries not bound: libcuda.so.1, libnvidia-ml.so.1, libnvidia-ptxjitcompiler.so.1 (--compat32 binds them into /.singularity.d/libs32, for 32-bit programs)',
    );
    expect(plan.warnings).toEqual([]);
    expect(plan.driverVersion).toBe(V);
  });

  it('with --compat32 binds the 32-bit set into /.singularity.d/libs32, apart from the 64-bit one', () => {
    const plan = planNvidia({ contain: false, compat32: true }, fakeGpuHost({ version: V, ...debianDriver(V), devices: ['nvidia0'] }));
    const i386 = '/usr/lib/i386-linux-gnu';
    expect(plan.mounts.filter((m) => m.dst.startsWith('/.singularity.d/libs32/'))).toEqual([
      { src: `${i386}/libcuda.so.${V}`, dst: '/.singularity.d/libs32/libcuda.so.1' },
      { src: `${i386}/libnvidia-ml.so.${V}`, dst: '/.singularity.d/libs32/libnvidia-ml.so.1' },
      { src: `${i386}/libnvidia-ptxjitcompiler.so.${V}`, dst: '/.singularity.d/libs32/libnvidia-ptxjitcompiler.so.1' },
    ]);
    // Nothing 32-bit where a 64-bit program looks.
    expect(plan.mounts.filter((m) => m.dst.startsWith('/.singularity.d/libs/')).every((m) => m.src.startsWith(LIBS))).toBe(true);
    expect(plan.links).toEqual([
      { target: 'libcuda.so.1', dst: '/.singularity.d/libs/libcuda.so' },
      { target: 'libcuda.so.1', dst: '/.singularity.d/libs32/libcuda.so' },
    ]);
    expect(plan.notes).toContain('32-bit libraries in /.singularity.d/libs32, after /.singularity.d/libs on LD_LIBRARY_PATH: libcuda.so.1, libnvidia-ml.so.1, libnvidia-ptxjitcompiler.so.1');
    expect(plan.warnings).toEqual([]);
  });

  it('with --compat32 leaves out a library of another architecture, and warns when no 32-bit set exists', () => {
    const d = debianDriver(V, ['libcuda']);
    d.files![`/usr/lib/i386-linux-gnu/libcuda.so.${V}`] = 64; // the cache says "not ours", the header says x86-64: neither i386
    const odd = planNvidia({ contain: false, compat32: true }, fakeGpuHost({ version: V, ...d, devices: ['nvidia0'] }));
    expect(odd.mounts.map((m) => m.dst)).toEqual(['/.singularity.d/libs/libcuda.so.1']);
    expect(odd.notes).toContain('32-bit libraries not bound: libcuda.so.1');
    expect(odd.warnings).toEqual([`--compat32: the driver has no 32-bit libraries of version ${V} on this host: 32-bit programs will not find it`]);
  });

  it('tells the architecture by the cache flags, libc6 or plain ELF (linked without libc)', () => {
    const d = debianDriver(V, ['libcuda']);
    for (const e of d.cache!) e.flags &= 0xff01; // ldconfig's type for a library without DT_NEEDED libc
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...d }));
    expect(dsts(plan)).toEqual(['/.singularity.d/libs/libcuda.so.1']);
    expect(plan.notes).toContain('32-bit libraries not bound: libcuda.so.1 (--compat32 binds them into /.singularity.d/libs32, for 32-bit programs)');
  });

  it('skips a library of another driver version (a leftover in another directory)', () => {
    const d = debianDriver(V);
    d.files!['/opt/old/libnvidia-ml.so.470.1'] = 64;
    d.links!['/opt/old/libnvidia-ml.so.1'] = '/opt/old/libnvidia-ml.so.470.1';
    d.cache!.unshift({ soname: 'libnvidia-ml.so.1', path: '/opt/old/libnvidia-ml.so.1', flags: 0x0303, hwcap: 0n });
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...d }));
    expect(plan.mounts.find((m) => m.dst.endsWith('libnvidia-ml.so.1'))?.src).toBe(`${LIBS}/libnvidia-ml.so.${V}`);
    expect(plan.notes.some((n) => n.includes('/opt/old/libnvidia-ml.so.1') && n.includes(`not of driver ${V}`))).toBe(true);
  });

  it('ignores libraries not in the list', () => {
    const d = debianDriver(V, ['libcuda', 'libnvidia-gtk3']);
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...d }));
    expect(dsts(plan).filter((x) => x.includes('gtk'))).toEqual([]);
  });

  it('finds a driver outside the cache through the site file, before the cache', () => {
    const files: Record<string, 0 | 64> = { [`/usr/local/nvidia/lib64/libcuda.so.${V}`]: 64, '/usr/local/nvidia/bin/nvidia-smi': 0 };
    const links = { '/usr/local/nvidia/lib64/libcuda.so.1': `/usr/local/nvidia/lib64/libcuda.so.${V}` };
    const conf = '# site\nnvidia lib dir = /usr/local/nvidia/lib64\nnvidia bin dir = /usr/local/nvidia/bin\nbind path = /scratch\n';
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, files, links, conf, devices: ['nvidia0'] }));
    expect(plan.mounts).toEqual([
      { src: `/usr/local/nvidia/lib64/libcuda.so.${V}`, dst: '/.singularity.d/libs/libcuda.so.1' },
      { src: '/usr/local/nvidia/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi' },
    ]);
    expect(plan.warnings).toEqual([]);
  });

  it('reports a site file line it cannot read', () => {
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...debianDriver(V), conf: 'nvidia lib dir = relative/dir\n' }));
    expect(plan.warnings).toContain("sif.conf line 1: 'relative/dir' is not an absolute path");
  });

  it('without a driver: one warning, nothing bound, nothing else read', () => {
    const host = fakeGpuHost({ ...debianDriver(V) });
    const plan = planNvidia({ contain: true }, host);
    expect(plan.mounts).toEqual([]);
    expect(plan.warnings).toEqual(['--nv: no NVIDIA driver is loaded on this host (no /proc/driver/nvidia/version): running without GPU support']);
    expect(host.asked).toEqual(['version']);
  });

  it('warns when the driver has no libcuda of its version', () => {
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: '560.1', ...debianDriver(V) }));
    expect(plan.mounts.filter((m) => m.dst.startsWith('/.singularity.d'))).toEqual([]);
    expect(plan.warnings[0]).toMatch(/no libcuda\.so\.1 of driver 560\.1/);
  });

  it('binds programs at /usr/bin and the persistenced socket', () => {
    const plan = planNvidia({ contain: false }, fakeGpuHost({ version: V, ...debianDriver(V), files: { ...debianDriver(V).files, '/usr/bin/nvidia-smi': 0 }, socket: '/run/nvidia-persistenced/socket' }));
    expect(plan.mounts).toContainEqual({ src: '/usr/bin/nvidia-smi', dst: '/usr/bin/nvidia-smi' });
    expect(plan.mounts).toContainEqual({ src: '/run/nvidia-persistenced/socket', dst: '/var/run/nvidia-persistenced/socket' });
    expect(plan.notes).toContain('program nvidia-debugdump: not found');
  });

  it('binds the MPS pipe directory read-write when the host has one', () => {
    const host = fakeGpuHost({ version: V, ...debianDriver(V), mps: '/tmp/nvidia-mps' });
    expect(planNvidia({ contain: true, privateTmp: true }, host).mounts).toContainEqual({ src: '/tmp/nvidia-mps', dst: '/tmp/nvidia-mps', writable: true });
    // The host's /tmp shows it already; --workdir's has no place for it.
    expect(dsts(planNvidia({ contain: false }, host))).not.toContain('/tmp/nvidia-mps');
    const elsewhere = fakeGpuHost({ version: V, ...debianDriver(V), mps: '/var/run/mps' });
    expect(dsts(planNvidia({ contain: false }, elsewhere))).toContain('/var/run/mps');
  });

  describe('device nodes', () => {
    const devices = ['nvidia-caps/nvidia-cap1', 'nvidia-modeset', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidia0', 'nvidia1', 'nvidia2', 'nvidiactl'];
    const host = (env: Record<string, string>) => fakeGpuHost({ version: V, ...debianDriver(V), devices, env });
    const devDsts = (p: ReturnType<typeof planNvidia>) => dsts(p).filter((d) => d.startsWith('/dev/'));
    const control = ['/dev/nvidia-caps/nvidia-cap1', '/dev/nvidia-modeset', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidiactl'];

    it("binds none without --contain: the host's /dev has them all", () => {
      const plan = planNvidia({ contain: false }, host({ CUDA_VISIBLE_DEVICES: '1' }));
      expect(devDsts(plan)).toEqual([]);
      expect(plan.env).toEqual({});
    });

    it('with --contain binds every GPU when nothing is chosen', () => {
      expect(devDsts(planNvidia({ contain: true }, host({})))).toEqual([...control, '/dev/nvidia0', '/dev/nvidia1', '/dev/nvidia2']);
    });

    it('with --contain binds the chosen GPUs only, renumbered for CUDA', () => {
      const plan = planNvidia({ contain: true }, host({ CUDA_VISIBLE_DEVICES: '2,0' }));
      expect(devDsts(plan)).toEqual([...control, '/dev/nvidia2', '/dev/nvidia0']);
      expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: '0,1' });
    });

    it("prefers Slurm's global ids to CUDA_VISIBLE_DEVICES (local to the job's cgroup)", () => {
      const plan = planNvidia({ contain: true }, host({ CUDA_VISIBLE_DEVICES: '0', SLURM_STEP_GPUS: '1', SLURM_JOB_GPUS: '1,2' }));
      expect(devDsts(plan)).toEqual([...control, '/dev/nvidia1']);
      expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: '0' });
    });

    it('NVIDIA_VISIBLE_DEVICES=none binds the control nodes and no GPU', () => {
      expect(devDsts(planNvidia({ contain: true }, host({ NVIDIA_VISIBLE_DEVICES: 'none' })))).toEqual(control);
    });

    it('warns about a GPU that is not there, and about UUIDs it cannot map', () => {
      const missing = planNvidia({ contain: true }, host({ CUDA_VISIBLE_DEVICES: '0,7' }));
      expect(missing.warnings).toEqual(['--nv: CUDA_VISIBLE_DEVICES names /dev/nvidia7, not on this host: left out']);
      // No information files: every GPU, and CUDA (which reads UUIDs) told which.
      const uuid = planNvidia({ contain: true }, host({ NVIDIA_VISIBLE_DEVICES: 'GPU-8f6c2a1e' }));
      expect(uuid.warnings[0]).toBe(
        '--nv --contain: cannot map NVIDIA_VISIBLE_DEVICES=GPU-8f6c2a1e to device nodes (no GPU is described in /proc/driver/nvidia/gpus/*/information): binding every GPU',
      );
      expect(devDsts(uuid)).toHaveLength(control.length + 3);
      expect(uuid.env).toEqual({ CUDA_VISIBLE_DEVICES: 'GPU-8f6c2a1e' });
      // From CUDA_VISIBLE_DEVICES itself, it passes through unchanged.
      expect(planNvidia({ contain: true }, host({ CUDA_VISIBLE_DEVICES: 'GPU-8f6c2a1e' })).env).toEqual({});
    });

    it('CUDA_VISIBLE_DEVICES=-1 (or any word CUDA cannot read first) binds no GPU', () => {
      expect(devDsts(planNvidia({ contain: true }, host({ CUDA_VISIBLE_DEVICES: '-1' })))).toEqual(control);
    });

    it('warns when the host has no GPU node', () => {
      const plan = planNvidia({ contain: true }, fakeGpuHost({ version: V, ...debianDriver(V), devices: ['nvidiactl'] }));
      expect(plan.warnings).toContain('--nv: no GPU device node (/dev/nvidia0, ...) on this host: CUDA will see no device');
    });
  });
});
