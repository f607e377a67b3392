/**
 * The glibc check (issue 11, point 3): which GLIBC_x.y versions that host objects need
 * from the C library family the image's libraries do not define. An image with an older
 * glibc then gets a refusal naming them, not a crash at symbol lookup.
 */
import type { ElfInfo } from './elf-info.js';
import { isLibcFamily } from './libc-family.js';

export interface GlibcNeed {
  /** The library the version is needed from, e.g. "libc.so.6" or "libm.so.6". */
  library: string;
  version: string;
  /** The objects that need it. */
  neededBy: string[];
}

/** The versions objects need from C library family members, sorted by library and version. */
export function glibcVersionsNeeded(objects: ReadonlyArray<{ path: string; info: ElfInfo }>): GlibcNeed[] {
  const needs = new Map<string, GlibcNeed>();
  for (const { path, info } of objects) {
    for (const need of info.versionsNeeded) {
      if (!isLibcFamily(need.file)) continue;
      for (const version of need.versions) {
        if (need.weak.includes(version)) continue; // the loader only warns about weak ones
        const key = `${need.file}\0${version}`;
        let n = needs.get(key);
        if (!n) needs.set(key, (n = { library: need.file, version, neededBy: [] }));
        if (!n.neededBy.includes(path)) n.neededBy.push(path);
      }
    }
  }
  return [...needs.values()].sort((a, b) => a.library.localeCompare(b.library) || compareVersions(a.version, b.version));
}

/**
 * The needs the image does not meet. imageDefines maps a library's soname to the
 * versions the image's copy defines (its verdef names). A library missing from the map
 * is checked against the image's libc.so.6: since glibc 2.34 libc holds what libpthread,
 * libdl and librt held, and defines their version nodes.
 */
export function missingGlibcVersions(needs: readonly GlibcNeed[], imageDefines: ReadonlyMap<string, readonly string[]>): GlibcNeed[] {
  return needs.filter((n) => {
    const defined = imageDefines.get(n.library) ?? imageDefines.get('libc.so.6') ?? [];
    return !defined.includes(n.version);
  });
}

/** Orders GLIBC_2.2.5 < GLIBC_2.14 < GLIBC_2.34, and names without numbers after. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pa = parts(a);
  const pb = parts(b);
  const prefix = a.replace(/[0-9.]+$/, '').localeCompare(b.replace(/[0-9.]+$/, ''));
  if (prefix !== 0) return prefix;
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}
