import { SifError } from '../../../../src/errors.js';
import { cacheFlagsArch, cacheFlagsMatch } from '../../../../src/host/elf/ld-cache-flags.js';
import { parseLdconfigPrint } from '../../../../src/host/elf/ldconfig-print.js';
import { parseLdSoCache } from '../../../../src/host/elf/ld-so-cache.js';
import { fixture, prng } from './elf-fixtures.js';

// What ldconfig wrote into the fixtures (see test/fixtures/elf/README.md).
const ENTRIES = [
  { soname: 'libplain.so.1', path: '/lib64/libplain.so.1', flags: 0x0303, hwcap: 0n },
  { soname: 'libmid.so.2', path: '/lib64/libmid.so.2', flags: 0x0303, hwcap: 0n },
  { soname: 'libbase.so.1', path: '/lib64/libbase.so.1', flags: 0x0303, hwcap: 0n },
  { soname: 'libbase.so.1', path: '/lib32/libbase.so.1', flags: 0x0001, hwcap: 0n },
];

describe('parseLdSoCache', () => {
  it.each(['new', 'compat', 'old'])('reads the %s layout', (layout) => {
    expect(parseLdSoCache(fixture(`ld.so.cache.${layout}`), layout)).toEqual(ENTRIES);
  });

  it.each(['new', 'compat', 'old'])('keeps only the wanted entries of the %s layout', (layout) => {
    expect(parseLdSoCache(fixture(`ld.so.cache.${layout}`), layout, (s) => s === 'libbase.so.1')).toEqual(ENTRIES.slice(2));
  });

  it('does not decode the path of an entry it leaves out', () => {
    const b = fixture('ld.so.cache.new');
    b.writeUInt32LE(0xfffffff, 48 + 8); // entry 0 (libplain) path past the end
    expect(parseLdSoCache(b, 'new', (s) => s === 'libmid.so.2')).toEqual([ENTRIES[1]]);
  });

  const refusals: Array<[string, () => Buffer, RegExp]> = [
    ['an empty file', () => Buffer.alloc(0), /no ld.so.cache magic number/],
    ['another file', () => Buffer.from('include ld.so.conf.d/*.conf\n'), /no ld.so.cache magic number/],
    ['a cut new header', () => fixture('ld.so.cache.new').subarray(0, 30), /the new-format header is cut short/],
    ['a huge entry count', () => { const b = fixture('ld.so.cache.new'); b.writeUInt32LE(0xffffffff, 20); return b; }, /it claims 4294967295 entries, more than its 315 bytes hold/],
    ['a huge old entry count', () => { const b = fixture('ld.so.cache.old'); b.writeUInt32LE(0x10000000, 12); return b; }, /it claims 268435456 entries/],
    ['a name past the end', () => { const b = fixture('ld.so.cache.new'); b.writeUInt32LE(0xfffffff, 48 + 4); return b; }, /entry 0 name at offset 268435455 lies past the end of the file/],
    ['a path without a terminator', () => { const b = fixture('ld.so.cache.new'); b[b.length - 1] = 0x41; b.writeUInt32LE(b.length - 3, 48 + 8); return b; }, /entry 0 path at offset \d+ has no terminator/],
    ['more entries than sif reads', () => { const b = Buffer.alloc(48 + 24 * 262145); fixture('ld.so.cache.new').copy(b, 0, 0, 48); b.writeUInt32LE(262145, 20); return b; }, /it claims 262145 entries, more than sif reads \(262144\)/],
    ['a cache marked invalid', () => { const b = fixture('ld.so.cache.new'); b[28] = 1; return b; }, /ldconfig marked it invalid/],
    ['an old table cut short', () => fixture('ld.so.cache.old').subarray(0, 30), /it claims 4 entries, more than its 30 bytes hold/],
  ];
  it.each(refusals)('refuses %s with a SifError naming the file', (_what, make, message) => {
    expect(() => parseLdSoCache(make(), '/etc/ld.so.cache')).toThrow(SifError);
    expect(() => parseLdSoCache(make(), '/etc/ld.so.cache')).toThrow(/^\/etc\/ld.so.cache: not a usable ld.so.cache: /);
    expect(() => parseLdSoCache(make(), '/etc/ld.so.cache')).toThrow(message);
  });

  it('throws only SifError on mutated caches (1 s, seeded)', () => {
    const inputs = ['new', 'compat', 'old'].map((l) => fixture(`ld.so.cache.${l}`));
    const next = prng(4242);
    const start = Date.now();
    let runs = 0;
    while (Date.now() - start < 1000) {
      const b = Buffer.from(inputs[runs++ % 3]!);
      for (let i = 0; i < 1 + (next() % 3); i++) {
        const at = next() % b.length;
        if (next() % 2) b[at] = next() & 0xff;
        else if (at + 4 <= b.length) b.writeUInt32LE(next() % 2 ? 0xffffffff : next() % 512, at);
      }
      const input = next() % 8 === 0 ? b.subarray(0, next() % b.length) : b;
      try {
        parseLdSoCache(input, 'fuzz');
      } catch (e) {
        if (!(e instanceof SifError)) throw new Error(`run ${runs}: ${String(e)}`, { cause: e });
      }
    }
    expect(runs).toBeGreaterThan(1000);
  });

  it('reads a big-endian table', () => {
    const le = fixture('ld.so.cache.new');
    const be = Buffer.from(le);
    be[28] = 3;
    for (const at of [20, 24, 32]) be.writeUInt32BE(le.readUInt32LE(at), at);
    for (let i = 0; i < 4; i++) {
      const e = 48 + i * 24;
      for (const off of [0, 4, 8, 12]) be.writeUInt32BE(le.readUInt32LE(e + off), e + off);
      be.writeBigUInt64BE(le.readBigUInt64LE(e + 16), e + 16);
    }
    expect(parseLdSoCache(be, 'be')).toEqual(ENTRIES);
  });
});

