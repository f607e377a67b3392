import { readLdSoCache } from '../../../src/host/ld-so-cache.js';
import { ldCache } from '../../support/ld-cache.js';

describe('readLdSoCache', () => {
  const entries: [string, string, number][] = [
    ['libcuda.so.1', '/usr/lib/x86_64-linux-gnu/libcuda.so.1', 0x0303],
    ['libcuda.so.1', '/usr/lib/i386-linux-gnu/libcuda.so.1', 0x0003],
  ];
  const want = entries.map(([soname, path, flags]) => ({ soname, path, flags }));

  it('reads the new format and the compat layout', () => {
    expect(readLdSoCache(ldCache(entries))).toEqual(want);
    expect(readLdSoCache(ldCache(entries, { old: true }))).toEqual(want);
  });

  it('has no entries for other files, a cut file or an invalid mark', () => {
    expect(readLdSoCache(Buffer.from('not a cache at all, not at all'))).toEqual([]);
    expect(readLdSoCache(ldCache(entries).subarray(0, 40))).toEqual([]);
    const invalid = ldCache(entries);
    invalid[28] = 1;
    expect(readLdSoCache(invalid)).toEqual([]);
  });

  it('skips an entry whose string lies past the end', () => {
    const buf = ldCache(entries);
    buf.writeUInt32LE(buf.length + 10, 48 + 8);
    expect(readLdSoCache(buf)).toEqual(want.slice(1));
  });
});

describe('readLdSoCache with a filter', () => {
  it('keeps only the entries whose soname is wanted', () => {
    const buf = ldCache([['libz.so.1', '/usr/lib/libz.so.1', 0x0303], ['libcuda.so.1', '/usr/lib/libcuda.so.1', 0x0303]]);
    expect(readLdSoCache(buf, (s) => s.startsWith('libcuda'))).toEqual([{ soname: 'libcuda.so.1', path: '/usr/lib/libcuda.so.1', flags: 0x0303 }]);
  });
});
