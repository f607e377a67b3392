import { planNvidia } from '../../../src/gpu/plan-nvidia.js';
import { debianDriver, fakeGpuHost } from './fake-gpu-host.js';

// Two GPUs, the second in MIG mode with two MIG devices (GPU instances 1 and 2, compute
// instance 0 each), described as the driver's /proc files and nvidia-smi -L do.
const V = '550.54.14';
const G0 = 'GPU-00000000-0000-4000-8000-000000000000';
const G1 = 'GPU-11111111-1111-4111-8111-111111111111';
const M0 = 'MIG-aaaaaaaa-0000-5000-8000-000000000000';
const M1 = 'MIG-bbbbbbbb-1111-5111-8111-111111111111';
const info = (minor: number, uuid: string, bus: string) =>
  `Model: \t\t Fake GPU\nIRQ:   \t\t 44\nGPU UUID: \t ${uuid}\nBus Type: \t PCIe\nBus Location: \t ${bus}\nDevice Minor: \t ${minor}\nGPU Excluded:\t No\n`;
const information = { '0000:3b:00.0': info(0, G0, '0000:3b:00.0'), '0000:86:00.0': info(1, G1, '0000:86:00.0') };
const smiList = `GPU 0: Fake GPU (UUID: ${G0})\nGPU 1: Fake GPU (UUID: ${G1})\n  MIG 1g.5gb      Device  0: (UUID: ${M0})\n  MIG 1g.5gb      Device  1: (UUID: ${M1})\n`;
// As the driver numbers them: config 1, monitor 2, then per GPU 15 GPU instances of 1 + 8 minors.
const minorOf = (gpu: number, gi: number, ci?: number) => 3 + gpu * 135 + gi * 9 + (ci === undefined ? 0 : 1 + ci);
const migMinors = ['config 1', 'monitor 2', ...[0, 1].flatMap((g) => [1, 2].flatMap((gi) => [`gpu${g}/gi${gi}/access ${minorOf(g, gi)}`, `gpu${g}/gi${gi}/ci0/access ${minorOf(g, gi, 0)}`]))].join('\n');
const caps = [1, 2, minorOf(1, 1), minorOf(1, 1, 0), minorOf(1, 2), minorOf(1, 2, 0)].map((m) => `nvidia-caps/nvidia-cap${m}`);
const devices = [...caps, 'nvidia-uvm', 'nvidia0', 'nvidia1', 'nvidiactl'];
const files = { ...debianDriver(V).files, '/usr/bin/nvidia-smi': 0 as const };
const gpuHost = (env: Record<string, string>, more: object = {}) =>
  fakeGpuHost({ version: V, ...debianDriver(V), files, devices, env, information, smiList, migMinors, ...more });
const devDsts = (p: ReturnType<typeof planNvidia>) => p.mounts.map((m) => m.dst).filter((d) => d.startsWith('/dev/'));
const global = ['/dev/nvidia-caps/nvidia-cap1', '/dev/nvidia-caps/nvidia-cap2'];
const gpu1Caps = caps.slice(2).map((c) => `/dev/${c}`);
const control = ['/dev/nvidia-uvm', '/dev/nvidiactl'];

