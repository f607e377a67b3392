import type { MountOp } from '../exec/mount-ops.js';
import { CONTAINER_LIB_DIR, PERSISTENCED_SOCKET } from './nvidia-files.js';
import type { NvidiaPlan } from './plan-nvidia.js';

/** What --nv adds to a launch: mount operations and variables. */
export interface GpuLaunchParts {
  ops: MountOp[];
  env: Record<string, string>;
  warnings: string[];
}

/**
 * The plan as starter operations. The libraries go into a fresh tmpfs at
 * /.singularity.d/libs: the image may lack the directory or hold files there, and
 * a tmpfs is the container's own, so the starter can make each file's mount point
 * in it (nothing of the image changes). All is bound read-only but the MPS pipes.
 */
export function nvidiaMountOps(plan: NvidiaPlan, containerEnv: Record<string, string>): GpuLaunchParts {
  const ops: MountOp[] = [];
  const libs = plan.mounts.filter((m) => m.dst.startsWith(`${CONTAINER_LIB_DIR}/`));
  if (libs.length) ops.push({ op: 'tmpfs', dst: CONTAINER_LIB_DIR, mode: 0o755 });
  for (const m of plan.mounts) {
    ops.push({ op: 'bind', src: m.src, dst: m.dst, readonly: !m.writable, ...(m.dst === PERSISTENCED_SOCKET ? { optional: true } : {}) });
  }
  for (const f of plan.files) ops.push({ op: 'file', dst: f.dst, mode: 0o644, data: f.data });
  for (const l of plan.links) ops.push({ op: 'symlink', target: l.target, dst: l.dst });
  const env = { ...plan.env };
  if (libs.length) {
    // The image's env scripts add the directory too; a plain image has none.
    const ld = containerEnv.LD_LIBRARY_PATH;
    if (!ld) env.LD_LIBRARY_PATH = CONTAINER_LIB_DIR;
    else if (!ld.split(':').includes(CONTAINER_LIB_DIR)) env.LD_LIBRARY_PATH = `${ld}:${CONTAINER_LIB_DIR}`;
  }
  return { ops, env, warnings: plan.warnings };
}
