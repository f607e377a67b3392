// The real LibraryHost on files this test controls; no external tool runs (a cache
// sif cannot parse falls back to ldconfig: that case is in the integration tier).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostLibraryAccess } from '../../../../src/host/elf/host-library-access.js';
import { parseLdSoCache } from '../../../../src/host/elf/ld-so-cache.js';
import { fixture, fixturePath } from './elf-fixtures.js';

describe('hostLibraryAccess', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sif-libhost-'));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'libplain.so.1'), fixture('libplain.so.1'));
    symlinkSync('libplain.so.1', join(dir, 'lib', 'libplain.so'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the cache file it is given, in every layout', () => {
    for (const layout of ['new', 'compat', 'old']) {
      const path = fixturePath(`ld.so.cache.${layout}`);
      expect(hostLibraryAccess({ ldCachePath: path }).ldCache()).toEqual(parseLdSoCache(fixture(`ld.so.cache.${layout}`), path));
    }
  });

  it('takes a missing cache as an empty one, as ld.so does', () => {
    expect(hostLibraryAccess({ ldCachePath: join(dir, 'no-such-cache') }).ldCache()).toEqual([]);
  });

  it('lists directories, and null for what is not one', () => {
    const host = hostLibraryAccess();
    expect([...host.listDirectory(join(dir, 'lib'))!].sort()).toEqual(['libplain.so', 'libplain.so.1']);
    expect(host.listDirectory(join(dir, 'missing'))).toBeNull();
    expect(host.listDirectory(join(dir, 'lib', 'libplain.so.1'))).toBeNull();
  });

  it('gives a symlink and its target one file identity', () => {
    const host = hostLibraryAccess();
    expect(host.fileId!(join(dir, 'lib', 'libplain.so'))).toBe(host.fileId!(join(dir, 'lib', 'libplain.so.1')));
    expect(host.fileId!(join(dir, 'lib', 'libplain.so'))).not.toBe(host.fileId!(fixturePath('libplain.so.1')));
  });

  it('reads an object through a symlink, once', () => {
    const host = hostLibraryAccess();
    const path = join(dir, 'lib', 'libplain.so');
    const first = host.elfInfo(path);
    expect(first.soname).toBe('libplain.so.1');
    expect(host.elfInfo(path)).toBe(first);
  });
});
