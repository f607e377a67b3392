import { accessSync, constants } from 'node:fs';
import { SifError } from '../errors.js';
import { EXEC_ADDON_PATH, loadAddon, nativePath } from '../native-addons.js';

export const STARTER_PATH = nativePath('build', 'sif-starter');

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
  const addon = loadAddon<HandoffAddon>(EXEC_ADDON_PATH, 'SIF_E_STARTER_MISSING');
  // The starter needs no environment of its own: the container's travels in the plan.
  return addon.execStarter(STARTER_PATH, plan, []);
}
