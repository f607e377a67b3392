import type { Argv } from 'yargs';
import type { ActionOptions } from '../exec/launch.js';

/** Options of exec, run and shell. Each also reads SIF_<NAME> (e.g. SIF_BIND, SIF_CLEANENV). */
export const ACTION_FLAGS = {
  bind: { alias: 'B', type: 'string', describe: 'bind a host path: SRC[:DST[:ro|rw]], comma-separated, repeatable' },
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
} as const;

/** Option names (and aliases) that take a separate value: needed to find the image argument. */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set(
  Object.entries(ACTION_FLAGS).flatMap(([name, f]) => (f.type === 'string' ? [name, ...('alias' in f ? [f.alias] : [])] : [])),
);

/** The SIF_<NAME> variable that gives a flag its default. */
export function envName(flag: string): string {
  return `SIF_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** A flag's default from SIF_<NAME>: booleans are false for 0, false or no. */
export function envDefault(flag: string, type: string): string | boolean | string[] | undefined {
  const v = process.env[envName(flag)];
  if (v === undefined || v === '') return undefined;
  if (type === 'boolean') return !/^(0|false|no)$/i.test(v);
  return flag === 'bind' || flag === 'env' ? [v] : v;
}

export function withActionOptions<T>(y: Argv<T>): Argv<T> {
  for (const [name, f] of Object.entries(ACTION_FLAGS)) {
    const def = envDefault(name, f.type);
    y.option(name, { ...f, ...(def !== undefined ? { default: def, defaultDescription: `$${envName(name)}` } : {}) });
  }
  return y;
}

export function actionOptions(a: Record<string, unknown>): ActionOptions {
  const str = (k: string) => (typeof a[k] === 'string' ? (a[k] as string) : undefined);
  // Repeated options arrive as arrays, single ones as strings.
  const list = (k: string) => [a[k] ?? []].flat().filter((s): s is string => typeof s === 'string');
  const opts: ActionOptions = {
    bind: list('bind'),
    contain: a.contain === true,
    cleanenv: a.cleanenv === true,
    env: list('env'),
    envFiles: list('env-file'),
    noHome: a['no-home'] === true || a.home === false,
    writableTmpfs: a['writable-tmpfs'] === true,
    pid: a.pid === true,
  };
  for (const [key, flag] of [['pwd', 'pwd'], ['home', 'home'], ['workdir', 'workdir']] as const) {
    const v = str(flag);
    if (v !== undefined) opts[key] = v;
  }
  return opts;
}
