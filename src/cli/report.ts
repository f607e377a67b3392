import { isSifError } from '../errors.js';

/** sif's own failures (not the payload's) exit with 125, as the starter's do. */
export const EXIT_RUNTIME = 125;

/** Prints `sif: error: ...` (and the hint, and with --debug the cause) and exits 125. */
export function report(err: unknown, debug: boolean): never {
  if (isSifError(err)) {
    process.stderr.write(`sif: error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    if (debug && err.cause) process.stderr.write(`cause: ${String((err.cause as Error).stack ?? err.cause)}\n`);
  } else {
    process.stderr.write(`sif: error: ${err instanceof Error ? (debug ? err.stack : err.message) : String(err)}\n`);
  }
  process.exit(EXIT_RUNTIME);
}

/** A usage error found by yargs. */
export function reportUsage(message: string): never {
  process.stderr.write(`sif: error: ${message}\nhint: sif --help\n`);
  process.exit(EXIT_RUNTIME);
}
