import { doctorText } from './doctor-text.js';
export { cdiDoctor, cdiForLaunch } from './cdi-launch.js';
import { probeGpuHost } from '../host/probe-gpu-host.js';
import { type GpuLaunchParts, nvidiaMountOps } from './nvidia-mount-ops.js';
import { isNvidiaLibrary, type NvidiaRequest, planNvidia } from './plan-nvidia.js';

/**
 * --nv for a launch: reads the host (lazily), plans, and returns what to add. Loaded
 * only when --nv is given (src/cli/load-gpu.ts), so `sif exec` without it pays nothing.
 */
export function nvidiaForLaunch(
  req: NvidiaRequest,
  hostEnv: Record<string, string>,
  containerEnv: Record<string, string>,
): GpuLaunchParts & { notes: string[] } {
  const plan = planNvidia(req, probeGpuHost(hostEnv, isNvidiaLibrary));
  return { ...nvidiaMountOps(plan, containerEnv), notes: plan.notes };
}

/** `sif doctor --gpu [IMAGE]`: the planner's decisions on this host, as text. */
export function nvidiaDoctor(req: NvidiaRequest, hostEnv: Record<string, string>): string {
  return doctorText(planNvidia(req, probeGpuHost(hostEnv, isNvidiaLibrary)), req.contain);
}
