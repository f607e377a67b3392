import type { Argv } from 'yargs';
import type { ActionOptions } from '../exec/launch.js';
import { parseShareLinger } from '../exec/node-share.js';

/**
 * Options of exec, run and shell. Each also reads SIF_<NAME> (e.g. SIF_CLEANENV), or
 * Apptainer's APPTAINER_<NAME> and SINGULARITY_<NAME>, in that order of precedence;
 * binds from these variables are added to those of --bind (see envBinds).
 */
export const ACTION_FLAGS = {
  bind: { alias: 'B', type: 'string', describe: 'bind a host path: SRC[:DST[:ro|rw]], comma-separated, repeatable; $SIF_BIND adds more' },
  contain: { alias: 'c', type: 'boolean', describe: 'use minimal /dev and private /tmp, /var/tmp and home' },
  cleanenv: { alias: 'e', type: 'boolean', describe: 'do not pass the host environment (TERM and proxies still pass)' },
  env: { type: 'string', describe: 'set KEY=VALUE in the container (comma-separated, repeatable)' },
  'env-file': { type: 'string', describe: 'read KEY=VALUE lines from this file (repeatable, later files win)' },
  pwd: { type: 'string', describe: 'initial working directory in the container' },
  home: { alias: 'H', type: 'string', describe: 'home directory to bind: SRC[:DST]' },
  'no-home': { type: 'boolean', describe: 'do not bind the home directory' },
  workdir: { alias: 'W', type: 'string', describe: 'host directory backing /tmp, /var/tmp (and home with --contain)' },
  'writable-tmpfs': { type: 'boolean', describe: 'a writable tmpfs over the image, gone at exit' },
  pid: { alias: 'p', type: 'boolean', describe: 'own PID namespace, with an init that reaps and forwards signals' },
  nv: { type: 'boolean', describe: "bind the host's NVIDIA driver (libraries, programs; GPU device nodes with --contain)" },
  compat32: { type: 'boolean', describe: "with --nv, also the driver's 32-bit libraries, in /.singularity.d/libs32 (for 32-bit programs)" },
  'nv-compat': { type: 'boolean', describe: "with --nv, the image's CUDA forward-compatibility libraries (/usr/local/cuda*/compat) in place of the host's libcuda, when newer" },
  device: { type: 'string', describe: 'apply a CDI device from /etc/cdi or /var/run/cdi: VENDOR/CLASS=NAME, e.g. nvidia.com/gpu=0 (comma-separated, repeatable)' },
  mpi: { type: 'boolean', describe: "bind the host's MPI library and what it loads, after checking the command's MPI ABI and glibc" },
  'no-share': { type: 'boolean', describe: "under srun or mpirun, a container of this rank's own instead of one shared by the step's ranks on the node" },
  'store-ahead': { type: 'boolean', describe: 'push the files after those a program reads in listing order into the page cache ahead of it (faster tree walks; see README)' },
  'no-read-ahead': { type: 'boolean', describe: 'read nothing ahead of a program that reads files in order (by default the next ones are read on another CPU; see README)' },
  'share-linger': { type: 'string', describe: "under SLURM, seconds a shared container waits after its last rank for the job's next step (default 10; 0: none)" },
} as const;

/** Option names (and aliases) that take a separate value: needed to find the image argument. */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set(
  Object.entries(ACTION_FLAGS).flatMap(([name, f]) => (f.type === 'string' ? [name, ...('alias' in f ? [f.alias] : [])] : [])),
);

/** The variable that gives a flag its default: SIF_<NAME>, or with another prefix. */
export function envName(flag: string, prefix = 'SIF_'): string {
  return `${prefix}${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Prefixes of an action option's variables, strongest first (Apptainer's own, then its legacy one). */
const ACTION_PREFIXES = ['SIF_', 'APPTAINER_', 'SINGULARITY_'];

/**
 * A flag's default from the first of `prefixes` whose <PREFIX><NAME> is set and not
 * empty: booleans are false for 0, false or no.
 */
export function envDefault(flag: string, type: string, prefixes: readonly string[] = ['SIF_']): string | boolean | string[] | undefined {
  let v: string | undefined;
  for (const prefix of prefixes) if ((v = process.env[envName(flag, prefix)])) break;
  if (v === undefined || v === '') return undefined;
  if (type === 'boolean') return !/^(0|false|no)$/i.test(v);
  return flag === 'bind' || flag === 'env' ? [v] : v;
}

/** An action option's default from its variables; none for --bind, whose variables add to it. */
export function actionEnvDefault(flag: string, type: string): string | boolean | string[] | undefined {
  return flag === 'bind' ? undefined : envDefault(flag, type, ACTION_PREFIXES);
}

/**
 * Binds from the environment, added after --bind's as Apptainer does: SIF_BIND,
 * APPTAINER_BIND, SINGULARITY_BIND and their *_BINDPATH forms. A value repeated under
 * another name counts once (inside a container all three hold the same binds).
 */
export function envBinds(env: NodeJS.ProcessEnv = process.env): string[] {
  const values = ACTION_PREFIXES.flatMap((p) => [env[`${p}BIND`], env[`${p}BINDPATH`]]);
  return [...new Set(values.filter((v): v is string => !!v))];
}

export function withActionOptions<T>(y: Argv<T>): Argv<T> {
  for (const [name, f] of Object.entries(ACTION_FLAGS)) {
    const def = actionEnvDefault(name, f.type);
    const from = ACTION_PREFIXES.map((p) => envName(name, p)).find((k) => process.env[k]);
    y.option(name, { ...f, ...(def !== undefined ? { default: def, defaultDescription: `$${from}` } : {}) });
    // yargs reads --no-X as X=false: X must be known too, or strict() refuses it.
    const negated = name.startsWith('no-') ? name.slice(3) : undefined;
    if (f.type === 'boolean' && negated && !(negated in ACTION_FLAGS)) y.option(negated, { type: 'boolean', hidden: true });
  }
  return y;
}

/** What exec, run and shell are asked: the launch's options, and the CDI devices (src/gpu, loaded only for them). */
export type ActionRequest = ActionOptions & { device: string[]; compat32: boolean; nvCompat: boolean };

/** What the command line and the environment ask of exec, run and shell. */
export function actionOptions(a: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ActionRequest {
  const str = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  // Repeated options arrive as arrays, single ones as strings.
  const list = (k: string) => [a[k] ?? []].flat().filter((s): s is string => typeof s === 'string');
  // A no-X flag: yargs reads --no-X as X=false; SIF_NO_X arrives as no-X.
  const off = (x: string) => a[`no-${x}`] === true || [a[x]].flat().includes(false);
  const opts: ActionRequest = {
    bind: [...list('bind'), ...envBinds(env)],
    contain: a.contain === true,
    cleanenv: a.cleanenv === true,
    env: list('env'),
    envFiles: list('env-file'),
    noHome: a['no-home'] === true || a.home === false,
    writableTmpfs: a['writable-tmpfs'] === true,
    pid: a.pid === true,
    nv: a.nv === true,
    compat32: a.compat32 === true,
    nvCompat: a['nv-compat'] === true,
    device: list('device').flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean),
    mpi: a.mpi === true,
    noShare: off('share'),
    storeAhead: a['store-ahead'] === true,
    noReadAhead: off('read-ahead'),
    // Repeated: the last one counts.
    shareLingerMs: parseShareLinger(list('share-linger').at(-1)),
  };
  for (const [key, flag] of [['pwd', 'pwd'], ['home', 'home'], ['workdir', 'workdir']] as const) {
    const v = str(flag);
    if (v !== undefined) opts[key] = v;
  }
  return opts;
}
