import type { MountOp } from '../exec/mount-ops.js';
import { CONTAINER_LIB_DIR } from './nvidia-files.js';
import type { CdiPlan } from './plan-cdi.js';

/**
 * The CDI plan as starter operations: the links in a fresh tmpfs at /.singularity.d/libs
 * (the container's own, so nothing of the image changes), added to the library path;
 * then the binds.
 */
export function cdiMountOps(plan: CdiPlan, containerEnv: Record<string, string>): { ops: MountOp[]; env: Record<string, string>; warnings: string[] } {
  const ops: MountOp[] = [];
  const env = { ...plan.env };
  if (plan.links.length) {
    ops.push({ op: 'tmpfs', dst: CONTAINER_LIB_DIR, mode: 0o755 });
    for (const l of plan.links) ops.push({ op: 'symlink', target: l.target, dst: l.dst });
    const ld = env.LD_LIBRARY_PATH ?? containerEnv.LD_LIBRARY_PATH;
    if (!ld) env.LD_LIBRARY_PATH = CONTAINER_LIB_DIR;
    else if (!ld.split(':').includes(CONTAINER_LIB_DIR)) env.LD_LIBRARY_PATH = `${ld}:${CONTAINER_LIB_DIR}`;
  }
  for (const m of plan.mounts) ops.push({ op: 'bind', src: m.src, dst: m.dst, readonly: !m.writable });
  return { ops, env, warnings: plan.warnings };
}
