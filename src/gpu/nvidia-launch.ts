import type { LaunchContribution } from '../exec/launch-contribution.js';
import type { ImageInfo } from '../image/open-image.js';
import { doctorText } from './doctor-text.js';
export { cdiDoctor, cdiForLaunch } from './cdi-launch.js';
import { probeGpuHost } from '../host/probe-gpu-host.js';
import { compatImage } from './compat-image.js';
import { nvidiaMountOps } from './nvidia-mount-ops.js';
import { isNvidiaLibrary, type NvidiaPlan, type NvidiaRequest, planNvidia } from './plan-nvidia.js';

/** Plans against this host and, for --nv-compat and the CUDA check, the image's files. */
function plan(req: NvidiaRequest, hostEnv: Record<string, string>, image: ImageInfo | undefined): NvidiaPlan {
  const files = image && compatImage(image);
  try {
    return planNvidia(req, probeGpuHost(hostEnv, isNvidiaLibrary), files);
  } finally {
    files?.close();
  }
}

/**
 * --nv for a launch: reads the host (lazily), plans, and returns what to add. Loaded
 * only when --nv is given (src/cli/load-gpu.ts), so `sif exec` without it pays nothing.
 */
export function nvidiaForLaunch(req: NvidiaRequest, hostEnv: Record<string, string>, image?: ImageInfo): LaunchContribution & { notes: string[] } {
  const p = plan(req, hostEnv, image);
  return { ...nvidiaMountOps(p), notes: p.notes };
}

/** `sif doctor --gpu [IMAGE]`: the planner's decisions on this host, as text. */
export function nvidiaDoctor(req: NvidiaRequest, hostEnv: Record<string, string>, image?: ImageInfo): string {
  return doctorText(plan(req, hostEnv, image), req.contain);
}
