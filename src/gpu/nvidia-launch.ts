import type { LaunchContribution } from '../exec/launch-contribution.js';
import type { ImageInfo } from '../image/open-image.js';
import { doctorText } from './doctor-text.js';
export { cdiDoctor, cdiForLaunch } from './cdi-launch.js';
import { probeGpuHost } from '../host/probe-gpu-host.js';
import { compatReadsImage } from './cuda-compat.js';
import { loadCompatImage } from './load-compat-image.js';
import { nvidiaMountOps } from './nvidia-mount-ops.js';
import { compatRequest, isNvidiaLibrary, type NvidiaPlan, type NvidiaRequest, planNvidia } from './plan-nvidia.js';

/**
 * Plans against this host and, for --nv-compat and the CUDA check, the image's files.
 * Reading the image needs the squashfs reader, whose modules (node:zlib among them)
 * cost ~7 ms to load (measured): it is loaded only when the planner will look in the
 * image (compatReadsImage), decided before planning, so the host is planned once.
 */
async function plan(req: NvidiaRequest, hostEnv: Record<string, string>, image: ImageInfo | undefined): Promise<NvidiaPlan> {
  const facts = probeGpuHost(hostEnv, isNvidiaLibrary);
  const compat = compatRequest(req, facts);
  if (!image || !compat.driver || !compatReadsImage(compat)) return planNvidia(req, facts);
  const files = (await loadCompatImage()).compatImage(image);
  try {
    return planNvidia(req, facts, files);
  } finally {
    files.close();
  }
}

/**
 * --nv for a launch: reads the host (lazily), plans, and returns what to add. Loaded
 * only when --nv is given (src/cli/load-gpu.ts), so `sif exec` without it pays nothing.
 */
export async function nvidiaForLaunch(req: NvidiaRequest, hostEnv: Record<string, string>, image?: ImageInfo): Promise<LaunchContribution & { notes: string[] }> {
  const p = await plan(req, hostEnv, image);
  return { ...nvidiaMountOps(p), notes: p.notes };
}

/** `sif doctor --gpu [IMAGE]`: the planner's decisions on this host, as text. */
export async function nvidiaDoctor(req: NvidiaRequest, hostEnv: Record<string, string>, image?: ImageInfo): Promise<string> {
  return doctorText(await plan(req, hostEnv, image), req.contain);
}
