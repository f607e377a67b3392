import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeGpuHost } from '../../../src/host/probe-gpu-host.js';
import { ldCache } from '../../support/ld-cache.js';

// The edge read through SIF_TEST_NVIDIA_ROOT (device nodes need root: see test/integration/exec-nv.test.ts).
describe('probeGpuHost', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sif-gpuhost-'));
    for (const d of ['proc/driver/nvidia/gpus/0000:3b:00.0', 'proc/driver/nvidia-caps', 'etc/sif', 'usr/bin', 'lib', 'usr/share/vulkan/icd.d']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'proc/driver/nvidia/gpus/0000:3b:00.0/information'), 'GPU UUID: \t GPU-12\nDevice Minor: \t 0\n');
    writeFileSync(join(root, 'proc/driver/nvidia-caps/mig-minors'), 'config 1\n');
    writeFileSync(join(root, 'usr/bin/smi-list'), '#!/bin/sh\necho "GPU 0: X (UUID: GPU-12) $1"\n', { mode: 0o755 });
    writeFileSync(join(root, 'usr/bin/smi-fails'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    writeFileSync(join(root, 'proc/driver/nvidia/version'), 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  x\n');
    writeFileSync(join(root, 'etc/ld.so.cache'), ldCache([['libz.so.1', '/lib/libz.so.1', 0x0303], ['libcuda.so.1', '/lib/libcuda.so.1', 0x0303]]));
    writeFileSync(join(root, 'etc/sif/sif.conf'), 'nvidia lib dir = /opt\n');
    writeFileSync(join(root, 'usr/bin/nvidia-smi'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(root, 'usr/share/vulkan/icd.d/nvidia_icd.json'), '{}');
    writeFileSync(join(root, 'lib/libcuda.so.550.54.14'), '');
    symlinkSync('libcuda.so.550.54.14', join(root, 'lib/libcuda.so.1'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('reads the driver files below the test root, and only the cache entries wanted', () => {
    const facts = probeGpuHost({ SIF_TEST_NVIDIA_ROOT: root }, (s) => s.startsWith('libcuda'));
    expect(facts.driverVersionText()).toMatch(/550\.54\.14/);
    expect(facts.ldCache()).toEqual([{ soname: 'libcuda.so.1', path: `${root}/lib/libcuda.so.1`, flags: 0x0303, hwcap: 0n }]);
    expect(facts.realPath(`${root}/lib/libcuda.so.1`)).toMatch(/\/lib\/libcuda\.so\.550\.54\.14$/);
    expect(facts.siteConfig()).toBe('nvidia lib dir = /opt\n');
    expect(facts.binaryDirs()).toEqual([`${root}/usr/bin`]);
    expect(facts.isExecutable(`${root}/usr/bin/nvidia-smi`)).toBe(true);
    expect(facts.driverFile('/usr/share/vulkan/icd.d/nvidia_icd.json')).toBe('{}');
    expect(facts.driverFile('/etc/OpenCL/vendors/nvidia.icd')).toBeUndefined();
    expect(facts.deviceNodes()).toEqual([]);
    expect(facts.persistencedSocket()).toBeUndefined();
  });

  it("reads the GPUs' information files and mig-minors below the test root, and runs nvidia-smi -L", () => {
    const facts = probeGpuHost({ SIF_TEST_NVIDIA_ROOT: root });
    expect(facts.gpuInformation()).toEqual([{ busId: '0000:3b:00.0', text: 'GPU UUID: \t GPU-12\nDevice Minor: \t 0\n' }]);
    expect(facts.migMinors()).toBe('config 1\n');
    expect(facts.nvidiaSmiList(join(root, 'usr/bin/smi-list'))).toBe('GPU 0: X (UUID: GPU-12) -L\n');
    expect(facts.nvidiaSmiList(join(root, 'usr/bin/smi-fails'))).toBeUndefined();
    expect(probeGpuHost({ SIF_TEST_NVIDIA_ROOT: join(root, 'nowhere') }).gpuInformation()).toBeUndefined();
  });

  it('tells an ELF file by its header, and nothing else', () => {
    const facts = probeGpuHost({});
    expect(facts.elfKind(process.execPath)).toEqual({ elfClass: 64, machine: facts.elfMachine() });
    expect(facts.elfKind(join(root, 'etc/sif/sif.conf'))).toBeUndefined();
    expect(facts.elfKind(join(root, 'missing'))).toBeUndefined();
  });

  it('without the test root looks for programs on PATH (absolute parts), then /usr/bin and /usr/sbin', () => {
    const facts = probeGpuHost({ PATH: '/usr/local/bin:relative' });
    expect(facts.binaryDirs()).toEqual(['/usr/local/bin', '/usr/bin', '/usr/sbin']);
  });
});