describe('cache flags', () => {
  it('accepts what each loader accepts', () => {
    expect(cacheFlagsMatch(0x0303, 64, 62)).toBe(true);
    expect(cacheFlagsMatch(0x0003, 64, 62)).toBe(false);
    expect(cacheFlagsMatch(0x0001, 64, 62)).toBe(false);
    expect(cacheFlagsMatch(0x0003, 32, 3)).toBe(true);
    expect(cacheFlagsMatch(0x0001, 32, 3)).toBe(true);
    expect(cacheFlagsMatch(0x0303, 32, 3)).toBe(false);
    expect(cacheFlagsMatch(0x0a03, 64, 183)).toBe(true);
    expect(cacheFlagsMatch(0x0503, 64, 21)).toBe(true);
    expect(cacheFlagsMatch(0x1003, 64, 243)).toBe(true);
    expect(cacheFlagsMatch(0x0303, 64, 9999)).toBe(false);
  });

  it('says which class and machine an entry is for', () => {
    expect(cacheFlagsArch(0x0303)).toEqual({ elfClass: 64, machine: 62, name: 'x86-64' });
    expect(cacheFlagsArch(0x0a03)).toEqual({ elfClass: 64, machine: 183, name: 'aarch64' });
    expect(cacheFlagsArch(0x0001)).toEqual({ elfClass: 32, machine: 3, name: 'i386' });
    expect(cacheFlagsArch(0x7f03)).toBeUndefined();
  });
});

describe('parseLdconfigPrint (the fallback)', () => {
  it('reads ldconfig -p lines into cache entries', () => {
    const text = [
      "4 libs found in cache `/etc/ld.so.cache'",
      '\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1',
      '\tlibz.so.1 (libc6) => /lib/i386-linux-gnu/libz.so.1',
      '\tlibfoo.so.2 (libc6,x86-64, hwcap: "x86-64-v3") => /usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.2',
      '\tlibpmix.so.2 (libc6,AArch64, OS ABI: Linux 3.7.0) => /usr/lib/aarch64-linux-gnu/libpmix.so.2',
      'Cache generated by: ldconfig (GNU libc) stable release version 2.36',
    ].join('\n');
    expect(parseLdconfigPrint(text, 62)).toEqual([
      { soname: 'libz.so.1', path: '/lib/x86_64-linux-gnu/libz.so.1', flags: 0x0303, hwcap: 0n },
      { soname: 'libz.so.1', path: '/lib/i386-linux-gnu/libz.so.1', flags: 0x0003, hwcap: 0n },
      { soname: 'libfoo.so.2', path: '/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.2', flags: 0x0303, hwcap: 1n },
      { soname: 'libpmix.so.2', path: '/usr/lib/aarch64-linux-gnu/libpmix.so.2', flags: 0x0a03, hwcap: 0n },
    ]);
    expect(parseLdconfigPrint('\tlibmpi.so.40 (libc6,64bit) => /usr/lib64/libmpi.so.40', 21)[0]!.flags).toBe(0x0503);
  });
});

describe('parseLdSoCache on a hostile cache', () => {
  it('an image cache whose strings have no terminator costs one bounded scan per string', () => {
    // 100,000 entries (the image reader allows a 16 MiB file), every name pointing at
    // 12 MiB without a NUL: a scan to the end for each would be 1.2 TB.
    const n = 100_000;
    const head = 48 + n * 24;
    const buf = Buffer.alloc(head + (12 << 20), 0x41);
    buf.fill(0, 0, head);
    buf.write('glibc-ld.so.cache1.1', 0, 'latin1');
    buf.writeUInt32LE(n, 20);
    for (let i = 0; i < n; i++) buf.writeUInt32LE(head, 48 + i * 24 + 4);
    const t0 = performance.now();
    expect(() => parseLdSoCache(buf, 'image:/etc/ld.so.cache')).toThrow(SifError);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
