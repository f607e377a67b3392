/** Options every command takes. */
export const GLOBAL_FLAGS = {
  debug: { alias: 'd', type: 'boolean', describe: 'debug logs and error causes' },
  verbose: { alias: 'v', type: 'boolean', describe: 'more logs' },
  quiet: { alias: 'q', type: 'boolean', describe: 'errors only' },
  'log-format': { type: 'string', choices: ['pretty', 'json'], default: 'pretty', describe: 'log format on stderr' },
} as const;

export function logLevel(a: Record<string, unknown>): string {
  return a.debug ? 'debug' : a.verbose ? 'info' : a.quiet ? 'error' : 'warn';
}
