import type { CommandModule } from 'yargs';
import { ACTION_FLAGS, actionEnvDefault, VALUE_OPTIONS } from './action-options.js';
import { setPayloadArgs } from './commands/action.js';
import { execCommand } from './commands/exec.js';
import { runCommand } from './commands/run.js';
import { GLOBAL_FLAGS, logLevel } from './global-options.js';
import { configureLogger } from './logger.js';
import { report } from './report.js';
import { splitActionArgv } from './split-argv.js';

const FLAGS: Record<string, { type: string; alias?: string }> = { ...ACTION_FLAGS, ...GLOBAL_FLAGS };

const ACTIONS = new Set(['exec', 'run', 'shell']);
/** Commands that skip building the full CLI when their arguments are ordinary. */
const FAST_ACTIONS: Record<string, CommandModule> = { exec: execCommand, run: runCommand };
const GLOBAL_VALUE_OPTIONS = new Set(['log-format']);

export interface CommandLine {
  /** The command (first token that is not a global option), or undefined. */
  command: string | undefined;
  /** Global options, the command and its own options and operands: what yargs parses. */
  own: string[];
  /** Where the command is in `own`. */
  commandAt: number;
}

/**
 * Finds the command after the global options and, for exec, run and shell, sets the
 * payload's arguments aside (everything after the image: see split-argv.ts).
 */
export function splitCommandLine(tokens: readonly string[]): CommandLine {
  let at = 0;
  while (at < tokens.length && tokens[at]!.startsWith('-')) at += GLOBAL_VALUE_OPTIONS.has(tokens[at]!.slice(2)) ? 2 : 1;
  const command = tokens[at];
  let own = [...tokens];
  if (ACTIONS.has(command ?? '') || command === 'doctor') {
    // doctor's options take no value; what follows its image is the command to judge.
    const values = command === 'doctor' ? GLOBAL_VALUE_OPTIONS : new Set([...VALUE_OPTIONS, ...GLOBAL_VALUE_OPTIONS]);
    const split = splitActionArgv(tokens.slice(at + 1), values);
    own = [...tokens.slice(0, at + 1), ...split.own];
    setPayloadArgs(split.payload);
  }
  return { command, own, commandAt: at };
}

/** Short aliases (-B) to option names (bind). */
const SHORT = new Map(Object.entries(FLAGS).flatMap(([name, f]) => (f.alias ? [[f.alias, name] as const] : [])));

/**
 * `sif exec` and `sif run` are what batch jobs start thousands of times, and building
 * the full yargs command line (help text included) is a large part of their start-up;
 * so is loading yargs' own parser. This reads their options from the same option
 * table, in the forms people write (`--bind X`, `--bind=X`, `-B X`, `--contain`, `-c`,
 * `--no-home`, repeated options), into the object yargs would make (the unit tests
 * compare the two). Anything else returns undefined, and the full CLI handles it:
 * help, an unknown option, combined or attached short options, negations, a missing
 * image, an invalid choice.
 */
export function parseActionFast(tokens: readonly string[]): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const positionals: string[] = [];
  const setString = (name: string, value: string | undefined): boolean => {
    if (value === undefined || value.startsWith('-')) return false;
    const prev = out[name];
    if (prev === false) return false; // --no-home then --home: left to yargs
    out[name] = prev === undefined ? value : [prev, value].flat();
    return true;
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    let name: string | undefined;
    let inline: string | undefined;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      name = eq < 0 ? t.slice(2) : t.slice(2, eq);
      if (eq >= 0) inline = t.slice(eq + 1);
    } else if (t.startsWith('-') && t.length > 1) {
      name = t.length === 2 ? SHORT.get(t[1]!) : undefined;
      if (!name) return undefined;
    } else {
      positionals.push(t);
      continue;
    }
    if (name === 'no-home' && inline === undefined) {
      if (out.home !== undefined) return undefined;
      out.home = false;
      continue;
    }
    // A no-X flag whose X is no flag of its own (--no-share): yargs reads it as X=false.
    const negated = name.startsWith('no-') && FLAGS[name]?.type === 'boolean' && !(name.slice(3) in FLAGS) ? name.slice(3) : undefined;
    if (negated && inline === undefined) {
      if (out[negated] !== undefined) return undefined; // twice: yargs makes an array
      out[negated] = false; // as yargs reads it (boolean negation)
      continue;
    }
    const type = FLAGS[name]?.type;
    if (type === 'string') {
      if (!setString(name, inline ?? tokens[++i])) return undefined;
    } else if (type === 'boolean' && inline === undefined && tokens[i + 1] !== 'true' && tokens[i + 1] !== 'false') {
      out[name] = true; // (yargs would take a following "true" or "false" as its value)
    } else {
      return undefined; // unknown, --help/--version, or a boolean given a value
    }
  }
  if (positionals.length !== 1) return undefined;
  for (const [name, f] of Object.entries(ACTION_FLAGS)) {
    const def = actionEnvDefault(name, f.type);
    if (def !== undefined && out[name] === undefined) out[name] = def;
  }
  out['log-format'] ??= 'pretty';
  if (out['log-format'] !== 'pretty' && out['log-format'] !== 'json') return undefined;
  return { ...out, image: positionals[0] };
}

/**
 * The fast path for this command line (`sif exec|run` with ordinary arguments), ready
 * to run; undefined when the full CLI must handle it.
 */
export function fastAction(line: CommandLine): (() => Promise<void>) | undefined {
  const fast = FAST_ACTIONS[line.command ?? ''];
  const args = fast && parseActionFast([...line.own.slice(0, line.commandAt), ...line.own.slice(line.commandAt + 1)]);
  if (!fast || !args) return undefined;
  return async () => {
    configureLogger(logLevel(args), args['log-format'] === 'json');
    await (fast.handler as (a: Record<string, unknown>) => Promise<void>)(args);
  };
}

/**
 * Entry of the small exec/run bundle (dist/sif-exec.cjs, loaded by bin/sif.cjs): the
 * fast path alone, without the rest of the CLI. Returns false, having done nothing,
 * when the full CLI (dist/sif.cjs) must run instead. Errors are reported as main.ts does.
 */
export function fastMain(tokens: readonly string[]): boolean {
  const run = fastAction(splitCommandLine(tokens));
  if (!run) return false;
  run().catch((err: unknown) => report(err, process.argv.includes('--debug')));
  return true;
}
