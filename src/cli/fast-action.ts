import yargsParser from 'yargs-parser';
import { ACTION_FLAGS, envDefault } from './action-options.js';
import { GLOBAL_FLAGS } from './global-options.js';

const FLAGS: Record<string, { type: string; alias?: string }> = { ...ACTION_FLAGS, ...GLOBAL_FLAGS };
const KNOWN = new Set(Object.entries(FLAGS).flatMap(([name, f]) => [name, ...(f.alias ? [f.alias] : [])]));

/**
 * `sif exec` and `sif run` are what batch jobs start thousands of times, and building
 * the full yargs command line (help text included) is a large part of their start-up.
 * This parses their options with yargs' own parser from the same option table; it
 * returns undefined (use the full CLI) for anything unusual: help, an unknown
 * option, a missing image, an invalid choice.
 */
export function parseActionFast(tokens: readonly string[]): Record<string, unknown> | undefined {
  if (tokens.some((t) => t === '--help' || t === '-h' || t === '--version')) return undefined;
  const entries = Object.entries(FLAGS);
  const defaults: Record<string, unknown> = { 'log-format': 'pretty' };
  for (const [name, f] of Object.entries(ACTION_FLAGS)) {
    const def = envDefault(name, f.type);
    if (def !== undefined) defaults[name] = def;
  }
  const parsed = yargsParser([...tokens], {
    string: entries.filter(([, f]) => f.type === 'string').map(([n]) => n),
    boolean: entries.filter(([, f]) => f.type === 'boolean').map(([n]) => n),
    alias: Object.fromEntries(entries.filter(([, f]) => f.alias).map(([n, f]) => [n, [f.alias!]])),
    default: defaults,
    configuration: { 'camel-case-expansion': false, 'strip-aliased': true },
  });
  const { _: positionals, ...options } = parsed;
  if (positionals.length !== 1 || Object.keys(options).some((k) => !KNOWN.has(k) && k !== 'home')) return undefined;
  if (options['log-format'] !== 'pretty' && options['log-format'] !== 'json') return undefined;
  return { ...options, image: String(positionals[0]) };
}
