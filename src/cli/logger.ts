import type { Logger, LoggerOptions } from 'pino';

/** Log level and format chosen by the global flags; pino is loaded on first use only. */
let settings: { level: string; json: boolean } = { level: 'warn', json: false };
let instance: Logger | undefined;

export function configureLogger(level: string, json: boolean): void {
  settings = { level, json };
  instance = undefined;
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** Whether `level` would be logged: lets callers skip loading pino for nothing. */
export function logs(level: string): boolean {
  return LEVELS.indexOf(level) >= LEVELS.indexOf(settings.level);
}

/** The root logger: always stderr (stdout belongs to the payload). */
export function logger(): Logger {
  if (instance) return instance;
  // node:module on first use only: loading it costs every `sif exec` ~0.5 ms (measured).
  const { createRequire } = process.getBuiltinModule('node:module');
  const pino = createRequire(import.meta.url)('pino') as (opts: LoggerOptions, dest: unknown) => Logger;
  // Synchronous: exec replaces this process right after its warnings, and buffered lines would be lost.
  const dest = (pino as unknown as { destination(opts: { dest: number; sync: boolean }): unknown }).destination({ dest: 2, sync: true });
  instance = pino({ level: settings.level, base: undefined, ...(settings.json ? {} : { timestamp: false }) }, dest);
  return instance;
}
