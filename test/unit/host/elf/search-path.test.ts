import { searchDefaults } from '../../../../src/host/elf/search-defaults.js';
import { expandEntry, expandSearchList } from '../../../../src/host/elf/search-path.js';

const T = { lib: 'lib/x86_64-linux-gnu', platform: 'x86_64' };

describe('expandEntry', () => {
  it('expands $ORIGIN, $LIB, $PLATFORM and their braced forms', () => {
    expect(expandEntry('$ORIGIN/../lib', '/opt/mpi/bin', T)).toBe('/opt/mpi/bin/../lib');
    expect(expandEntry('${ORIGIN}/x', '/o', T)).toBe('/o/x');
    expect(expandEntry('/usr/$LIB/mpi', '/o', T)).toBe('/usr/lib/x86_64-linux-gnu/mpi');
    expect(expandEntry('/opt/${PLATFORM}lib', '/o', T)).toBe('/opt/x86_64lib');
    expect(expandEntry('$ORIGIN', '/o/p/', T)).toBe('/o/p');
  });

  it('keeps an unknown or unterminated token as written, as ld.so does', () => {
    expect(expandEntry('/opt/$HOME/lib', '/o', T)).toBe('/opt/$HOME/lib');
    expect(expandEntry('/opt/$ORIGINAL', '/o', T)).toBe('/opt/$ORIGINAL');
  });

  it('drops an entry whose token has no value, and relative entries', () => {
    expect(expandEntry('$ORIGIN/lib', undefined, T)).toBeUndefined();
    expect(expandEntry('/p/$PLATFORM', '/o', { lib: 'lib64' })).toBeUndefined();
    expect(expandEntry('', '/o', T)).toBeUndefined();
    expect(expandEntry('lib', '/o', T)).toBeUndefined();
  });
});

describe('expandSearchList', () => {
  it('splits on colons, in order, without duplicates', () => {
    expect(expandSearchList('/a::$ORIGIN:/b/:/a', '/o', T)).toEqual(['/a', '/o', '/b']);
  });

  it('splits LD_LIBRARY_PATH on semicolons too, when asked', () => {
    expect(expandSearchList('/a;/b:/c', '/o', T, /[:;]/)).toEqual(['/a', '/b', '/c']);
    expect(expandSearchList('/a;/b', '/o', T)).toEqual(['/a;/b']); // DT_RPATH: one odd name
  });
});

describe('searchDefaults', () => {
  it('gives multiarch directories where the host has them, lib64 upstream', () => {
    expect(searchDefaults(62, 64, true)).toEqual({
      defaultDirs: ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'],
      tokens: { lib: 'lib/x86_64-linux-gnu', platform: 'x86_64' },
    });
    expect(searchDefaults(62, 64, false)).toEqual({ defaultDirs: ['/lib64', '/usr/lib64'], tokens: { lib: 'lib64', platform: 'x86_64' } });
    expect(searchDefaults(183, 64, true).defaultDirs[0]).toBe('/lib/aarch64-linux-gnu');
    expect(searchDefaults(3, 32, false)).toEqual({ defaultDirs: ['/lib', '/usr/lib'], tokens: { lib: 'lib', platform: 'i686' } });
  });
});
