/**
 * Which GPUs the job may use, from the variables a scheduler or user sets, strongest
 * first: SLURM_STEP_GPUS and SLURM_JOB_GPUS (Slurm's global GPU ids, the N of
 * /dev/nvidiaN), NVIDIA_VISIBLE_DEVICES (the container runtimes' variable: indices,
 * `all`, `none`, `void`), CUDA_VISIBLE_DEVICES (indices). Unset: all GPUs.
 */
export type GpuSelection =
  | { kind: 'all'; from?: string }
  | { kind: 'none'; from: string }
  | { kind: 'some'; from: string; ids: number[] }
  /** Names sif cannot map to device nodes without NVML (UUIDs, MIG devices). */
  | { kind: 'unmapped'; from: string; value: string };

const SOURCES = ['SLURM_STEP_GPUS', 'SLURM_JOB_GPUS', 'NVIDIA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES'];

export function selectGpus(env: Record<string, string>): GpuSelection {
  const from = SOURCES.find((k) => env[k] !== undefined);
  if (!from) return { kind: 'all' };
  const value = env[from]!.trim();
  if (value === 'all') return { kind: 'all', from };
  if (value === '' || value === 'none' || value === 'void' || value === 'NoDevFiles') return { kind: 'none', from };
  const words = value.split(',').map((w) => w.trim());
  // CUDA stops at the first entry it cannot read: so do we.
  const ids: number[] = [];
  for (const w of words) {
    if (!/^\d+$/.test(w)) {
      if (ids.length === 0) return { kind: 'unmapped', from, value };
      break;
    }
    if (!ids.includes(Number(w))) ids.push(Number(w));
  }
  return { kind: 'some', from, ids };
}
