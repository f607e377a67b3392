import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SifError, type SifErrorCode } from './errors.js';

/**
 * The package root: the bundles (dist/) and this file (src/) are both one level down.
 * In the bundles, __dirname says where without parsing a URL (node:url stays unloaded).
 */
export const PACKAGE_ROOT = join(typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url)), '..');

/** Path of a file that the install step builds under native/. */
export function nativePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, 'native', ...parts);
}

/** Loads a Node-API addon built by the install step, with a clear error when it is missing. */
export function loadAddon<T>(path: string, code: SifErrorCode): T {
  try {
    return createRequire(import.meta.url)(path) as T;
  } catch (cause) {
    throw new SifError(code, `the native addon ${path} cannot be loaded`, { cause, hint: "build sif's native parts: npm run build" });
  }
}
