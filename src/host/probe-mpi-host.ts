import { readFileSync, realpathSync, statSync } from 'node:fs';
import { hostLibraryAccess, hostMachine, hostSearchDefaults } from './elf/host-library-access.js';
import type { MpiHostFacts, PathKind } from './mpi-host-facts.js';
import { siteConfigPath } from './site-config.js';

/** The real host for --mpi: each fact read when the planner first asks for it. */
export function probeMpiHost(env: Record<string, string>): MpiHostFacts {
  let site: ReturnType<MpiHostFacts['siteConfig']> | undefined;
  const machine = hostMachine();
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
    libraries: hostLibraryAccess({ machine }),
    searchDefaults: (m, elfClass) => hostSearchDefaults(m, elfClass),
    machine,
    realPath: (path) => {
      try {
        return realpathSync.native(path);
      } catch {
        return undefined;
      }
    },
    kind: (path): PathKind | undefined => {
      try {
        const s = statSync(path);
        return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isSocket() ? 'socket' : s.isCharacterDevice() ? 'char' : 'other';
      } catch {
        return undefined;
      }
    },
  };
}
