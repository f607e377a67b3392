// The starter's ld.so.cache reader (native/starter/ld-cache.c), compiled with a small
// driver (test/native/ld-cache-find.c) and run on caches of both formats and on
// corrupt ones: it reads files from images, which nothing vouches for.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../support/unprivileged.js';
import { ldCache, type LdCacheEntry } from '../support/ld-cache.js';

const LIBC6_X86_64 = 0x0303;
const LIBC6_I386 = 0x0003;
let dir: string;
let driver: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sif-ldcache-'));
  driver = join(dir, 'ld-cache-find');
  const starter = join(REPO_ROOT, 'native', 'starter');
  await execa('cc', ['-std=gnu11', '-Wall', '-Werror', '-fsanitize=address,undefined', '-I', starter, '-o', driver,
    join(REPO_ROOT, 'test', 'native', 'ld-cache-find.c'), join(starter, 'ld-cache.c')]);
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function find(cache: Buffer, name = 'libc.so.6', flags = LIBC6_X86_64): Promise<string> {
  const file = join(dir, 'cache');
  writeFileSync(file, cache);
  // The sanitizers make any out-of-bounds read a failure (exit status, report on stderr).
  const r = await execa(driver, [file, name, String(flags)]);
  return r.stdout;
}

const entries: LdCacheEntry[] = [
  ['libm.so.6', '/lib/x86_64-linux-gnu/libm.so.6', LIBC6_X86_64],
  ['libc.so.6', '/lib/i386-linux-gnu/libc.so.6', LIBC6_I386],
  ['libc.so.6', '/lib/x86_64-linux-gnu/libc.so.6', LIBC6_X86_64],
];

describe('ld.so.cache lookups', () => {
  it('finds the library for the architecture, in the new format alone', async () => {
    expect(await find(ldCache(entries))).toBe('/lib/x86_64-linux-gnu/libc.so.6');
    expect(await find(ldCache(entries), 'libc.so.6', LIBC6_I386)).toBe('/lib/i386-linux-gnu/libc.so.6');
    expect(await find(ldCache(entries), 'libz.so.1')).toBe('(none)');
  });

  it('finds it after the old table too (glibc 2.31 and older)', async () => {
    expect(await find(ldCache(entries, { old: true }))).toBe('/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('finds nothing, and reads nothing out of bounds, in corrupt caches', async () => {
    const good = ldCache(entries);
    const lyingCount = Buffer.from(good);
    lyingCount.writeUInt32LE(0xffffffff, 20);
    const lyingPath = Buffer.from(good);
    lyingPath.writeUInt32LE(0xfffffff0, 48 + 2 * 24 + 8);
    const unterminated = good.subarray(0, good.length - 1);
    const oldTooLong = ldCache(entries, { old: true });
    oldTooLong.writeUInt32LE(0x10000000, 12);
    for (const cache of [lyingCount, lyingPath, unterminated, oldTooLong, good.subarray(0, 40), Buffer.alloc(0)]) {
      expect(await find(cache)).toBe('(none)');
    }
  });
});
