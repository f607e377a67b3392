import { parseGpuInformation, parseMigMinors, parseSmiList } from '../../../src/gpu/gpu-inventory.js';
import { selectGpus } from '../../../src/gpu/visible-devices.js';

describe('selectGpus', () => {
  it('reads indices, UUIDs, MIG UUIDs, MIG instances and gpu:mig pairs', () => {
    expect(selectGpus({ NVIDIA_VISIBLE_DEVICES: '0,GPU-ab12,MIG-cd34,MIG-GPU-ef56/1/0,1:2' })).toEqual({
      kind: 'some',
      from: 'NVIDIA_VISIBLE_DEVICES',
      value: '0,GPU-ab12,MIG-cd34,MIG-GPU-ef56/1/0,1:2',
      refs: [
        { kind: 'index', index: 0 },
        { kind: 'gpu-uuid', uuid: 'GPU-ab12' },
        { kind: 'mig-uuid', uuid: 'MIG-cd34' },
        { kind: 'mig-instance', gpuUuid: 'GPU-ef56', gi: 1, ci: 0 },
        { kind: 'mig-index', gpu: 1, mig: 2 },
      ],
    });
  });

  it('stops at the first word CUDA cannot read; none when that is the first', () => {
    expect(selectGpus({ CUDA_VISIBLE_DEVICES: '1,x,0' })).toMatchObject({ kind: 'some', refs: [{ kind: 'index', index: 1 }] });
    expect(selectGpus({ CUDA_VISIBLE_DEVICES: '-1' })).toEqual({ kind: 'none', from: 'CUDA_VISIBLE_DEVICES' });
  });

  it("takes only indices from Slurm's variables, strongest first", () => {
    expect(selectGpus({ SLURM_STEP_GPUS: '2,3', CUDA_VISIBLE_DEVICES: 'GPU-1' })).toMatchObject({ from: 'SLURM_STEP_GPUS', refs: [{ index: 2 }, { index: 3 }] });
    expect(selectGpus({ SLURM_JOB_GPUS: 'GPU-1' })).toEqual({ kind: 'none', from: 'SLURM_JOB_GPUS' });
  });
});

describe('the driver\'s descriptions', () => {
  it('reads an information file; an unreadable UUID is left out', () => {
    const text = 'Model: \t\t X\nGPU UUID: \t GPU-12ab-34\nBus Location: \t 0000:3b:00.0\nDevice Minor: \t 3\n';
    expect(parseGpuInformation('0000:3b:00.0', text)).toEqual({ minor: 3, uuid: 'GPU-12ab-34', busId: '0000:3b:00.0' });
    expect(parseGpuInformation('b', 'GPU UUID: \t ????????-????\nDevice Minor: \t 0\n')).toEqual({ minor: 0, busId: 'b' });
    expect(parseGpuInformation('b', 'Model: X\n')).toBeUndefined();
  });

  it('reads nvidia-smi -L with its MIG devices', () => {
    const text = 'GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5d5b)\n  MIG 3g.20gb     Device  0: (UUID: MIG-c6d4)\n  MIG 2g.10gb     Device  1: (UUID: MIG-77aa)\nGPU 1: NVIDIA A100 (UUID: GPU-9e3d)\n';
    expect(parseSmiList(text)).toEqual([
      { index: 0, uuid: 'GPU-5d5b', migs: [{ index: 0, uuid: 'MIG-c6d4' }, { index: 1, uuid: 'MIG-77aa' }] },
      { index: 1, uuid: 'GPU-9e3d', migs: [] },
    ]);
  });

  it('reads mig-minors', () => {
    const owners = parseMigMinors('config 1\nmonitor 2\ngpu0/gi0/access 3\ngpu0/gi0/ci0/access 4\ngpu1/gi2/ci7/access 159\n');
    expect([...owners]).toEqual([
      [1, { global: 'config' }],
      [2, { global: 'monitor' }],
      [3, { gpu: 0, gi: 0 }],
      [4, { gpu: 0, gi: 0, ci: 0 }],
      [159, { gpu: 1, gi: 2, ci: 7 }],
    ]);
  });
});
