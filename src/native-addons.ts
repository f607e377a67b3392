import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SifError, type SifErrorCode } from './errors.js';

/**
 * The package root: the bundles (dist/) and this file (src/) are both one level down.
 * In the bundles, __dirname says where without parsing a URL (node:url stays unloaded).
 */
const PACKAGE_ROOT = join(typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url)), '..');

/** sif's version, from its package.json. */
export function sifVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Path of a file that the install step builds under native/. */
export function nativePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, 'native', ...parts);
}

/** The exec addon (native/handoff): the handoff to the starter, and the user's entry. */
export const EXEC_ADDON_PATH = nativePath('handoff', 'build', 'Release', 'handoff.node');

const loaded = new Map<string, unknown>();

/**
 * Loads a Node-API addon built by the install step (once per path), with a clear error
 * when it is missing. process.dlopen, not require(): resolving and registering a module
 * cost ~1 ms of every `sif exec` (measured), for a file whose path is known.
 */
export function loadAddon<T>(path: string, code: SifErrorCode): T {
  if (!loaded.has(path)) {
    const module = { exports: {} };
    try {
      process.dlopen(module, path);
    } catch (cause) {
      throw new SifError(code, `the native addon ${path} cannot be loaded`, { cause, hint: "build sif's native parts: npm run build" });
    }
    loaded.set(path, module.exports);
  }
  return loaded.get(path) as T;
}
