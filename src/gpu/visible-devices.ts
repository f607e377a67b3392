/**
 * Which GPUs the job may use, from the variables a scheduler or user sets, strongest
 * first: SLURM_STEP_GPUS and SLURM_JOB_GPUS (Slurm's global GPU ids, the N of
 * /dev/nvidiaN), NVIDIA_VISIBLE_DEVICES (the container runtimes' variable: indices,
 * UUIDs, `gpu:mig` pairs, `all`, `none`, `void`), CUDA_VISIBLE_DEVICES (indices, UUIDs).
 * Unset: all GPUs.
 */

/** One entry of a device list. */
export type DeviceRef =
  /** N: the GPU of /dev/nvidiaN. */
  | { kind: 'index'; index: number }
  /** GPU-<uuid>, or a unique prefix of one (CUDA accepts a prefix). */
  | { kind: 'gpu-uuid'; uuid: string }
  /** MIG-<uuid>: a MIG device, as `nvidia-smi -L` names it. */
  | { kind: 'mig-uuid'; uuid: string }
  /** MIG-GPU-<uuid>/<gi>/<ci>: CUDA 11's name of a MIG device, its instances given. */
  | { kind: 'mig-instance'; gpuUuid: string; gi: number; ci: number }
  /** <gpu>:<mig>: the MIG device of `nvidia-smi -L`'s GPU <gpu> (NVIDIA_VISIBLE_DEVICES, CDI). */
  | { kind: 'mig-index'; gpu: number; mig: number };

export type GpuSelection =
  | { kind: 'all'; from?: string }
  | { kind: 'none'; from: string }
  | { kind: 'some'; from: string; value: string; refs: DeviceRef[] };

const SOURCES = ['SLURM_STEP_GPUS', 'SLURM_JOB_GPUS', 'NVIDIA_VISIBLE_DEVICES', 'CUDA_VISIBLE_DEVICES'];
/** Slurm's variables hold global indices only. */
const INDEX_ONLY = new Set(['SLURM_STEP_GPUS', 'SLURM_JOB_GPUS']);

/** One word of a list, or undefined when it is none of the forms. */
function parseDeviceRef(word: string, indexOnly = false): DeviceRef | undefined {
  if (/^\d+$/.test(word)) return { kind: 'index', index: Number(word) };
  if (indexOnly) return undefined;
  let m = /^(\d+):(\d+)$/.exec(word);
  if (m) return { kind: 'mig-index', gpu: Number(m[1]), mig: Number(m[2]) };
  m = /^MIG-(GPU-[0-9a-f-]+)\/(\d+)\/(\d+)$/i.exec(word);
  if (m) return { kind: 'mig-instance', gpuUuid: m[1]!, gi: Number(m[2]), ci: Number(m[3]) };
  if (/^MIG-[0-9a-f-]+$/i.test(word)) return { kind: 'mig-uuid', uuid: word };
  if (/^GPU-[0-9a-f-]+$/i.test(word)) return { kind: 'gpu-uuid', uuid: word };
  return undefined;
}

export function selectGpus(env: Record<string, string>): GpuSelection {
  const from = SOURCES.find((k) => env[k] !== undefined);
  if (!from) return { kind: 'all' };
  const value = env[from]!.trim();
  if (value === 'all') return { kind: 'all', from };
  if (value === '' || value === 'none' || value === 'void' || value === 'NoDevFiles') return { kind: 'none', from };
  // CUDA stops at the first entry it cannot read: so do we.
  const refs: DeviceRef[] = [];
  for (const w of value.split(',').map((x) => x.trim())) {
    const ref = parseDeviceRef(w, INDEX_ONLY.has(from));
    if (!ref) break;
    if (!refs.some((r) => JSON.stringify(r) === JSON.stringify(ref))) refs.push(ref);
  }
  return refs.length ? { kind: 'some', from, value, refs } : { kind: 'none', from };
}

/** The selection as doctor says it. */
export function describeSelection(sel: GpuSelection): string {
  if (sel.kind === 'all') return `all GPUs${sel.from ? ` (${sel.from}=all)` : ''}`;
  if (sel.kind === 'none') return `none (${sel.from})`;
  return `${sel.from}=${sel.value}`;
}
