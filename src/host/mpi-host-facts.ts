import type { LibraryHost } from './elf/library-host.js';
import type { SearchDefaults } from './elf/search-defaults.js';

/** What a host path is, as stat(2) sees it through symlinks. */
export type PathKind = 'dir' | 'file' | 'socket' | 'char' | 'other';

/**
 * What --mpi needs to know about the host, asked for lazily so that the planners
 * (src/mpi) stay pure and tests give them a fake host. `libraries` is the host's
 * dynamic loader's view: ELF facts of files, directory listings, the ld.so.cache.
 */
export interface MpiHostFacts {
  env: Record<string, string>;
  /** The site file: where it was looked for and its text (undefined when absent or unreadable). */
  siteConfig(): { path: string; text?: string; error?: string };
  libraries: LibraryHost;
  /** The loader's default directories and tokens for an ABI of this host. */
  searchDefaults(machine: number, elfClass: 32 | 64): SearchDefaults;
  /** The ELF machine of the host's own programs (62 on x86-64, 183 on aarch64). */
  machine: number;
  /** The path with symlinks resolved; undefined when it does not exist. */
  realPath(path: string): string | undefined;
  kind(path: string): PathKind | undefined;
}
