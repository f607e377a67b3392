/**
 * Reads the host's /etc/ld.so.cache: the "glibc-ld.so.cache1.1" table alone (the default
 * since glibc 2.32), after the old "ld.so-1.7.0" table (the compat layout), or the old
 * table alone. The same layout the starter's native/starter/ld-cache.c reads for an
 * image; this is the TypeScript side, for host libraries (--mpi, --nv). Every count and
 * string offset is checked against the file; `ldconfig -p` is only the fallback.
 */
import { SifError } from '../../errors.js';

export interface LdCacheEntry {
  /** The name a DT_NEEDED is matched against (the library's soname). */
  soname: string;
  path: string;
  /** Library type and architecture (see ld-cache-flags.ts). */
  flags: number;
  /** Non-zero for glibc-hwcaps and legacy hwcap subdirectory entries. */
  hwcap: bigint;
}

const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const OLD_HEADER = 16;
const OLD_ENTRY = 12;
const NEW_HEADER = 48;
const NEW_ENTRY = 24;
const MAX_STRING = 4096;
/** Real caches hold a few thousand entries; more than this is not a cache to trust. */
const MAX_ENTRIES = 1 << 18;

function invalidCache(name: string, problem: string): SifError {
  return new SifError('SIF_E_LD_CACHE_INVALID', `${name}: not a usable ld.so.cache: ${problem}`, {
    hint: 'regenerate it with ldconfig, or ask the administrator',
  });
}

function checkCount(nlibs: number, room: number, buf: Buffer, name: string): number {
  if (nlibs > room) throw invalidCache(name, `it claims ${nlibs} entries, more than its ${buf.length} bytes hold`);
  if (nlibs > MAX_ENTRIES) throw invalidCache(name, `it claims ${nlibs} entries, more than sif reads (${MAX_ENTRIES})`);
  return nlibs;
}

function stringAt(buf: Buffer, base: number, offset: number, name: string, what: string): string {
  const at = base + offset;
  if (at >= buf.length) throw invalidCache(name, `${what} at offset ${offset} lies past the end of the file`);
  // One native scan; a string longer than MAX_STRING counts as unterminated.
  const end = buf.indexOf(0, at);
  if (end < 0 || end - at > MAX_STRING) throw invalidCache(name, `${what} at offset ${offset} has no terminator`);
  return buf.toString('utf8', at, end);
}

/** Which entries to keep, by soname: the paths of the others are not decoded (nor checked). */
type Want = (soname: string) => boolean;
const ALL: Want = () => true;

function readNew(buf: Buffer, start: number, name: string, want: Want): LdCacheEntry[] {
  if (buf.length - start < NEW_HEADER) throw invalidCache(name, 'the new-format header is cut short');
  const order = buf[start + 28]! & 3;
  if (order === 1) throw invalidCache(name, 'ldconfig marked it invalid');
  // 0 means "not recorded": the host's order, little-endian on every machine sif supports.
  const big = order === 3;
  const u32 = (at: number) => (big ? buf.readUInt32BE(at) : buf.readUInt32LE(at));
  const nlibs = checkCount(u32(start + 20), Math.floor((buf.length - start - NEW_HEADER) / NEW_ENTRY), buf, name);
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = start + NEW_HEADER + i * NEW_ENTRY;
    // String offsets count from the new header (the file's start, in the new layout).
    const soname = stringAt(buf, start, u32(e + 4), name, `entry ${i} name`);
    if (!want(soname)) continue;
    out.push({
      flags: big ? buf.readInt32BE(e) : buf.readInt32LE(e),
      soname,
      path: stringAt(buf, start, u32(e + 8), name, `entry ${i} path`),
      hwcap: big ? buf.readBigUInt64BE(e + 16) : buf.readBigUInt64LE(e + 16),
    });
  }
  return out;
}

function readOld(buf: Buffer, nlibs: number, name: string, want: Want): LdCacheEntry[] {
  // Strings count from the end of the entry table.
  const strings = OLD_HEADER + nlibs * OLD_ENTRY;
  const out: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const e = OLD_HEADER + i * OLD_ENTRY;
    const soname = stringAt(buf, strings, buf.readUInt32LE(e + 4), name, `entry ${i} name`);
    if (!want(soname)) continue;
    out.push({
      flags: buf.readInt32LE(e),
      soname,
      path: stringAt(buf, strings, buf.readUInt32LE(e + 8), name, `entry ${i} path`),
      hwcap: 0n,
    });
  }
  return out;
}

/**
 * The cache's entries, in file order (the loader's order of preference); with `want`,
 * only those whose soname it accepts (--nv needs a few of a host's hundreds).
 */
export function parseLdSoCache(buf: Buffer, name: string, want: Want = ALL): LdCacheEntry[] {
  if (buf.length >= NEW_MAGIC.length && buf.toString('latin1', 0, NEW_MAGIC.length) === NEW_MAGIC) return readNew(buf, 0, name, want);
  if (buf.length < OLD_HEADER || buf.toString('latin1', 0, OLD_MAGIC.length) !== OLD_MAGIC) {
    throw invalidCache(name, 'no ld.so.cache magic number');
  }
  const nlibs = checkCount(buf.readUInt32LE(12), Math.floor((buf.length - OLD_HEADER) / OLD_ENTRY), buf, name);
  // The new table, when present, follows the old one, aligned for its 64-bit fields.
  const next = (OLD_HEADER + nlibs * OLD_ENTRY + 7) & ~7;
  if (buf.length >= next + NEW_MAGIC.length && buf.toString('latin1', next, next + NEW_MAGIC.length) === NEW_MAGIC) {
    return readNew(buf, next, name, want);
  }
  return readOld(buf, nlibs, name, want);
}
