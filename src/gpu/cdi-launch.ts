import { SifError } from '../errors.js';
import { probeCdiHost } from '../host/probe-cdi-host.js';
import { cdiMountOps } from './cdi-mount-ops.js';
import { type CdiRegistry, loadCdiRegistry } from './cdi-registry.js';
import { type CdiPlan, planCdi, type CdiRequest } from './plan-cdi.js';
import type { MountOp } from '../exec/mount-ops.js';

/** --device for a launch: reads the spec directories, plans, and returns what to add. */
export function cdiForLaunch(
  req: CdiRequest & { nv: boolean },
  hostEnv: Record<string, string>,
  containerEnv: Record<string, string>,
): { ops: MountOp[]; env: Record<string, string>; warnings: string[]; hooks: string[]; notes: string[] } {
  if (req.nv) {
    throw new SifError('SIF_E_USAGE', '--nv and --device both bind the NVIDIA driver, each its own way', {
      hint: "use --device nvidia.com/gpu=... to apply the site's CDI spec, or --nv without it",
    });
  }
  const facts = probeCdiHost(hostEnv);
  const plan = planCdi(req, loadCdiRegistry(facts), facts);
  return { ...cdiMountOps(plan, containerEnv), hooks: plan.hooks, notes: plan.notes };
}

/** `sif doctor --gpu`: the CDI specs found, their devices, and what was not usable. */
export function cdiRegistryText(reg: CdiRegistry): string {
  const lines = ['', `CDI specs (${reg.dirs.join(', ')}: a device of a later directory replaces one of the same name in an earlier):`];
  for (const s of reg.specs) {
    const names = s.devices.map((d) => `${s.kind}=${d.name}`);
    const used = names.filter((n) => reg.devices.get(n)?.spec === s);
    const hidden = names.filter((n) => !used.includes(n));
    lines.push(`  ${s.file}: ${s.kind}, cdiVersion ${s.cdiVersion}`);
    lines.push(`    devices: ${used.map((n) => n.slice(s.kind.length + 1)).join(' ') || 'none'}`);
    if (hidden.length) lines.push(`    not used (defined again elsewhere): ${hidden.map((n) => n.slice(s.kind.length + 1)).join(' ')}`);
  }
  if (reg.specs.length === 0) lines.push('  none');
  for (const p of reg.problems) lines.push(`  not usable: ${p}`);
  for (const [n, files] of reg.conflicts) lines.push(`  ${n}: defined by ${files.join(' and ')}, in one directory: usable from neither`);
  return `${lines.join('\n')}\n`;
}

/** What --device would apply, decision by decision: for `sif doctor --gpu --device NAME`. */
export function cdiPlanText(plan: CdiPlan, contain: boolean): string {
  const lines = ['', `--device ${plan.devices.join(',')}${contain ? ' (with --contain)' : ''}:`, '', 'decisions:'];
  for (const n of plan.notes) lines.push(`  ${n}`);
  lines.push('', 'hooks:', ...(plan.hooks.length ? plan.hooks.map((h) => `  ${h}`) : ['  none']));
  lines.push('', 'binds (read-only unless marked):');
  for (const m of plan.mounts) lines.push(`  ${m.dst}  <-  ${m.src}${m.writable ? '  (read-write)' : ''}`);
  if (plan.mounts.length === 0) lines.push('  none');
  for (const l of plan.links) lines.push(`  ${l.dst} -> ${l.target}  (link)`);
  const env = Object.entries(plan.env);
  if (env.length) lines.push('', 'environment:', ...env.map(([k, v]) => `  ${k}=${v}`));
  lines.push('', 'warnings:', ...(plan.warnings.length ? plan.warnings.map((w) => `  ${w}`) : ['  none']));
  return `${lines.join('\n')}\n`;
}

/** `sif doctor --gpu [--device NAME]`: the specs found, and what the devices named would get. */
export function cdiDoctor(hostEnv: Record<string, string>, req?: CdiRequest): string {
  const facts = probeCdiHost(hostEnv);
  const reg = loadCdiRegistry(facts);
  const text = cdiRegistryText(reg);
  return req?.devices.length ? text + cdiPlanText(planCdi(req, reg, facts), req.contain) : text;
}
