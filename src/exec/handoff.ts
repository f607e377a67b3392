import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SifError } from '../errors.js';

/** The package root, from the bundle (dist/sif.mjs) or the sources (src/exec/handoff.ts). */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = basename(HERE) === 'dist' ? join(HERE, '..') : join(HERE, '..', '..');

export const STARTER_PATH = join(ROOT, 'native', 'build', 'sif-starter');
const ADDON_PATH = join(ROOT, 'native', 'handoff', 'build', 'Release', 'handoff.node');

interface HandoffAddon {
  execStarter(path: string, plan: Buffer, env: string[]): never;
}

/** Replaces this process with the starter, which reads `plan`. Returns only by throwing. */
export function handOff(plan: Buffer): never {
  try {
    accessSync(STARTER_PATH, constants.X_OK);
  } catch (cause) {
    throw new SifError('SIF_E_STARTER_MISSING', `the starter ${STARTER_PATH} is missing or not executable`, {
      cause,
      hint: "build sif's native parts: npm run build",
    });
  }
  let addon: HandoffAddon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as HandoffAddon;
  } catch (cause) {
    throw new SifError('SIF_E_STARTER_MISSING', `the handoff addon ${ADDON_PATH} cannot be loaded`, {
      cause,
      hint: "build sif's native parts: npm run build",
    });
  }
  // The starter needs no environment of its own: the container's travels in the plan.
  return addon.execStarter(STARTER_PATH, plan, []);
}
