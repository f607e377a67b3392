// Builds glibc ld.so.cache files for tests of the starter's reader (native/starter/ld-cache.c).

/** An entry: library name, path, flags (0x0303: libc6 on x86-64). */
export type LdCacheEntry = [name: string, path: string, flags: number];

/**
 * A cache in the "glibc-ld.so.cache1.1" format, alone or (old: true) after an
 * "ld.so-1.7.0" table of the same entries, as glibc 2.31 and older wrote by default.
 */
export function ldCache(entries: LdCacheEntry[], opts: { old?: boolean } = {}): Buffer {
  const header = 48;
  const table = Buffer.alloc(header + entries.length * 24);
  const strings: Buffer[] = [];
  let next = table.length;
  // String offsets count from the start of the new table.
  const place = (s: string): number => {
    const b = Buffer.from(`${s}\0`);
    strings.push(b);
    next += b.length;
    return next - b.length;
  };
  table.write('glibc-ld.so.cache1.1', 0, 'latin1');
  table.writeUInt32LE(entries.length, 20);
  entries.forEach(([name, path, flags], i) => {
    const e = header + i * 24;
    table.writeInt32LE(flags, e);
    table.writeUInt32LE(place(name), e + 4);
    table.writeUInt32LE(place(path), e + 8);
  });
  const fresh = Buffer.concat([table, ...strings]);
  fresh.writeUInt32LE(fresh.length - table.length, 24);
  if (!opts.old) return fresh;
  // The old table: magic, count, then 12-byte entries (whose string offsets we leave
  // at 0: readers of the new table skip it), padded to 8 bytes.
  const oldLen = 16 + entries.length * 12;
  const old = Buffer.alloc(Math.ceil(oldLen / 8) * 8);
  old.write('ld.so-1.7.0', 0, 'latin1');
  old.writeUInt32LE(entries.length, 12);
  return Buffer.concat([old, fresh]);
}
