import { compareVersions, glibcVersionsNeeded, missingGlibcVersions } from '../../../../src/host/elf/glibc-check.js';
import { readElfFile } from '../../../../src/host/elf/read-elf.js';
import { fixturePath } from './elf-fixtures.js';
import { so } from './fake-library-host.js';

const hostLibs = [
  { path: '/host/libbase.so.1', info: readElfFile(fixturePath('libbase.so.1')) },
  {
    path: '/host/libmpi.so.40',
    info: so({
      versionsNeeded: [
        { file: 'libm.so.6', versions: ['GLIBC_2.29', 'GLIBC_2.2.5'], weak: [] },
        { file: 'libc.so.6', versions: ['GLIBC_2.34', 'GLIBC_2.3.4', 'GLIBC_2.38'], weak: ['GLIBC_2.38'] },
        { file: 'libevent_core-2.1.so.7', versions: ['LIBEVENT_2.1'], weak: [] },
      ],
    }),
  },
];

describe('glibcVersionsNeeded', () => {
  it('collects strong needs from the C library family, per library, in version order', () => {
    expect(glibcVersionsNeeded(hostLibs)).toEqual([
      { library: 'libc.so.6', version: 'GLIBC_2.3.4', neededBy: ['/host/libmpi.so.40'] },
      { library: 'libc.so.6', version: 'GLIBC_2.14', neededBy: ['/host/libbase.so.1'] },
      { library: 'libc.so.6', version: 'GLIBC_2.34', neededBy: ['/host/libbase.so.1', '/host/libmpi.so.40'] },
      { library: 'libm.so.6', version: 'GLIBC_2.2.5', neededBy: ['/host/libmpi.so.40'] },
      { library: 'libm.so.6', version: 'GLIBC_2.29', neededBy: ['/host/libmpi.so.40'] },
    ]);
  });
});

describe('missingGlibcVersions', () => {
  const needs = glibcVersionsNeeded(hostLibs);

  it('finds nothing missing when the image libc defines every version', () => {
    const libc = readElfFile(fixturePath('libc.so.6')).versionsDefined;
    const image = new Map([
      ['libc.so.6', [...libc, 'GLIBC_2.3.4']],
      ['libm.so.6', ['GLIBC_2.2.5', 'GLIBC_2.29']],
    ]);
    expect(missingGlibcVersions(needs, image)).toEqual([]);
  });

  it('names the versions an older-glibc image lacks', () => {
    // A glibc 2.31 image (Debian bullseye): no GLIBC_2.34 in libc.
    const older = ['GLIBC_2.2.5', 'GLIBC_2.3.4', 'GLIBC_2.14', 'GLIBC_2.29', 'GLIBC_2.30'];
    const missing = missingGlibcVersions(needs, new Map([['libc.so.6', older]]));
    expect(missing.map((m) => `${m.library}: ${m.version}`)).toEqual(['libc.so.6: GLIBC_2.34']);
    expect(missing[0]!.neededBy).toEqual(['/host/libbase.so.1', '/host/libmpi.so.40']);
  });

  it("checks a library's own definitions when the image's copy is given", () => {
    const image = new Map([
      ['libc.so.6', ['GLIBC_2.3.4', 'GLIBC_2.14', 'GLIBC_2.34']],
      ['libm.so.6', ['GLIBC_2.2.5']],
    ]);
    expect(missingGlibcVersions(needs, image).map((m) => `${m.library}: ${m.version}`)).toEqual(['libm.so.6: GLIBC_2.29']);
  });
});

describe('compareVersions', () => {
  it('compares numerically, part by part', () => {
    const sorted = ['GLIBC_2.34', 'GLIBC_PRIVATE', 'GLIBC_2.2.5', 'GLIBC_2.14', 'GLIBC_2.3', 'GLIBC_2.3.4'].sort(compareVersions);
    expect(sorted).toEqual(['GLIBC_2.2.5', 'GLIBC_2.3', 'GLIBC_2.3.4', 'GLIBC_2.14', 'GLIBC_2.34', 'GLIBC_PRIVATE']);
  });
});
