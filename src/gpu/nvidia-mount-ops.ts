import type { LaunchContribution } from '../exec/launch-contribution.js';
import type { MountOp } from '../exec/mount-ops.js';
import { CONTAINER_LIB32_DIR, CONTAINER_LIB_DIR, PERSISTENCED_SOCKET } from './nvidia-files.js';
import type { NvidiaPlan } from './plan-nvidia.js';

/**
 * The plan as a launch contribution: the libraries go to /.singularity.d/libs (the
 * tmpfs there is made by combineContributions, for --nv and --mpi alike), last on the
 * library path as Apptainer puts them; everything else is an operation of its own. All
 * is bound read-only but the MPS pipes.
 */
export function nvidiaMountOps(plan: NvidiaPlan): LaunchContribution {
  const ops: MountOp[] = [];
  const libraries: LaunchContribution['libraries'] = [];
  // The 32-bit set's directory is this plan's alone: its own tmpfs, as for the 64-bit one.
  const lib32 = plan.mounts.some((m) => m.dst.startsWith(`${CONTAINER_LIB32_DIR}/`));
  if (lib32) ops.push({ op: 'tmpfs', dst: CONTAINER_LIB32_DIR, mode: 0o755 });
  for (const m of plan.mounts) {
    if (m.dst.startsWith(`${CONTAINER_LIB_DIR}/`) && !m.writable) {
      libraries.push({ src: m.src, name: m.dst.slice(CONTAINER_LIB_DIR.length + 1) });
      continue;
    }
    ops.push({ op: 'bind', src: m.src, dst: m.dst, readonly: !m.writable, ...(m.dst === PERSISTENCED_SOCKET ? { optional: true } : {}) });
  }
  for (const f of plan.files) ops.push({ op: 'file', dst: f.dst, mode: 0o644, data: f.data });
  for (const l of plan.links) ops.push({ op: 'symlink', target: l.target, dst: l.dst });
  return { libraries, libraryOrder: 'last', ...(lib32 ? { libraryDirsAfter: [CONTAINER_LIB32_DIR] } : {}), ops, env: { ...plan.env }, warnings: plan.warnings };
}
