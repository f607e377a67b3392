/**
 * The real LibraryHost: reads objects, directories and /etc/ld.so.cache on this host.
 * Nothing here runs at sif start-up; callers (--mpi, --nv) create it when they need it,
 * and it reads each file at most once.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { SifError } from '../../errors.js';
import { EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_X86_64 } from './elf-constants.js';
import type { ElfInfo } from './elf-info.js';
import { parseLdconfigPrint } from './ldconfig-print.js';
import { type LdCacheEntry, parseLdSoCache } from './ld-so-cache.js';
import type { LibraryHost } from './library-host.js';
import { readElfFile } from './read-elf.js';
import { multiarchTriplet, type SearchDefaults, searchDefaults } from './search-defaults.js';

/** Far above any real cache (a few hundred KiB); a bigger file is not read. */
const MAX_CACHE_BYTES = 64 * 1024 * 1024;

export interface HostLibraryAccessOptions {
  ldCachePath?: string;
  /** The host's e_machine, for reading `ldconfig -p` text (its "64bit" word). */
  machine?: number;
}

/** This process's e_machine: the ABI of the host's own loader. */
export function hostMachine(): number {
  const machines: Record<string, number> = { x64: EM_X86_64, ia32: EM_386, arm64: EM_AARCH64, ppc64: EM_PPC64, riscv64: EM_RISCV };
  return machines[process.arch] ?? EM_X86_64;
}

function readHostCache(path: string, machine: number): LdCacheEntry[] {
  let buf: Buffer;
  try {
    if (statSync(path).size > MAX_CACHE_BYTES) throw new SifError('SIF_E_LD_CACHE_INVALID', `${path}: larger than ${MAX_CACHE_BYTES} bytes`);
    buf = readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return ldconfigFallback(path, machine, e);
  }
  try {
    return parseLdSoCache(buf, path);
  } catch (e) {
    return ldconfigFallback(path, machine, e);
  }
}

type ChildProcess = typeof import('node:child_process');

/**
 * `ldconfig -p` reads the same file, but may know a layout sif does not. node:child_process
 * is loaded only then: with Node's streams and net, ~10 ms of a start (measured).
 */
function ldconfigFallback(path: string, machine: number, first: unknown): LdCacheEntry[] {
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (!existsSync(ldconfig)) continue;
    try {
      const { execFileSync } = process.getBuiltinModule('node:child_process') as ChildProcess;
      const text = execFileSync(ldconfig, ['-p', '-C', path], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      return parseLdconfigPrint(text, machine);
    } catch {
      break;
    }
  }
  if (first instanceof SifError) throw first;
  throw new SifError('SIF_E_LD_CACHE_INVALID', `${path}: cannot read: ${(first as Error).message}`, { cause: first });
}

export function hostLibraryAccess(options: HostLibraryAccessOptions = {}): LibraryHost {
  const cachePath = options.ldCachePath ?? '/etc/ld.so.cache';
  const infos = new Map<string, ElfInfo>();
  let cache: LdCacheEntry[] | undefined;
  return {
    elfInfo(path) {
      let info = infos.get(path);
      if (!info) {
        info = readElfFile(path);
        infos.set(path, info);
      }
      return info;
    },
    listDirectory(dir) {
      try {
        return readdirSync(dir);
      } catch {
        return null; // missing, not a directory, or unreadable: ld.so moves on alike
      }
    },
    ldCache() {
      cache ??= readHostCache(cachePath, options.machine ?? hostMachine());
      return cache;
    },
    fileId(path) {
      try {
        const s = statSync(path);
        return `${s.dev}:${s.ino}`;
      } catch {
        return path;
      }
    },
  };
}

/** The host loader's defaults for an ABI: multiarch where the host has the directory. */
export function hostSearchDefaults(machine: number, elfClass: 32 | 64): SearchDefaults {
  const triplet = multiarchTriplet(machine, elfClass);
  return searchDefaults(machine, elfClass, triplet !== undefined && existsSync(`/lib/${triplet}`));
}
