import { isSifError } from '../errors.js';
import { logger } from './logger.js';

/** sif's own failures (not the payload's) exit with 125, as the starter's do. */
export const EXIT_RUNTIME = 125;

/** Logs `sif: error: ...` (and the hint, and with --debug the cause) and exits 125. */
export function report(err: unknown, debug: boolean): never {
  if (isSifError(err)) {
    const cause = debug && err.cause ? String((err.cause as Error).stack ?? err.cause) : undefined;
    logger().error({ hint: err.hint, cause }, err.message);
  } else {
    logger().error(err instanceof Error ? ((debug ? err.stack : undefined) ?? err.message) : String(err));
  }
  process.exit(EXIT_RUNTIME);
}

/** A usage error found by yargs. */
export function reportUsage(message: string): never {
  logger().error({ hint: 'sif --help' }, message);
  process.exit(EXIT_RUNTIME);
}
