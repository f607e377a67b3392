import type { LaunchPlan, MountOp } from './mount-ops.js';

/** Must match PLAN_VERSION in native/starter/plan.h. */
export const PLAN_VERSION = 'SIFPLAN/2';

function netstring(field: string): string {
  return `${Buffer.byteLength(field, 'utf8')}:${field},`;
}

function opFields(o: MountOp): string[] {
  switch (o.op) {
    case 'mkdir':
    case 'tmpfs':
      return [o.op, o.dst, o.mode.toString(8)];
    case 'bind': {
      const opts = [o.readonly ? 'ro' : '', o.optional ? 'optional' : ''].filter(Boolean).join(',');
      return ['bind', o.src, o.dst, opts];
    }
    case 'proc':
    case 'readonly':
      return [o.op, o.dst];
    case 'file':
    case 'merge':
      return [o.op, o.dst, o.mode.toString(8), o.data];
    case 'symlink':
      return ['symlink', o.target, o.dst];
  }
}

/** Serialises a plan for the starter: a sequence of netstrings (see plan.h). */
export function encodePlan(plan: LaunchPlan): Buffer {
  const fields: string[] = [PLAN_VERSION, 'image', plan.image, String(plan.offset)];
  if (plan.newPid) fields.push('flag', 'pid');
  if (plan.writable) fields.push('flag', 'writable');
  if (plan.storeAhead) fields.push('flag', 'store-ahead');
  if (plan.noReadAhead) fields.push('flag', 'no-read-ahead');
  if (plan.share) fields.push('share', plan.share.dir, plan.share.key, plan.share.dev, plan.share.ino, String(plan.share.lingerMs));
  for (const o of plan.ops) fields.push(...opFields(o));
  fields.push('cwd', plan.cwd);
  for (const a of plan.argv) fields.push('arg', a);
  for (const [k, v] of Object.entries(plan.env)) fields.push('env', `${k}=${v}`);
  if (plan.shim) fields.push('shim', plan.shim.test, plan.shim.shell, plan.shim.script);
  fields.push('end');
  // One string, one conversion: a buffer per field cost ~1 ms per start.
  return Buffer.from(fields.map(netstring).join(''), 'utf8');
}
