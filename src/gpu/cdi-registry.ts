import { SifError } from '../errors.js';
import type { CdiHostFacts } from '../host/cdi-host-facts.js';
import { type CdiEdits, type CdiSpec, parseCdiSpec, parseQualifiedName } from './cdi-spec.js';

export interface CdiRegistry {
  /** The directories read, lowest priority first. */
  dirs: string[];
  specs: CdiSpec[];
  /** Files that could not be used, and why. */
  problems: string[];
  /** Every device by its qualified name (kind=name): the spec that wins for it. */
  devices: Map<string, { spec: CdiSpec; edits: CdiEdits }>;
  /** Names defined twice at the same priority: CDI refuses them. */
  conflicts: Map<string, string[]>;
}

/**
 * Reads every spec (*.json, *.yaml) of the spec directories, in name order, as CDI
 * does: no recursion, a later directory's device replacing an earlier one's, and a
 * device defined by two files of one directory usable from neither.
 */
export function loadCdiRegistry(facts: CdiHostFacts): CdiRegistry {
  const reg: CdiRegistry = { dirs: facts.specDirs(), specs: [], problems: [], devices: new Map(), conflicts: new Map() };
  for (const [priority, dir] of reg.dirs.entries()) {
    for (const name of (facts.listDir(dir) ?? []).filter((n) => n.endsWith('.json') || n.endsWith('.yaml')).sort()) {
      const file = `${dir}/${name}`;
      const text = facts.readSpec(file);
      if (text === undefined) {
        reg.problems.push(`${file}: cannot be read`);
        continue;
      }
      const spec = parseCdiSpec(file, text, priority);
      if ('problem' in spec) reg.problems.push(spec.problem);
      else reg.specs.push(spec);
    }
  }
  for (const spec of reg.specs) {
    for (const d of spec.devices) {
      const name = `${spec.kind}=${d.name}`;
      const other = reg.devices.get(name);
      if (other && other.spec.priority === spec.priority) {
        reg.conflicts.set(name, [...(reg.conflicts.get(name) ?? [other.spec.file]), spec.file]);
      } else if (!other || other.spec.priority < spec.priority) {
        reg.devices.set(name, { spec, edits: d.edits });
        reg.conflicts.delete(name);
      }
    }
  }
  for (const name of reg.conflicts.keys()) reg.devices.delete(name);
  return reg;
}

/** The devices asked for, each as vendor.com/class=name, checked against the registry. */
export function resolveCdiDevices(reg: CdiRegistry, asked: readonly string[]): { name: string; spec: CdiSpec; edits: CdiEdits }[] {
  const out: { name: string; spec: CdiSpec; edits: CdiEdits }[] = [];
  for (const name of asked) {
    const q = parseQualifiedName(name);
    if (!q) {
      throw new SifError('SIF_E_USAGE', `--device '${name}' is not a CDI device name`, {
        hint: 'name one as VENDOR/CLASS=NAME, e.g. --device nvidia.com/gpu=0 (or =all, or =GPU-<uuid>)',
      });
    }
    if (out.some((d) => d.name === name)) continue;
    const conflict = reg.conflicts.get(name);
    if (conflict) {
      throw new SifError('SIF_E_USAGE', `CDI device ${name} is defined by both ${conflict.join(' and ')}, in the same directory`, {
        hint: 'remove the stale spec file (CDI uses neither when two files of one directory define a device)',
      });
    }
    const found = reg.devices.get(name);
    if (found) {
      out.push({ name, ...found });
      continue;
    }
    const ofKind = [...reg.devices.keys()].filter((n) => n.startsWith(`${q.kind}=`));
    const where = reg.dirs.join(' and ');
    const problems = reg.problems.length ? ` (files not usable: ${reg.problems.join('; ')})` : '';
    if (ofKind.length) {
      throw new SifError('SIF_E_USAGE', `no CDI device ${name}: the specs in ${where} define ${ofKind.join(', ')}${problems}`, {
        hint: `choose one of those (sif doctor --gpu lists them)`,
      });
    }
    const kinds = [...new Set(reg.specs.map((s) => s.kind))];
    throw new SifError('SIF_E_USAGE', `no CDI spec for ${q.kind} in ${where}${kinds.length ? ` (there are specs for ${kinds.join(', ')})` : ''}${problems}`, {
      hint: q.kind === 'nvidia.com/gpu'
        ? "an administrator makes one with 'nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml'; or use --nv, which needs no spec"
        : "the device's vendor tools write its spec there",
    });
  }
  return out;
}
