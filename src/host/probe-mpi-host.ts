import { readFileSync, realpathSync, statSync } from 'node:fs';
import { hostLibraryAccess, hostMachine, hostSearchDefaults } from './elf/host-library-access.js';
import type { MpiHostFacts, PathKind } from './mpi-host-facts.js';
import { siteConfigPath } from './site-config.js';

function cached<T>(f: (key: string) => T): (key: string) => T {
  const seen = new Map<string, T>();
  return (key) => {
    if (!seen.has(key)) seen.set(key, f(key));
    return seen.get(key)!;
  };
}

/**
 * The real host for --mpi: each fact read when the planner first asks for it, and
 * once (the planners ask for the big library directories many times).
 */
export function probeMpiHost(env: Record<string, string>): MpiHostFacts {
  let site: ReturnType<MpiHostFacts['siteConfig']> | undefined;
  const machine = hostMachine();
  const access = hostLibraryAccess({ machine });
  const libraries = { ...access, listDirectory: cached((dir) => access.listDirectory(dir)) };
  return {
    env,
    siteConfig: () => {
      if (site) return site;
      const path = siteConfigPath(env);
      try {
        site = { path, text: readFileSync(path, 'utf8') };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        site = code === 'ENOENT' ? { path } : { path, error: (e as Error).message };
      }
      return site;
    },
    libraries,
    searchDefaults: (() => {
      const byAbi = cached((key) => hostSearchDefaults(Number(key.split('/')[0]), key.endsWith('/32') ? 32 : 64));
      return (m: number, elfClass: 32 | 64) => byAbi(`${m}/${elfClass}`);
    })(),
    machine,
    realPath: cached((path) => {
      try {
        return realpathSync.native(path);
      } catch {
        return undefined;
      }
    }),
    kind: cached((path): PathKind | undefined => {
      try {
        // Most paths asked about are absent: no exception for those.
        const s = statSync(path, { throwIfNoEntry: false });
        if (!s) return undefined;
        return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isSocket() ? 'socket' : s.isCharacterDevice() ? 'char' : 'other';
      } catch {
        return undefined;
      }
    }),
  };
}
