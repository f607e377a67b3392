import type { NvidiaPlan } from './plan-nvidia.js';

/** `sif doctor --gpu`: every decision of the --nv planner, then what a run would get. */
export function doctorText(plan: NvidiaPlan, contain: boolean): string {
  const lines = [`sif --nv on this host${contain ? ' (with --contain)' : ''}`, '', 'decisions:'];
  for (const n of plan.notes) lines.push(`  ${n}`);
  if (plan.notes.length === 0) lines.push('  (none: no driver)');
  lines.push('', 'binds (read-only unless marked):');
  for (const m of plan.mounts) lines.push(`  ${m.dst}  <-  ${m.src}${m.writable ? '  (read-write)' : ''}`);
  for (const f of plan.files) lines.push(`  ${f.dst}  (written: ${f.data.length} bytes)`);
  for (const l of plan.links) lines.push(`  ${l.dst} -> ${l.target}  (link)`);
  if (plan.mounts.length === 0) lines.push('  none');
  const env = Object.entries(plan.env);
  if (env.length) lines.push('', 'environment:', ...env.map(([k, v]) => `  ${k}=${v}`));
  lines.push('', 'warnings:', ...(plan.warnings.length ? plan.warnings.map((w) => `  ${w}`) : ['  none']));
  return `${lines.join('\n')}\n`;
}
