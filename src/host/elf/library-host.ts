/**
 * What the library resolver asks of a host: an object's ELF facts, a directory's names,
 * the ld.so.cache entries. The real one is host-library-access.ts; tests fake it.
 */
import type { ElfInfo } from './elf-info.js';
import type { LdCacheEntry } from './ld-so-cache.js';

export interface LibraryHost {
  /** The facts of the object at path; a SifError when it cannot be read or is malformed. */
  elfInfo(path: string): ElfInfo;
  /** The names in a directory, or null when there is no such directory. */
  listDirectory(dir: string): readonly string[] | null;
  /** The entries of the ld.so.cache the loader would read, in file order. */
  ldCache(): readonly LdCacheEntry[];
  /**
   * An identity for the file at path (device and inode), so one file reached by two
   * paths is loaded once, as ld.so does. Optional: paths are compared without it.
   */
  fileId?(path: string): string;
}
