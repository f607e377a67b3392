import { SifError } from '../errors.js';

/** Apptainer's default PATH inside a container. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where --nv and --mpi bind host libraries; Apptainer adds it after a user's LD_LIBRARY_PATH. */
const CONTAINER_LIBS = '/.singularity.d/libs';

/** Passed even with --cleanenv (Apptainer's list). */
const ALWAYS_PASS = ['TERM', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy', 'ftp_proxy'];
const ALWAYS_PASS_SET = new Set([...ALWAYS_PASS, ...ALWAYS_PASS.map((k) => k.toUpperCase())]);
/**
 * Also passed with --cleanenv: how an MPI launcher (srun, mpirun, mpiexec) reaches its
 * ranks. A rank without them starts as a singleton of size 1, so --cleanenv would
 * quietly break every job it is used in (Apptainer's does). --mpi passes more
 * (src/mpi/mpi-passthrough.ts).
 */
export const LAUNCHER_PREFIXES = ['SLURM_', 'PMI_', 'PMIX_', 'OMPI_', 'PRTE_', 'HYDRA_', 'MPIR_'];
/** Never taken from the host: sif's own settings, and what must come from the container. */
const HOST_PREFIXES_DROPPED = ['SIF_', 'SIFENV_', 'APPTAINER_', 'APPTAINERENV_', 'SINGULARITY_', 'SINGULARITYENV_'];
const HOST_KEYS_DROPPED = new Set(['HOME', 'PATH', 'LD_LIBRARY_PATH', 'PS1']);
/** Prefixes that set a variable in the container, weakest first: SIFENV_ wins, then Apptainer's, then its legacy one. */
const ENV_PREFIXES = ['SINGULARITYENV_', 'APPTAINERENV_', 'SIFENV_'];
/** Names the runtime sets itself, whatever the user asks (Apptainer refuses the same). */
const NOT_SETTABLE = new Set(['HOME']);

export interface EnvRequest {
  hostEnv: Record<string, string>;
  cleanenv: boolean;
  /** Variables from each --env-file, files in command-line order. */
  envFiles: readonly Record<string, string>[];
  /** Variables from --env, in order. */
  envFlags: Record<string, string>;
  /** The image's OCI `Env` entries (KEY=VALUE), if it records any. */
  imageEnv: readonly string[];
  home: string;
  imagePath: string;
  /** Destinations of the user's binds, for APPTAINER_BIND and its twins. */
  bindDsts: readonly string[];
}

export interface ContainerEnv {
  /** The environment the payload starts with. */
  env: Record<string, string>;
  /** The user's variables, as written: the env script evaluates them after the image's own scripts. */
  user: Record<string, string>;
  /** PATH as the image's env scripts should find it. */
  basePath: string;
  /** PATH parts to add around whatever PATH the image's scripts leave, and a PATH that replaces it. */
  prependPath?: string;
  appendPath?: string;
  path?: string;
  /** Something the user asked that was ignored: the caller shows these. */
  warnings: string[];
  /**
   * /.singularity.d/libs goes first on LD_LIBRARY_PATH (--mpi): the env script puts it
   * back there after the image's scripts, which add it last.
   */
  librariesFirst?: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkName(name: string, origin: string): void {
  if (!NAME.test(name)) throw new SifError('SIF_E_USAGE', `'${name}' (from ${origin}) is not a valid variable name`);
}

/** Whether a value means anything to the shell: it must then be evaluated in the container. */
export function needsEvaluation(value: string): boolean {
  return /[$`\\]/.test(value);
}

/** SIFENV_X, APPTAINERENV_X and SINGULARITYENV_X from the host, strongest last. */
function prefixedVariables(hostEnv: Record<string, string>, warnings: string[]): Map<string, { value: string; from: string }> {
  const out = new Map<string, { value: string; from: string }>();
  for (const prefix of ENV_PREFIXES) {
    for (const [k, value] of Object.entries(hostEnv)) {
      if (!k.startsWith(prefix) || k.length === prefix.length) continue;
      const name = k.slice(prefix.length);
      if (!NAME.test(name)) {
        // A name is written into a shell script: anything but a plain name could run code.
        warnings.push(`ignoring ${k}: '${name}' is not a valid variable name`);
        continue;
      }
      const before = out.get(name);
      if (before && before.value !== value) warnings.push(`${before.from} and ${k} differ: using ${k}`);
      out.set(name, { value, from: k });
    }
  }
  return out;
}

/**
 * Apptainer's precedence: host, image, then SIFENV_ (and APPTAINERENV_, SINGULARITYENV_),
 * each --env-file in turn, --env. User values are evaluated in the container, as
 * Apptainer evaluates them, by the env script (envScriptShim); literal ones are in
 * the starting environment too, for images without a shell.
 */
export function buildEnvironment(req: EnvRequest): ContainerEnv {
  const warnings: string[] = [];
  const asked = new Map<string, { value: string; from: string }>(prefixedVariables(req.hostEnv, warnings));
  for (const file of req.envFiles) for (const [k, v] of Object.entries(file)) (checkName(k, '--env-file'), asked.set(k, { value: v, from: '--env-file' }));
  for (const [k, v] of Object.entries(req.envFlags)) (checkName(k, '--env'), asked.set(k, { value: v, from: '--env' }));

  const user: Record<string, string> = {};
  const paths: { PREPEND_PATH?: string; APPEND_PATH?: string; PATH?: string } = {};
  for (const [name, { value, from }] of asked) {
    if (NOT_SETTABLE.has(name)) {
      warnings.push(`${name} cannot be set with ${from === '--env' || from === '--env-file' ? `${from} ${name}=...` : from}: ignored (use --home SRC[:DST] for the home directory)`);
    } else if (name === 'PATH' || name === 'PREPEND_PATH' || name === 'APPEND_PATH') {
      paths[name] = value;
    } else {
      user[name] = name === 'LD_LIBRARY_PATH' && value !== '' ? `${value}:${CONTAINER_LIBS}` : value;
    }
  }

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.hostEnv)) {
    if (req.cleanenv ? !ALWAYS_PASS_SET.has(k) && !LAUNCHER_PREFIXES.some((p) => k.startsWith(p)) : HOST_KEYS_DROPPED.has(k) || HOST_PREFIXES_DROPPED.some((p) => k.startsWith(p))) continue;
    // A variable the user sets is not taken from the host (Apptainer's rule): `$FOO` in
    // SIFENV_FOO='$FOO:x' is the image's FOO, if any.
    if (Object.hasOwn(user, k)) continue;
    env[k] = v;
  }
  if (req.cleanenv) env.LANG = 'C';
  env.PATH = DEFAULT_PATH;
  for (const entry of req.imageEnv) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const basePath = env.PATH;

  const name = req.imagePath.slice(req.imagePath.lastIndexOf('/') + 1);
  for (const prefix of ['SIF', 'APPTAINER', 'SINGULARITY']) {
    env[`${prefix}_CONTAINER`] = req.imagePath;
    env[`${prefix}_NAME`] = name;
    env[`${prefix}_BIND`] = req.bindDsts.map(escapeBindPath).join(',');
  }
  env.HOME = req.home;
  // A value to evaluate is left to the env script: before it, `$FOO` must still be the image's FOO.
  for (const [k, v] of Object.entries(user)) if (!needsEvaluation(v)) env[k] = v;
  const literal = (v: string | undefined): v is string => v !== undefined && v !== '' && !needsEvaluation(v);
  if (literal(paths.PREPEND_PATH)) env.PATH = `${paths.PREPEND_PATH}:${env.PATH}`;
  if (literal(paths.APPEND_PATH)) env.PATH = `${env.PATH}:${paths.APPEND_PATH}`;
  if (literal(paths.PATH)) env.PATH = paths.PATH;
  return {
    env,
    user,
    basePath,
    ...(paths.PREPEND_PATH ? { prependPath: paths.PREPEND_PATH } : {}),
    ...(paths.APPEND_PATH ? { appendPath: paths.APPEND_PATH } : {}),
    ...(paths.PATH ? { path: paths.PATH } : {}),
    warnings,
  };
}

/** A bind destination as --bind reads it back (a nested run sees the same paths). */
function escapeBindPath(path: string): string {
  return path.replace(/[,:]/g, '\\$&');
}

/** Whether any user value needs the container's shell to evaluate it. */
export function evaluatesValues(ce: ContainerEnv): boolean {
  return [...Object.values(ce.user), ce.prependPath ?? '', ce.appendPath ?? '', ce.path ?? ''].some(needsEvaluation);
}

/** A word for sh that nothing inside is expanded in. */
function singleQuoted(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A value for sh inside double quotes, as Apptainer writes it: `$`, backquotes and
 * backslash escapes are evaluated; a double quote is a literal character; and the
 * result always ends inside its quotes (a trailing backslash is kept as one).
 */
export function doubleQuoted(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\') {
      const next = value[i + 1];
      // \" stays an escaped quote; a lone trailing backslash must not escape the closing quote.
      if (next === undefined) out += '\\\\';
      else (out += c + next), i++;
    } else if (c === '"') {
      out += '\\"';
    } else {
      out += c;
    }
  }
  return `"${out}"`;
}

/**
 * The script that runs the command through the image's /.singularity.d/env/*.sh
 * (Apptainer-built images keep their environment there), then sets the user's
 * variables, evaluated as Apptainer evaluates them, then PATH, and execs the command.
 * Names are checked (buildEnvironment) and values quoted: nothing but the values'
 * own expansions runs.
 */
export function envScriptShim(ce: ContainerEnv): string {
  const lines = [
    // The starting PATH already holds literal PATH changes, for images without a shell: start over.
    `PATH=${singleQuoted(ce.basePath)}`,
    'for f in /.singularity.d/env/*.sh; do [ -f "$f" ] && . "$f"; done',
  ];
  for (const [k, v] of Object.entries(ce.user)) {
    if (!NAME.test(k)) throw new Error(`internal: unchecked variable name '${k}'`);
    lines.push(`export ${k}=${doubleQuoted(v)}`);
  }
  // A PATH of the user's replaces the image's, PREPEND_PATH and APPEND_PATH included (Apptainer's order).
  if (ce.path) lines.push(`PATH=${doubleQuoted(ce.path)}`);
  else {
    if (ce.prependPath) lines.push(`PATH=${doubleQuoted(ce.prependPath)}:"$PATH"`);
    if (ce.appendPath) lines.push(`PATH="$PATH":${doubleQuoted(ce.appendPath)}`);
  }
  if (ce.librariesFirst) lines.push(`LD_LIBRARY_PATH=${CONTAINER_LIBS}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}`, 'export LD_LIBRARY_PATH');
  lines.push('export PATH', 'exec "$@"');
  return lines.join('\n');
}

/**
 * Parses an --env-file: KEY=VALUE lines, `export ` allowed, # comments. The value is
 * read as sh reads a word, one level of quotes and backslashes removed, but nothing
 * is expanded here: the container evaluates the result as it does --env values.
 * Apptainer runs the file through a shell first (on the host) and then evaluates the
 * result again in the container; escaped forms such as `PATH="\$PATH:/x"` give the
 * same here, and `PATH=$PATH:/x` adds to the image's PATH rather than the host's.
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string) =>
      new SifError('SIF_E_ENV_FILE', `${file}:${i + 1}: ${why}, found '${line}'`, { hint: 'write KEY=VALUE, and quote a value with spaces' });
    const m = /^(?:export\s+)?([^=\s]+)=(.*)$/.exec(line);
    if (!m || !NAME.test(m[1]!)) throw fail('expected KEY=VALUE');
    const value = unquoteWord(m[2]!);
    if (value === undefined) throw fail('expected one word (unbalanced quotes, or text after the value)');
    out[m[1]!] = value;
  });
  return out;
}

/** One sh word with one level of quoting removed and nothing expanded; undefined if it is not one word. */
function unquoteWord(text: string): string | undefined {
  let out = '';
  let i = 0;
  for (; i < text.length && !/\s/.test(text[i]!); i++) {
    const c = text[i]!;
    const sub = substitutionEnd(text, i);
    if (sub > i) {
      out += text.slice(i, sub + 1);
      i = sub;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return undefined;
      out += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        const inner = substitutionEnd(text, j);
        if (inner > j) {
          out += text.slice(j, inner + 1);
          j = inner;
          continue;
        }
        // In double quotes a backslash escapes only $ ` " and itself.
        if (text[j] === '\\' && /[$`"\\]/.test(text[j + 1] ?? '')) j++;
        out += text[j];
      }
      if (j >= text.length) return undefined;
      i = j;
    } else if (c === '\\' && i + 1 < text.length) {
      out += text[++i];
    } else {
      out += c;
    }
  }
  const rest = text.slice(i).trim();
  return rest === '' || rest.startsWith('#') ? out : undefined;
}

/**
 * Where a `$(...)`, `${...}` or backquoted substitution starting at `i` ends (its
 * spaces and quotes belong to it, for the container's shell), or `i` if none starts there.
 */
function substitutionEnd(text: string, i: number): number {
  if (text[i] === '`') {
    const end = text.indexOf('`', i + 1);
    return end < 0 ? i : end;
  }
  if (text[i] !== '$' || (text[i + 1] !== '(' && text[i + 1] !== '{')) return i;
  const open = text[i + 1]!;
  const close = open === '(' ? ')' : '}';
  let depth = 0;
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === open) depth++;
    else if (text[j] === close && --depth === 0) return j;
  }
  return i;
}
