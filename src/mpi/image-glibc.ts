/**
 * The C library family of the image, as its loader would find it: each library by its
 * soname in the image's ld.so.cache (entries of the ABI asked for), else in the
 * default directories; what versions it defines (its verdef names). Pure: the image
 * comes in as a LibraryHost.
 */
import { isSifError } from '../errors.js';
import { cacheFlagsMatch } from '../host/elf/ld-cache-flags.js';
import type { LibraryHost } from '../host/elf/library-host.js';

export interface ImageLibc {
  /** soname -> versions defined, for those found. */
  defines: Map<string, string[]>;
  /** soname -> path in the image, for those found. */
  paths: Map<string, string>;
}

export function imageLibc(image: LibraryHost, sonames: readonly string[], abi: { elfClass: 32 | 64; machine: number }, defaultDirs: readonly string[]): ImageLibc {
  const out: ImageLibc = { defines: new Map(), paths: new Map() };
  const cache = image.ldCache().filter((e) => e.hwcap === 0n && cacheFlagsMatch(e.flags, abi.elfClass, abi.machine));
  for (const soname of sonames) {
    // The default directories are listed only when the cache does not answer (they are large).
    const candidates = function* () {
      for (const e of cache) if (e.soname === soname) yield e.path;
      for (const d of defaultDirs) if (image.listDirectory(d)?.includes(soname)) yield `${d}/${soname}`;
    };
    for (const path of candidates()) {
      try {
        const info = image.elfInfo(path);
        if (info.elfClass !== abi.elfClass || info.machine !== abi.machine) continue;
        out.defines.set(soname, info.versionsDefined);
        out.paths.set(soname, path);
        break;
      } catch (e) {
        if (!isSifError(e)) throw e;
      }
    }
  }
  return out;
}
