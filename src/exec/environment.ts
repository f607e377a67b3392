import { SifError } from '../errors.js';

/** Apptainer's default PATH inside a container. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Passed even with --cleanenv (Apptainer's list). */
const ALWAYS_PASS = ['TERM', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy', 'ftp_proxy'];
const ALWAYS_PASS_SET = new Set([...ALWAYS_PASS, ...ALWAYS_PASS.map((k) => k.toUpperCase())]);
/** Never taken from the host: sif's own settings, and what must come from the container. */
const HOST_PREFIXES_DROPPED = ['SIF_', 'SIFENV_', 'APPTAINER_', 'APPTAINERENV_', 'SINGULARITY_', 'SINGULARITYENV_'];
const HOST_KEYS_DROPPED = new Set(['HOME', 'PATH', 'LD_LIBRARY_PATH', 'PS1']);

export interface EnvRequest {
  hostEnv: Record<string, string>;
  cleanenv: boolean;
  /** Variables from --env-file, in file order. */
  envFile: Record<string, string>;
  /** Variables from --env, in order. */
  envFlags: Record<string, string>;
  /** The image's OCI `Env` entries (KEY=VALUE), if it records any. */
  imageEnv: readonly string[];
  home: string;
  imagePath: string;
}

export interface ContainerEnv {
  /** The environment the payload starts with. */
  env: Record<string, string>;
  /** Values the image's env scripts must not override (re-exported after them). */
  forced: Record<string, string>;
  /** PATH parts to add around whatever PATH the image's scripts leave. */
  prependPath?: string;
  appendPath?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string, origin: string): void {
  if (!NAME.test(name)) throw new SifError('SIF_E_USAGE', `'${name}' (from ${origin}) is not a valid variable name`);
}

/** Apptainer's precedence: host, image, then SIFENV_*, --env-file, --env; HOME stays the container's. */
export function buildEnvironment(req: EnvRequest): ContainerEnv {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.hostEnv)) {
    if (req.cleanenv ? !ALWAYS_PASS_SET.has(k) : HOST_KEYS_DROPPED.has(k) || HOST_PREFIXES_DROPPED.some((p) => k.startsWith(p))) continue;
    env[k] = v;
  }
  if (req.cleanenv) env.LANG = 'C';
  env.PATH = DEFAULT_PATH;
  for (const entry of req.imageEnv) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }

  const forced: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.hostEnv)) {
    if (k.startsWith('SIFENV_') && k.length > 'SIFENV_'.length) forced[k.slice('SIFENV_'.length)] = v;
  }
  for (const [k, v] of Object.entries(req.envFile)) (checkName(k, '--env-file'), (forced[k] = v));
  for (const [k, v] of Object.entries(req.envFlags)) (checkName(k, '--env'), (forced[k] = v));
  if ('HOME' in forced) {
    throw new SifError('SIF_E_USAGE', 'HOME cannot be set with --env or SIFENV_HOME', { hint: 'use --home SRC[:DST]' });
  }
  const { PREPEND_PATH: prependPath, APPEND_PATH: appendPath, ...rest } = forced;

  const name = req.imagePath.slice(req.imagePath.lastIndexOf('/') + 1);
  for (const prefix of ['SIF', 'APPTAINER', 'SINGULARITY']) {
    rest[`${prefix}_CONTAINER`] = req.imagePath;
    rest[`${prefix}_NAME`] = name;
  }
  rest.HOME = req.home;
  Object.assign(env, rest);
  if (prependPath) env.PATH = `${prependPath}:${env.PATH}`;
  if (appendPath) env.PATH = `${env.PATH}:${appendPath}`;
  return { env, forced: rest, ...(prependPath ? { prependPath } : {}), ...(appendPath ? { appendPath } : {}) };
}

/** Parses an --env-file: KEY=VALUE lines, `export ` allowed, # comments, optional quotes. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([^=\s]+)=(.*)$/.exec(line);
    if (!m || !NAME.test(m[1]!)) {
      throw new SifError('SIF_E_ENV_FILE', `${file}:${i + 1}: expected KEY=VALUE, found '${line}'`);
    }
    let value = m[2]!;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) value = value.slice(1, -1);
    out[m[1]!] = value;
  });
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script that runs the command through the image's /.singularity.d/env/*.sh
 * (Apptainer-built images keep their environment there), then re-applies what
 * the user forced, and execs the command.
 */
export function envScriptShim(ce: ContainerEnv): string {
  const lines = ['for f in /.singularity.d/env/*.sh; do [ -f "$f" ] && . "$f"; done'];
  for (const [k, v] of Object.entries(ce.forced)) lines.push(`export ${k}=${shellQuote(v)}`);
  if (ce.prependPath) lines.push(`PATH=${shellQuote(ce.prependPath)}:"$PATH"`);
  if (ce.appendPath) lines.push(`PATH="$PATH":${shellQuote(ce.appendPath)}`);
  lines.push('exec "$@"');
  return lines.join('\n');
}
