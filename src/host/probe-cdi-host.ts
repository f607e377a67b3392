import { readFileSync, readdirSync, statSync } from 'node:fs';
import type { CdiHostFacts } from './cdi-host-facts.js';
import { readElfFile } from './elf/read-elf.js';
import { TEST_ROOT_VARIABLE } from './probe-gpu-host.js';

/** Where CDI specs live, lowest priority first: static ones, then those written at boot. */
export const CDI_SPEC_DIRS = ['/etc/cdi', '/var/run/cdi'];

/** Spec files are a few kilobytes to a few hundred; anything larger is not one. */
const MAX_SPEC = 4 * 1024 * 1024;

/**
 * The real host. SIF_TEST_NVIDIA_ROOT (tests only: scripts/fake-nvidia.sh) puts a
 * directory in place of / for the spec directories; the paths in a spec are taken as
 * written (a spec for a driver under another root names its host paths in full).
 */
export function probeCdiHost(env: Record<string, string>): CdiHostFacts {
  const root = env[TEST_ROOT_VARIABLE] ?? '';
  return {
    specDirs: () => CDI_SPEC_DIRS.map((d) => root + d),
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return undefined;
      }
    },
    readSpec: (path) => {
      try {
        if (statSync(path).size > MAX_SPEC) return undefined;
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    fileKind: (path) => {
      try {
        const st = statSync(path);
        return st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
      } catch {
        return undefined;
      }
    },
    soname: (path) => {
      try {
        return readElfFile(path).soname;
      } catch {
        return undefined;
      }
    },
  };
}
