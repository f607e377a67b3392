import { mkdirSync, realpathSync, statSync } from 'node:fs';
import { SifError } from '../errors.js';

/** A host path that must exist, with symlinks resolved (the starter binds the real thing). */
export function existingHostPath(path: string, what: string): string {
  try {
    const real = realpathSync(path);
    statSync(real);
    return real;
  } catch (cause) {
    throw new SifError('SIF_E_BIND_SOURCE', `${what} '${path}' does not exist on this host`, {
      cause,
      hint: 'check the path, or create it first',
    });
  }
}

/**
 * path with symlinks resolved; undefined when it cannot be (absent, or a dangling
 * link). The starter follows no symlink in a bind source.
 */
export function canonicalHostPath(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}

/** Creates directories (the --workdir layout) owned by the caller. */
export function ensureDirs(dirs: readonly string[]): void {
  for (const d of dirs) mkdirSync(d, { recursive: true, mode: 0o700 });
}
