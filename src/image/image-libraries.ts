/**
 * An image's files as its dynamic loader sees them, read out of the squashfs without
 * mounting (squashfs-reader.ts): ELF facts of its objects, its directories, its
 * ld.so.cache. --mpi reads the command's needs and the image's C library through it.
 */
import { SifError } from '../errors.js';
import type { ElfInfo } from '../host/elf/elf-info.js';
import { type LdCacheEntry, parseLdSoCache } from '../host/elf/ld-so-cache.js';
import type { LibraryHost } from '../host/elf/library-host.js';
import { rangeSource } from '../host/elf/byte-source.js';
import { readElf } from '../host/elf/read-elf.js';
import type { SquashfsReader } from './squashfs-reader.js';

export interface ImageLibraries extends LibraryHost {
  /** Whether a directory holds a name (no file read). */
  has(dir: string, name: string): boolean;
}

/** `reader` reads the image named `file` (in messages). Each object and listing is read once. */
export function imageLibraries(reader: SquashfsReader, file: string): ImageLibraries {
  const infos = new Map<string, ElfInfo>();
  const listings = new Map<string, readonly string[] | null>();
  let cache: LdCacheEntry[] | undefined;
  const listDirectory = (dir: string): readonly string[] | null => {
    let l = listings.get(dir);
    if (l === undefined) listings.set(dir, (l = reader.list(dir)));
    return l;
  };
  return {
    elfInfo(path) {
      let info = infos.get(path);
      if (info) return info;
      const f = reader.fileReader(path);
      if (!f) throw new SifError('SIF_E_ELF_UNREADABLE', `${file}: ${path}: no such file in the image`);
      // Only the blocks holding the headers and tables are inflated, not the whole library.
      info = readElf(rangeSource(`${file}:${path}`, f.size, f.read));
      infos.set(path, info);
      return info;
    },
    listDirectory,
    has: (dir, name) => listDirectory(dir)?.includes(name) ?? false,
    ldCache() {
      if (cache) return cache;
      try {
        const data = reader.readFile('/etc/ld.so.cache');
        cache = data ? parseLdSoCache(data, `${file}:/etc/ld.so.cache`) : [];
      } catch (e) {
        if (!(e instanceof SifError)) throw e;
        cache = []; // the loader then searches the default directories, and so does sif
      }
      return cache;
    },
  };
}
