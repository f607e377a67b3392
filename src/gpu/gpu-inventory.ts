/**
 * The host's GPUs as the driver describes them without NVML: each GPU's device minor
 * and UUID from /proc/driver/nvidia/gpus/<bus>/information, MIG devices and the
 * nvidia-smi index from `nvidia-smi -L`, and what each /dev/nvidia-caps node gives
 * access to from /proc/driver/nvidia-caps/mig-minors. Parsers only: the texts come
 * through GpuHostFacts.
 */

export interface GpuEntry {
  /** The N of /dev/nvidiaN ("Device Minor"). */
  minor: number;
  uuid?: string;
  busId: string;
}

export interface SmiGpu {
  /** nvidia-smi's (NVML's) index: what `<gpu>:<mig>` and NVIDIA_VISIBLE_DEVICES count. */
  index: number;
  uuid: string;
  migs: { index: number; uuid: string }[];
}

/** What a capability node opens: a GPU instance, a compute instance in one, or a global one (config, monitor). */
export type CapOwner = { gpu: number; gi: number; ci?: number } | { global: string };

/** One information file; undefined without a Device Minor. An unreadable UUID (question marks) is left out. */
export function parseGpuInformation(busId: string, text: string): GpuEntry | undefined {
  const field = (k: string) => new RegExp(`^${k}:\\s*(.*?)\\s*$`, 'm').exec(text)?.[1];
  const minor = field('Device Minor');
  if (minor === undefined || !/^\d+$/.test(minor)) return undefined;
  const uuid = field('GPU UUID');
  return { minor: Number(minor), busId, ...(uuid && /^GPU-[0-9a-f-]+$/i.test(uuid) ? { uuid } : {}) };
}

/** `nvidia-smi -L`: "GPU 0: <name> (UUID: GPU-...)", each followed by its "  MIG <profile> Device N: (UUID: MIG-...)" lines. */
export function parseSmiList(text: string): SmiGpu[] {
  const out: SmiGpu[] = [];
  for (const line of text.split('\n')) {
    const gpu = /^GPU (\d+): .*\(UUID: (GPU-[0-9a-f-]+)\)\s*$/i.exec(line);
    if (gpu) {
      out.push({ index: Number(gpu[1]), uuid: gpu[2]!, migs: [] });
      continue;
    }
    const mig = /^\s+MIG .*Device\s+(\d+): \(UUID: (MIG-[0-9a-f-]+)\)\s*$/i.exec(line);
    if (mig && out.length) out[out.length - 1]!.migs.push({ index: Number(mig[1]), uuid: mig[2]! });
  }
  return out;
}

/**
 * /proc/driver/nvidia-caps/mig-minors: "config 1", "monitor 2", "gpu0/gi1/access 12",
 * "gpu0/gi1/ci0/access 13": the minor of /dev/nvidia-caps/nvidia-cap<minor> for each
 * capability. The gpu<N> there is the GPU's device minor.
 */
export function parseMigMinors(text: string): Map<number, CapOwner> {
  const out = new Map<number, CapOwner>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+(\d+)\s*$/.exec(line);
    if (!m) continue;
    const what = m[1]!;
    const minor = Number(m[2]);
    const inst = /^gpu(\d+)\/gi(\d+)(?:\/ci(\d+))?\/access$/.exec(what);
    if (inst) out.set(minor, { gpu: Number(inst[1]), gi: Number(inst[2]), ...(inst[3] !== undefined ? { ci: Number(inst[3]) } : {}) });
    else if (!what.includes('/')) out.set(minor, { global: what });
  }
  return out;
}

/** The cap node's minor from its name (nvidia-caps/nvidia-cap12 -> 12). */
export function capMinor(name: string): number | undefined {
  const m = /^nvidia-caps\/nvidia-cap(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
