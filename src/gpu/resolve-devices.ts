/**
 * Device references (indices, GPU and MIG UUIDs, MIG pairs) to what --contain binds: GPU
 * device minors and the MIG capabilities each needs, and the names CUDA is then given.
 * Pure: the driver's descriptions (gpu-inventory.ts) are asked for through `Inventory`,
 * each only when a reference needs it.
 */
import type { GpuEntry, SmiGpu } from './gpu-inventory.js';
import type { DeviceRef } from './visible-devices.js';

export interface Inventory {
  /** /proc/driver/nvidia/gpus/*\/information, parsed; undefined when unreadable. */
  procGpus(): GpuEntry[] | undefined;
  /** `nvidia-smi -L`, parsed; undefined without nvidia-smi or an answer. */
  smiGpus(): SmiGpu[] | undefined;
}

/** MIG capabilities a device needs: all of its GPU's, or one GPU instance's and one compute instance's. */
export type CapNeed = 'gpu' | { gi: number; ci: number };

export interface ResolvedDevice {
  minor: number;
  caps: CapNeed;
  /** What CUDA_VISIBLE_DEVICES names it by in the container (a UUID; for a plain index, its UUID when known). */
  cudaName?: string;
  /** How it was found, for doctor. */
  how: string;
}

export type Resolution =
  | { kind: 'mapped'; devices: ResolvedDevice[]; missing: string[] }
  /** The mapping is not known on this host: why. */
  | { kind: 'unmapped'; why: string };

const PROC = '/proc/driver/nvidia/gpus/*/information';

function words(ref: DeviceRef): string {
  switch (ref.kind) {
    case 'index':
      return String(ref.index);
    case 'gpu-uuid':
    case 'mig-uuid':
      return ref.uuid;
    case 'mig-instance':
      return `MIG-${ref.gpuUuid}/${ref.gi}/${ref.ci}`;
    case 'mig-index':
      return `${ref.gpu}:${ref.mig}`;
  }
}

/** The GPU whose UUID is `uuid` or starts with it (CUDA takes a unique prefix). */
function byUuid(gpus: GpuEntry[], uuid: string): GpuEntry | undefined {
  const want = uuid.toLowerCase();
  const hits = gpus.filter((g) => g.uuid?.toLowerCase().startsWith(want));
  return hits.length === 1 ? hits[0] : undefined;
}

/**
 * Each reference to a device minor. Indices are /dev/nvidiaN's N and need nothing read;
 * a GPU UUID needs the information files; a MIG device, also `nvidia-smi -L` (only it
 * names MIG devices without NVML). When a needed description is missing, the whole
 * selection is unmapped: the caller binds every GPU rather than guess.
 */
export function resolveDevices(refs: readonly DeviceRef[], inv: Inventory): Resolution {
  const devices: ResolvedDevice[] = [];
  const missing: string[] = [];
  const needsProc = refs.some((r) => r.kind !== 'index');
  const proc = needsProc ? inv.procGpus() : undefined;
  if (needsProc && (!proc || proc.length === 0)) return { kind: 'unmapped', why: `no GPU is described in ${PROC}` };
  if (needsProc && proc!.some((g) => !g.uuid)) return { kind: 'unmapped', why: `${PROC} shows no UUID for some GPU` };
  const needsSmi = refs.some((r) => r.kind === 'mig-uuid' || r.kind === 'mig-index');
  const smi = needsSmi ? inv.smiGpus() : undefined;
  if (needsSmi && !smi) return { kind: 'unmapped', why: 'MIG devices are listed only by nvidia-smi -L, which did not answer' };
  for (const ref of refs) {
    const word = words(ref);
    if (ref.kind === 'index') {
      const uuid = proc?.find((g) => g.minor === ref.index)?.uuid;
      devices.push({ minor: ref.index, caps: 'gpu', ...(uuid ? { cudaName: uuid } : {}), how: `${word}: /dev/nvidia${ref.index}` });
      continue;
    }
    if (ref.kind === 'gpu-uuid' || ref.kind === 'mig-instance') {
      const gpu = byUuid(proc!, ref.kind === 'gpu-uuid' ? ref.uuid : ref.gpuUuid);
      if (!gpu) {
        missing.push(word);
        continue;
      }
      if (ref.kind === 'gpu-uuid') devices.push({ minor: gpu.minor, caps: 'gpu', cudaName: gpu.uuid!, how: `${word}: /dev/nvidia${gpu.minor} (${gpu.busId})` });
      else devices.push({ minor: gpu.minor, caps: { gi: ref.gi, ci: ref.ci }, cudaName: word, how: `${word}: GPU instance ${ref.gi}, compute instance ${ref.ci} of /dev/nvidia${gpu.minor} (${gpu.busId})` });
      continue;
    }
    // A MIG device: its GPU from nvidia-smi, that GPU's minor by UUID.
    const parent =
      ref.kind === 'mig-uuid'
        ? smi!.find((g) => g.migs.some((m) => m.uuid.toLowerCase() === ref.uuid.toLowerCase()))
        : smi!.find((g) => g.index === ref.gpu);
    const mig = ref.kind === 'mig-uuid' ? parent?.migs.find((m) => m.uuid.toLowerCase() === ref.uuid.toLowerCase()) : parent?.migs.find((m) => m.index === ref.mig);
    const gpu = parent && byUuid(proc!, parent.uuid);
    if (!parent || !mig || !gpu) {
      missing.push(word);
      continue;
    }
    // nvidia-smi -L does not say which GPU instance a MIG device is: every one of its GPU's goes with it.
    devices.push({ minor: gpu.minor, caps: 'gpu', cudaName: mig.uuid, how: `${word}: MIG device ${mig.index} (${mig.uuid}) of GPU ${parent.index}, /dev/nvidia${gpu.minor}` });
  }
  return { kind: 'mapped', devices, missing };
}
