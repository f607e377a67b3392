import type { Logger, LoggerOptions } from 'pino';

/**
 * sif's one logger: every message of the TypeScript side goes through it. With the
 * default `--log-format pretty` a message is one line a person reads,
 * `sif: warning: ...`; with `--log-format json` it is pino's JSON line. Always stderr
 * (stdout belongs to the payload). pino is loaded only for JSON.
 */

type Fields = Record<string, unknown>;
export interface LogFn {
  (message: string): void;
  (fields: Fields, message: string): void;
}
export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
export type Log = Record<LevelName, LogFn>;

/** Where log lines go: stderr, or a test's stand-in. */
export interface LogSink {
  write(text: string): unknown;
}

/**
 * Something drawn on the terminal that a log line must not be mixed into (the
 * progress display): cleared before each line and drawn again after it.
 */
export interface LiveDisplay {
  clear(): void;
  redraw(): void;
}

const LEVELS: readonly LevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
/** How a level reads in a pretty line: `sif: warning: ...` as the starter writes it. */
const WORDS: Record<LevelName, string> = { trace: 'trace', debug: 'debug', info: 'info', warn: 'warning', error: 'error', fatal: 'error' };

let settings: { level: LevelName; json: boolean; sink: LogSink | undefined } = { level: 'warn', json: false, sink: undefined };
let instance: Log | undefined;
let live: LiveDisplay | undefined;
let jsonNote: ((fields: Fields, message: string) => void) | undefined;

/** Set by the global flags; `sink` is for tests (default stderr). */
export function configureLogger(level: string, json: boolean, sink?: LogSink): void {
  settings = { level: LEVELS.includes(level as LevelName) ? (level as LevelName) : 'warn', json, sink };
  instance = undefined;
}

/** Whether the messages are JSON (`--log-format json`): progress stays off then. */
export function logsJson(): boolean {
  return settings.json;
}

/** Whether `level` would be logged: lets callers skip building a message for nothing. */
export function logs(level: string): boolean {
  return LEVELS.indexOf(level as LevelName) >= LEVELS.indexOf(settings.level);
}

/** Registers (or with undefined removes) the display that log lines must step around. */
export function setLiveDisplay(display: LiveDisplay | undefined): void {
  live = display;
}

const sink = (): LogSink => settings.sink ?? process.stderr;

/** A field's value in a pretty line: plain when it reads unambiguously, else JSON. */
function showValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v) ?? String(v);
}

/**
 * One message as a person reads it: `sif: LEVEL: MESSAGE key=value ...`; a `hint`
 * and a `cause` field go on lines of their own, as `hint: ...` and `cause: ...`.
 */
export function prettyLine(level: LevelName, message: string, fields: Fields = {}): string {
  const { hint, cause, ...rest } = fields;
  const extra = Object.entries(rest).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${showValue(v)}`).join('');
  let out = `sif: ${WORDS[level]}: ${message}${extra}\n`;
  if (hint !== undefined) out += `hint: ${String(hint)}\n`;
  if (cause !== undefined) out += `cause: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}\n`;
  return out;
}

function prettyLogger(): Log {
  const log = {} as Log;
  for (const level of LEVELS) {
    log[level] = ((a: Fields | string, b?: string) => {
      if (!logs(level)) return;
      const line = typeof a === 'string' ? prettyLine(level, a) : prettyLine(level, b ?? '', a);
      emit(() => sink().write(line));
    }) as LogFn;
  }
  return log;
}

function jsonLogger(): Log {
  // node:module on first use only: loading it costs every `sif exec` ~0.5 ms (measured).
  const { createRequire } = process.getBuiltinModule('node:module');
  const pino = createRequire(import.meta.url)('pino') as ((opts: LoggerOptions, dest: unknown) => Logger) & { destination(opts: { dest: number; sync: boolean }): unknown };
  // Levels are filtered here (logs()), so that a note can be written at info level;
  // written synchronously, in order with the progress display and before an exit.
  const pinoLog = pino({ level: 'trace', base: undefined }, settings.sink ?? pino.destination({ dest: 2, sync: true }));
  jsonNote = (fields, message) => emit(() => pinoLog.info(fields, message));
  const log = {} as Log;
  for (const level of LEVELS) {
    log[level] = ((a: Fields | string, b?: string) => {
      if (!logs(level)) return;
      emit(() => (typeof a === 'string' ? pinoLog[level](a) : pinoLog[level](a, b)));
    }) as LogFn;
  }
  return log;
}

function emit(write: () => void): void {
  live?.clear();
  write();
  live?.redraw();
}

/** The root logger. */
export function logger(): Log {
  instance ??= settings.json ? jsonLogger() : prettyLogger();
  return instance;
}

/**
 * What a command tells a person it did (`sif: wrote out.sif (...)`): printed unless
 * --quiet, without a level word; in JSON an info line.
 */
export function note(message: string, fields: Fields = {}): void {
  if (!logs('warn')) return;
  if (settings.json) {
    logger();
    jsonNote!(fields, message);
    return;
  }
  emit(() => sink().write(`sif: ${message}\n`));
}
