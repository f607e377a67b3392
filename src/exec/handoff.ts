import { accessSync, constants } from 'node:fs';
import { SifError } from '../errors.js';
import { nativePath } from '../native-addons.js';

export const STARTER_PATH = nativePath('build', 'sif-starter');
const ADDON_PATH = nativePath('handoff', 'build', 'Release', 'handoff.node');

interface HandoffAddon {
  execStarter(path: string, plan: Buffer, env: string[]): never;
}

/**
 * Loads the addon with process.dlopen, as loadAddon (native-addons.ts) would with the
 * same error: require()'s resolution and module bookkeeping cost ~1 ms of every
 * `sif exec` (measured), for one file whose path is known.
 */
function loadHandoff(): HandoffAddon {
  const loaded = { exports: {} as HandoffAddon };
  try {
    process.dlopen(loaded, ADDON_PATH);
  } catch (cause) {
    throw new SifError('SIF_E_STARTER_MISSING', `the native addon ${ADDON_PATH} cannot be loaded`, {
      cause,
      hint: "build sif's native parts: npm run build",
    });
  }
  return loaded.exports;
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
  const addon = loadHandoff();
  // The starter needs no environment of its own: the container's travels in the plan.
  return addon.execStarter(STARTER_PATH, plan, []);
}
