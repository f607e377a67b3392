/** Where the blob cache lives: $SIF_CACHEDIR, else $XDG_CACHE_HOME/sif, else ~/.cache/sif. */
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const own = env['SIF_CACHEDIR'];
  if (own) return resolve(own);
  // The XDG spec says relative values are to be ignored.
  const xdg = env['XDG_CACHE_HOME'];
  if (xdg && isAbsolute(xdg)) return join(xdg, 'sif');
  return join(env['HOME'] || homedir(), '.cache', 'sif');
}
