/**
 * The entries of a host ld.so.cache, for --nv: the "glibc-ld.so.cache1.1" table alone
 * (glibc 2.32 and newer) or after the old "ld.so-1.7.0" table (the compat layout).
 * Kept small on purpose: a fuller reader (src/host/elf/, --mpi) may replace it.
 */

export interface LdCacheEntry {
  /** The name the loader looks up (the library's soname). */
  soname: string;
  path: string;
  /** Library type (low byte) and architecture (next byte), glibc sysdeps/generic/ldconfig.h. */
  flags: number;
}

const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const NEW_HEADER = 48;
const NEW_ENTRY = 24;
const MAX_STRING = 4096;

function stringAt(buf: Buffer, at: number): string | undefined {
  if (at >= buf.length) return undefined;
  const end = buf.indexOf(0, at);
  return end < 0 || end - at > MAX_STRING ? undefined : buf.toString('utf8', at, end);
}

/** Where the new table starts, or -1 when the file has none. */
function newTableAt(buf: Buffer): number {
  if (buf.toString('latin1', 0, NEW_MAGIC.length) === NEW_MAGIC) return 0;
  if (buf.length < 16 || buf.toString('latin1', 0, OLD_MAGIC.length) !== OLD_MAGIC) return -1;
  // Compat layout: the new table follows the old one's 12-byte entries, 8-byte aligned.
  const at = Math.ceil((16 + buf.readUInt32LE(12) * 12) / 8) * 8;
  return at + NEW_MAGIC.length <= buf.length && buf.toString('latin1', at, at + NEW_MAGIC.length) === NEW_MAGIC ? at : -1;
}

/**
 * The cache's entries (those whose soname `want` accepts: a path is decoded only for
 * them); entries whose strings lie outside the file are skipped, and a file in no
 * known layout (or marked invalid by ldconfig) has none.
 */
export function readLdSoCache(buf: Buffer, want: (soname: string) => boolean = () => true): LdCacheEntry[] {
  const start = newTableAt(buf);
  if (start < 0 || buf.length - start < NEW_HEADER) return [];
  const order = buf[start + 28]! & 3;
  if (order === 1) return [];
  const big = order === 3;
  const u32 = (at: number) => (big ? buf.readUInt32BE(at) : buf.readUInt32LE(at));
  const nlibs = Math.min(u32(start + 20), Math.floor((buf.length - start - NEW_HEADER) / NEW_ENTRY));
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = start + NEW_HEADER + i * NEW_ENTRY;
    // String offsets count from the start of the new table.
    const soname = stringAt(buf, start + u32(e + 4));
    if (soname === undefined || !want(soname)) continue;
    const path = stringAt(buf, start + u32(e + 8));
    if (path !== undefined) out.push({ soname, path, flags: big ? buf.readInt32BE(e) : buf.readInt32LE(e) });
  }
  return out;
}