describe('--nv --contain: GPUs and MIG devices by UUID', () => {
  it('a GPU UUID (or a unique prefix) binds that GPU, no MIG capability of another, and CUDA gets the UUID', () => {
    for (const v of [G0, 'GPU-0000']) {
      const host = gpuHost({ NVIDIA_VISIBLE_DEVICES: v });
      const plan = planNvidia({ contain: true }, host);
      expect(devDsts(plan)).toEqual([...global, ...control, '/dev/nvidia0']);
      expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: G0 });
      expect(plan.warnings).toEqual([]);
      // GPU UUIDs need only the information files: nvidia-smi is not run.
      expect(host.asked.filter((a) => a.startsWith('smi'))).toEqual([]);
    }
  });

  it('a MIG UUID binds its GPU and that GPU\'s MIG capabilities; CUDA gets the MIG UUID', () => {
    const host = gpuHost({ CUDA_VISIBLE_DEVICES: M1 });
    const plan = planNvidia({ contain: true }, host);
    expect(devDsts(plan)).toEqual([...global, ...gpu1Caps, ...control, '/dev/nvidia1']);
    expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: M1 });
    expect(plan.notes).toContain(`device ${M1}: MIG device 1 (${M1}) of GPU 1, /dev/nvidia1`);
    expect(host.asked).toContain('smi /usr/bin/nvidia-smi');
  });

  it('<gpu>:<mig> (NVIDIA_VISIBLE_DEVICES) names the MIG device by nvidia-smi\'s indices', () => {
    const plan = planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: '1:0' }));
    expect(devDsts(plan)).toEqual([...global, ...gpu1Caps, ...control, '/dev/nvidia1']);
    expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: M0 });
  });

  it('MIG-GPU-<uuid>/<gi>/<ci> binds only that instance\'s capabilities', () => {
    const plan = planNvidia({ contain: true }, gpuHost({ CUDA_VISIBLE_DEVICES: `MIG-${G1}/2/0` }));
    expect(devDsts(plan)).toEqual([...global, `/dev/nvidia-caps/nvidia-cap${minorOf(1, 2)}`, `/dev/nvidia-caps/nvidia-cap${minorOf(1, 2, 0)}`, ...control, '/dev/nvidia1']);
    expect(plan.notes).toContain(`MIG capability nodes of GPUs not chosen, not bound: nvidia-cap${minorOf(1, 1)} nvidia-cap${minorOf(1, 1, 0)}`);
  });

  it('indices bind the GPU with its MIG capabilities; none binds only the global ones', () => {
    expect(devDsts(planNvidia({ contain: true }, gpuHost({ SLURM_STEP_GPUS: '1' })))).toEqual([...global, ...gpu1Caps, ...control, '/dev/nvidia1']);
    expect(devDsts(planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: 'none' })))).toEqual([...global, ...control]);
  });

  it('a UUID not on this host is left out with a warning', () => {
    const plan = planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: `GPU-99,${G0}` }));
    expect(plan.warnings).toEqual(['--nv: NVIDIA_VISIBLE_DEVICES names GPU-99, not on this host: left out']);
    expect(devDsts(plan)).toEqual([...global, ...control, '/dev/nvidia0']);
  });

  it('without nvidia-smi, a MIG device cannot be placed: every GPU and capability, CUDA told the UUID', () => {
    const plan = planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: M0 }, { smiList: undefined }));
    expect(plan.warnings).toEqual([
      `--nv --contain: cannot map NVIDIA_VISIBLE_DEVICES=${M0} to device nodes (MIG devices are listed only by nvidia-smi -L, which did not answer): binding every GPU`,
    ]);
    expect(devDsts(plan)).toEqual([...global, ...gpu1Caps, ...control, '/dev/nvidia0', '/dev/nvidia1']);
    expect(plan.env).toEqual({ CUDA_VISIBLE_DEVICES: M0 });
    const pair = planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: '1:0' }, { smiList: undefined }));
    expect(pair.warnings[1]).toBe('--nv --contain: CUDA will see every GPU: 1:0 names MIG devices by index, which CUDA_VISIBLE_DEVICES cannot');
  });

  it('without mig-minors, every capability node is bound, and doctor says why', () => {
    const plan = planNvidia({ contain: true }, gpuHost({ NVIDIA_VISIBLE_DEVICES: G0 }, { migMinors: undefined }));
    expect(devDsts(plan)).toEqual([...global, ...gpu1Caps, ...control, '/dev/nvidia0']);
    expect(plan.notes).toContain('MIG capability nodes: which GPU each is for is not known (no /proc/driver/nvidia-caps/mig-minors): all are bound');
  });

  it('reads nothing of this without --contain, or for plain indices', () => {
    const host = gpuHost({ CUDA_VISIBLE_DEVICES: M0 });
    planNvidia({ contain: false }, host);
    expect(host.asked.filter((a) => a === 'information' || a === 'mig-minors' || a.startsWith('smi'))).toEqual([]);
    const indices = gpuHost({ CUDA_VISIBLE_DEVICES: '1' });
    planNvidia({ contain: true }, indices);
    expect(indices.asked.filter((a) => a === 'information' || a.startsWith('smi'))).toEqual([]);
  });
});
