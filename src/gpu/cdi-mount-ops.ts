import type { LaunchContribution } from '../exec/launch-contribution.js';
import type { MountOp } from '../exec/mount-ops.js';
import type { CdiPlan } from './plan-cdi.js';

/**
 * The CDI plan as a launch contribution: the soname links go into /.singularity.d/libs
 * (the shared library directory, a tmpfs the launch makes and puts on the library path),
 * then the binds.
 */
export function cdiMountOps(plan: CdiPlan): LaunchContribution {
  const ops: MountOp[] = plan.links.map((l) => ({ op: 'symlink', target: l.target, dst: l.dst }));
  for (const m of plan.mounts) ops.push({ op: 'bind', src: m.src, dst: m.dst, readonly: !m.writable });
  return { libraries: [], libraryOrder: 'last', ops, env: { ...plan.env }, warnings: plan.warnings };
}
