import { parseYamlSubset, type YamlValue } from './cdi-yaml.js';

/**
 * A CDI (Container Device Interface) spec: a vendor's description of its devices as
 * edits to a container (device nodes, mounts, environment, hooks). Read from JSON or
 * YAML files in the spec directories; fields sif has no use for (annotations, intelRdt,
 * netDevices) are accepted and left aside.
 */
export interface CdiDeviceNode {
  /** Path in the container. */
  path: string;
  /** Path on the host; the container path when absent. */
  hostPath?: string;
  type?: string;
  permissions?: string;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface CdiMount {
  hostPath: string;
  containerPath: string;
  type?: string;
  options: string[];
}

export interface CdiHook {
  hookName: string;
  path: string;
  args: string[];
  env: string[];
}

export interface CdiEdits {
  env: string[];
  deviceNodes: CdiDeviceNode[];
  mounts: CdiMount[];
  hooks: CdiHook[];
  additionalGids: number[];
}

export interface CdiSpec {
  /** The file it was read from. */
  file: string;
  /** Its directory's rank: a later directory's device replaces an earlier one's. */
  priority: number;
  cdiVersion: string;
  /** vendor/class, e.g. nvidia.com/gpu. */
  kind: string;
  /** Edits applied when any device of the spec is asked for. */
  edits: CdiEdits;
  devices: { name: string; edits: CdiEdits }[];
}

const KIND = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\/[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DEVICE_NAME = /^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;

/** A fully qualified device name, vendor.com/class=name, split; undefined when not one. */
export function parseQualifiedName(name: string): { kind: string; device: string } | undefined {
  const eq = name.indexOf('=');
  if (eq < 0) return undefined;
  const kind = name.slice(0, eq);
  const device = name.slice(eq + 1);
  return KIND.test(kind) && DEVICE_NAME.test(device) ? { kind, device } : undefined;
}

type Obj = { [key: string]: YamlValue };

class SpecProblem extends Error {}

/** Where a field is, for messages: devices[0].containerEdits.env. */
const at = (where: string, key: string) => (where ? `${where}.${key}` : key);

function isObj(v: YamlValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, key: string, where: string, required: true): string;
function str(o: Obj, key: string, where: string, required?: false): string | undefined;
function str(o: Obj, key: string, where: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new SpecProblem(`${where || 'the spec'} has no '${key}'`);
    return undefined;
  }
  if (typeof v !== 'string') throw new SpecProblem(`${at(where, key)} is not a string`);
  return v;
}

function num(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SpecProblem(`${at(where, key)} is not a whole number`);
  return v;
}

function list(o: Obj, key: string, where: string): YamlValue[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpecProblem(`${at(where, key)} is not a list`);
  return v;
}

function strings(o: Obj, key: string, where: string): string[] {
  return list(o, key, where).map((v, i) => {
    if (typeof v !== 'string') throw new SpecProblem(`${at(where, key)}[${i}] is not a string`);
    return v;
  });
}

function absolute(path: string, where: string): string {
  if (!path.startsWith('/')) throw new SpecProblem(`${where} '${path}' is not an absolute path`);
  return path;
}

function objects(o: Obj, key: string, where: string): [Obj, string][] {
  return list(o, key, where).map((v, i) => {
    if (!isObj(v)) throw new SpecProblem(`${at(where, key)}[${i}] is not a mapping`);
    return [v, `${at(where, key)}[${i}]`];
  });
}

function readEdits(v: YamlValue | undefined, where: string): CdiEdits {
  if (v === undefined || v === null) return { env: [], deviceNodes: [], mounts: [], hooks: [], additionalGids: [] };
  if (!isObj(v)) throw new SpecProblem(`${where} is not a mapping`);
  const env = strings(v, 'env', where);
  for (const e of env) if (e.indexOf('=') <= 0) throw new SpecProblem(`${where}.env '${e}' is not NAME=VALUE`);
  const deviceNodes = objects(v, 'deviceNodes', where).map(([d, w]): CdiDeviceNode => {
    const node: CdiDeviceNode = { path: absolute(str(d, 'path', w, true), `${w}.path`) };
    const hostPath = str(d, 'hostPath', w);
    if (hostPath !== undefined) node.hostPath = absolute(hostPath, `${w}.hostPath`);
    for (const k of ['type', 'permissions'] as const) {
      const s = str(d, k, w);
      if (s !== undefined) node[k] = s;
    }
    for (const k of ['fileMode', 'uid', 'gid'] as const) {
      const n = num(d, k, w);
      if (n !== undefined) node[k] = n;
    }
    return node;
  });
  const mounts = objects(v, 'mounts', where).map(([m, w]): CdiMount => {
    const type = str(m, 'type', w);
    return {
      hostPath: absolute(str(m, 'hostPath', w, true), `${w}.hostPath`),
      containerPath: absolute(str(m, 'containerPath', w, true), `${w}.containerPath`),
      ...(type !== undefined ? { type } : {}),
      options: strings(m, 'options', w),
    };
  });
  const hooks = objects(v, 'hooks', where).map(([h, w]): CdiHook => ({
    hookName: str(h, 'hookName', w, true),
    path: absolute(str(h, 'path', w, true), `${w}.path`),
    args: strings(h, 'args', w),
    env: strings(h, 'env', w),
  }));
  const additionalGids = list(v, 'additionalGids', where).map((g, i) => {
    if (typeof g !== 'number' || !Number.isInteger(g) || g < 0) throw new SpecProblem(`${where}.additionalGids[${i}] is not a group id`);
    return g;
  });
  return { env, deviceNodes, mounts, hooks, additionalGids };
}

/**
 * Reads a spec file's text (JSON when the name ends in .json, else the YAML subset of
 * cdi-yaml.ts). Returns the spec, or the problem that makes it unusable.
 */
export function parseCdiSpec(file: string, text: string, priority: number): CdiSpec | { problem: string } {
  try {
    let doc: YamlValue;
    try {
      doc = file.endsWith('.json') ? (JSON.parse(text) as YamlValue) : parseYamlSubset(text);
    } catch (e) {
      throw new SpecProblem((e as Error).message);
    }
    if (!isObj(doc)) throw new SpecProblem('it is not a mapping');
    const cdiVersion = doc.cdiVersion;
    if (typeof cdiVersion !== 'string' || !/^\d+\.\d+\.\d+$/.test(cdiVersion)) throw new SpecProblem(`cdiVersion ${JSON.stringify(cdiVersion ?? null)} is not a version like 0.5.0`);
    const kind = str(doc, 'kind', '', true);
    if (!KIND.test(kind)) throw new SpecProblem(`kind '${kind}' is not vendor.com/class`);
    const devices = objects(doc, 'devices', '').map(([d, w]) => {
      // Go writes a name that reads as a number ("0") quoted; a hand-written 0 is taken too.
      const raw = d.name;
      const name = typeof raw === 'number' ? String(raw) : raw;
      if (typeof name !== 'string' || !DEVICE_NAME.test(name)) throw new SpecProblem(`${w}.name ${JSON.stringify(raw ?? null)} is not a device name`);
      return { name, edits: readEdits(d.containerEdits, `${w}.containerEdits`) };
    });
    if (devices.length === 0) throw new SpecProblem('it defines no device');
    return { file, priority, cdiVersion, kind, edits: readEdits(doc.containerEdits, 'containerEdits'), devices };
  } catch (e) {
    if (e instanceof SpecProblem) return { problem: `${file}: ${e.message}` };
    throw e;
  }
}
