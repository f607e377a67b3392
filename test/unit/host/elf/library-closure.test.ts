import { SifError } from '../../../../src/errors.js';
import { isLibcFamily } from '../../../../src/host/elf/libc-family.js';
import { type ClosureRequest, libraryClosure } from '../../../../src/host/elf/library-closure.js';
import { parseLdSoCache } from '../../../../src/host/elf/ld-so-cache.js';
import { fixture } from './elf-fixtures.js';
import { fakeHost, so } from './fake-library-host.js';

const TOKENS = { lib: 'lib/x86_64-linux-gnu', platform: 'x86_64' };
const request = (start: string[], more: Partial<ClosureRequest> = {}): ClosureRequest => ({
  start,
  tokens: TOKENS,
  defaultDirs: ['/lib64', '/usr/lib64'],
  ...more,
});
const where = (c: ReturnType<typeof libraryClosure>) => c.objects.map((o) => [o.path, o.via, o.neededBy]);

describe('libraryClosure over the fixtures', () => {
  // app -> libtop.so (LD_LIBRARY_PATH) -> libmid.so.2 (libtop's RPATH $ORIGIN/$LIB)
  //     -> libbase.so.1 (libmid's RUNPATH $ORIGIN/../base) -> libc.so.6 (the cache)
  const tree = {
    '/opt/app/bin/app': 'app',
    '/opt/app/lib/libtop.so': 'libtop.so',
    '/opt/app/lib/lib/x86_64-linux-gnu/libmid.so.2': 'libmid.so.2',
    '/opt/app/lib/lib/base/libbase.so.1': 'libbase.so.1',
    '/lib64/libc.so.6': 'libc.so.6',
  };
  const cache = [{ soname: 'libc.so.6', path: '/lib64/libc.so.6', flags: 0x0303, hwcap: 0n }];

  it('follows DT_NEEDED through LD_LIBRARY_PATH, DT_RPATH with $ORIGIN/$LIB, DT_RUNPATH, the cache', () => {
    const c = libraryClosure(fakeHost(tree, cache), request(['/opt/app/bin/app'], { ldLibraryPath: '/opt/app/lib' }));
    expect(where(c)).toEqual([
      ['/opt/app/bin/app', 'start', undefined],
      ['/opt/app/lib/libtop.so', 'ld_library_path', '/opt/app/bin/app'],
      ['/opt/app/lib/lib/x86_64-linux-gnu/libmid.so.2', 'rpath', '/opt/app/lib/libtop.so'],
      // Kept as ld.so keeps it, ".." and all (ldd prints the same).
      ['/opt/app/lib/lib/x86_64-linux-gnu/../base/libbase.so.1', 'runpath', '/opt/app/lib/lib/x86_64-linux-gnu/libmid.so.2'],
      ['/lib64/libc.so.6', 'ld.so.cache', '/opt/app/lib/lib/x86_64-linux-gnu/../base/libbase.so.1'],
    ]);
    expect(c.objects[2]!.searchDir).toBe('/opt/app/lib/lib/x86_64-linux-gnu');
    expect(c.missing).toEqual([]);
  });

  it('leaves the C library family out when asked, and reports it', () => {
    const c = libraryClosure(fakeHost(tree, cache), request(['/opt/app/bin/app'], { ldLibraryPath: '/opt/app/lib', leaveOut: isLibcFamily }));
    expect(c.objects.map((o) => o.path)).not.toContain('/lib64/libc.so.6');
    expect(c.leftOut).toEqual([{ name: 'libc.so.6', neededBy: '/opt/app/lib/lib/x86_64-linux-gnu/../base/libbase.so.1' }]);
  });

  it('reports what it cannot find, and who needed it', () => {
    const c = libraryClosure(fakeHost(tree, cache), request(['/opt/app/bin/app']));
    expect(c.objects).toHaveLength(1);
    expect(c.missing).toEqual([{ name: 'libtop.so', neededBy: '/opt/app/bin/app' }]);
  });

  it('skips the cache and default directories for an object linked -z nodefaultlib', () => {
    const files = { '/opt/t/libtop.so': 'libtop.so', '/lib64/libmid.so.2': 'libmid.so.2' };
    const cached = [{ soname: 'libmid.so.2', path: '/lib64/libmid.so.2', flags: 0x0303, hwcap: 0n }];
    const c = libraryClosure(fakeHost(files, cached), request(['/opt/t/libtop.so']));
    expect(c.missing).toEqual([{ name: 'libmid.so.2', neededBy: '/opt/t/libtop.so' }]);
    // The same need from an object without the flag is met by the cache.
    const plain = libraryClosure(fakeHost({ ...files, '/opt/t/libx.so': so({ needed: ['libmid.so.2'] }) }, cached), request(['/opt/t/libx.so']));
    expect(where(plain)[1]).toEqual(['/lib64/libmid.so.2', 'ld.so.cache', '/opt/t/libx.so']);
  });

  it('takes only cache entries of the ABI: a 64-bit object never gets the i386 entry', () => {
    const entries = parseLdSoCache(fixture('ld.so.cache.new'), 'fixture');
    const files = { '/lib64/libbase.so.1': 'libbase.so.1', '/lib32/libbase.so.1': 'libbase-i386.so.1' };
    const need64 = so({ needed: ['libbase.so.1'] });
    const need32 = so({ elfClass: 32, machine: 3, machineName: 'i386', needed: ['libbase.so.1'] });
    const c64 = libraryClosure(fakeHost({ ...files, '/opt/x64': need64 }, entries), request(['/opt/x64'], { leaveOut: isLibcFamily }));
    expect(c64.objects[1]).toMatchObject({ path: '/lib64/libbase.so.1', via: 'ld.so.cache' });
    const c32 = libraryClosure(fakeHost({ ...files, '/opt/x32': need32 }, entries), request(['/opt/x32']));
    expect(c32.objects[1]).toMatchObject({ path: '/lib32/libbase.so.1', via: 'ld.so.cache' });
    expect(c32.objects[1]!.info.elfClass).toBe(32);
  });
});

describe('libraryClosure search order', () => {
  const lib = (name: string) => so({ soname: name });

  it('searches DT_RPATH before LD_LIBRARY_PATH, and LD_LIBRARY_PATH before DT_RUNPATH', () => {
    const files = {
      '/start/librp.so': so({ rpath: '/rp', needed: ['libx.so.1'] }),
      '/start/librun.so': so({ runpath: '/run', needed: ['liby.so.1'] }),
      '/rp/libx.so.1': lib('libx.so.1'),
      '/llp/libx.so.1': lib('libx.so.1'),
      '/llp/liby.so.1': lib('liby.so.1'),
      '/run/liby.so.1': lib('liby.so.1'),
    };
    const c = libraryClosure(fakeHost(files), request(['/start/librp.so', '/start/librun.so'], { ldLibraryPath: '/llp' }));
    expect(where(c).slice(2)).toEqual([
      ['/rp/libx.so.1', 'rpath', '/start/librp.so'],
      ['/llp/liby.so.1', 'ld_library_path', '/start/librun.so'],
    ]);
  });

  it('ignores DT_RPATH in an object that also has DT_RUNPATH', () => {
    const files = {
      '/s/libboth.so': so({ rpath: '/rp', runpath: '/run', needed: ['libx.so.1'] }),
      '/rp/libx.so.1': lib('libx.so.1'),
      '/run/libx.so.1': lib('libx.so.1'),
    };
    expect(where(libraryClosure(fakeHost(files), request(['/s/libboth.so'])))[1]).toEqual(['/run/libx.so.1', 'runpath', '/s/libboth.so']);
  });

  it('inherits DT_RPATH down the loading chain, but not DT_RUNPATH', () => {
    const chain = (mid: object) => ({
      '/s/libtop.so': so({ rpath: '/rp', needed: ['libmid.so.1'] }),
      '/rp/libmid.so.1': so({ soname: 'libmid.so.1', needed: ['libleaf.so.1'], ...mid }),
      '/rp/libleaf.so.1': lib('libleaf.so.1'),
      '/top-run/libleaf2.so.1': lib('libleaf2.so.1'),
    });
    // libmid has no search path of its own: libtop's RPATH serves its needs too.
    const inherited = libraryClosure(fakeHost(chain({})), request(['/s/libtop.so']));
    expect(where(inherited)[2]).toEqual(['/rp/libleaf.so.1', 'rpath', '/rp/libmid.so.1']);
    // With a DT_RUNPATH of its own, libmid no longer searches its loaders' RPATHs.
    const cut = libraryClosure(fakeHost(chain({ runpath: '/elsewhere' })), request(['/s/libtop.so']));
    expect(cut.missing).toEqual([{ name: 'libleaf.so.1', neededBy: '/rp/libmid.so.1' }]);
    // A RUNPATH serves only its own object's needs, not those of what it loads.
    const files = {
      '/s/librun.so': so({ runpath: '/run', needed: ['libmid.so.1'] }),
      '/run/libmid.so.1': so({ soname: 'libmid.so.1', needed: ['libleaf.so.1'] }),
      '/run/libleaf.so.1': lib('libleaf.so.1'),
    };
    expect(libraryClosure(fakeHost(files), request(['/s/librun.so'])).missing).toEqual([{ name: 'libleaf.so.1', neededBy: '/run/libmid.so.1' }]);
  });

  it("searches the main program's DT_RPATH for every object", () => {
    const files = {
      '/bin/prog': so({ type: 'executable', interpreter: '/lib64/ld-linux-x86-64.so.2', rpath: '/prog-rp', needed: ['liba.so.1'] }),
      '/usr/lib64/liba.so.1': so({ soname: 'liba.so.1', runpath: '', needed: ['libb.so.1'] }),
      '/prog-rp/libb.so.1': lib('libb.so.1'),
    };
    // liba has a (empty) RUNPATH: no RPATH at all for it. Without one, prog's RPATH serves it.
    expect(libraryClosure(fakeHost(files), request(['/bin/prog'])).missing).toEqual([{ name: 'libb.so.1', neededBy: '/usr/lib64/liba.so.1' }]);
    const noRunpath = { ...files, '/usr/lib64/liba.so.1': so({ soname: 'liba.so.1', needed: ['libb.so.1'] }) };
    expect(where(libraryClosure(fakeHost(noRunpath), request(['/bin/prog'])))[2]).toEqual(['/prog-rp/libb.so.1', 'rpath', '/usr/lib64/liba.so.1']);
  });

  it('searches the cache before the default directories', () => {
    const files = { '/s/a.so': so({ needed: ['libx.so.1'] }), '/lib64/libx.so.1': lib('libx.so.1'), '/opt/c/libx.so.1': lib('libx.so.1') };
    const cache = [{ soname: 'libx.so.1', path: '/opt/c/libx.so.1', flags: 0x0303, hwcap: 0n }];
    expect(where(libraryClosure(fakeHost(files, cache), request(['/s/a.so'])))[1]).toEqual(['/opt/c/libx.so.1', 'ld.so.cache', '/s/a.so']);
    expect(where(libraryClosure(fakeHost(files), request(['/s/a.so'])))[1]).toEqual(['/lib64/libx.so.1', 'default', '/s/a.so']);
    // hwcap subdirectory entries are not the base library.
    const hw = [{ soname: 'libx.so.1', path: '/opt/c/libx.so.1', flags: 0x0303, hwcap: 1n << 62n }];
    expect(where(libraryClosure(fakeHost(files, hw), request(['/s/a.so'])))[1]![1]).toBe('default');
  });
});

describe('libraryClosure candidates and loaded objects', () => {
  it('skips a candidate of the wrong class or machine and goes on searching', () => {
    const files = {
      '/s/a.so': so({ needed: ['libbase.so.1', 'libarm.so.1'] }),
      '/first/libbase.so.1': 'libbase-i386.so.1',
      '/second/libbase.so.1': so({ soname: 'libbase.so.1' }),
      '/first/libarm.so.1': so({ machine: 183, machineName: 'aarch64' }),
    };
    const c = libraryClosure(fakeHost(files), request(['/s/a.so'], { ldLibraryPath: '/first:/second' }));
    expect(where(c)[1]).toEqual(['/second/libbase.so.1', 'ld_library_path', '/s/a.so']);
    expect(c.skipped).toEqual([
      { path: '/first/libbase.so.1', name: 'libbase.so.1', neededBy: '/s/a.so', reason: 'ELF class 32, not 64' },
      { path: '/first/libarm.so.1', name: 'libarm.so.1', neededBy: '/s/a.so', reason: 'machine aarch64, not x86-64' },
    ]);
    expect(c.missing).toEqual([{ name: 'libarm.so.1', neededBy: '/s/a.so' }]);
  });

  it('stops at a malformed candidate, as ld.so does, and says why', () => {
    const bad = new SifError('SIF_E_ELF_INVALID', '/first/libx.so.1: not a usable ELF object: no ELF magic number');
    const files = { '/s/a.so': so({ needed: ['libx.so.1'] }), '/first/libx.so.1': bad, '/second/libx.so.1': so({}) };
    const c = libraryClosure(fakeHost(files), request(['/s/a.so'], { ldLibraryPath: '/first:/second' }));
    expect(c.objects).toHaveLength(1);
    expect(c.missing).toEqual([{ name: 'libx.so.1', neededBy: '/s/a.so', reason: bad.message }]);
  });

  it('meets a need with an object already loaded under that soname, without searching', () => {
    const files = { '/x/libmid.so.2': 'libmid.so.2', '/y/libtop.so': 'libtop.so', '/x/libbase.so.1': 'libbase.so.1' };
    const host = fakeHost(files);
    const c = libraryClosure(host, request(['/x/libmid.so.2', '/y/libtop.so'], { leaveOut: isLibcFamily, ldLibraryPath: '/x' }));
    expect(c.objects.map((o) => o.path)).toEqual(['/x/libmid.so.2', '/y/libtop.so', '/x/libbase.so.1']);
    expect(c.missing).toEqual([]);
  });

  it('loads one file reached by two paths once (same device and inode)', () => {
    const files = {
      '/s/a.so': so({ needed: ['libx.so.1', 'libx-alias.so'] }),
      '/l/libx.so.1': so({ soname: 'libx.so.1' }),
      '/l/libx-alias.so': so({ soname: 'libx.so.1' }),
    };
    const c = libraryClosure(fakeHost(files, [], { '/l/libx-alias.so': '/l/libx.so.1' }), request(['/s/a.so'], { ldLibraryPath: '/l' }));
    expect(c.objects.map((o) => o.path)).toEqual(['/s/a.so', '/l/libx.so.1']);
  });

  it('loads a need given as a path, with $ORIGIN expanded', () => {
    const files = { '/opt/p/libhost.so': so({ needed: ['$ORIGIN/plugins/libplug.so', '/nowhere/libgone.so'] }), '/opt/p/plugins/libplug.so': so({}) };
    const c = libraryClosure(fakeHost(files), request(['/opt/p/libhost.so']));
    expect(where(c)[1]).toEqual(['/opt/p/plugins/libplug.so', 'path', '/opt/p/libhost.so']);
    expect(c.missing).toEqual([{ name: '/nowhere/libgone.so', neededBy: '/opt/p/libhost.so' }]);
  });

  it("takes the main program's interpreter as loaded, so libc's need of it is met", () => {
    const files = {
      '/bin/prog': so({ interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6'] }),
      '/lib64/libc.so.6': so({ soname: 'libc.so.6', needed: ['ld-linux-x86-64.so.2'] }),
      '/lib64/ld-linux-x86-64.so.2': so({ soname: 'ld-linux-x86-64.so.2' }),
    };
    const c = libraryClosure(fakeHost(files), request(['/bin/prog']));
    expect(where(c)).toEqual([
      ['/bin/prog', 'start', undefined],
      ['/lib64/ld-linux-x86-64.so.2', 'interpreter', undefined],
      ['/lib64/libc.so.6', 'default', '/bin/prog'],
    ]);
  });

  it('throws the SifError of a start object it cannot read: the caller named it', () => {
    expect(() => libraryClosure(fakeHost({}), request(['/opt/mpi/lib/libmpi.so.40']))).toThrow(
      expect.objectContaining({ code: 'SIF_E_ELF_UNREADABLE', message: expect.stringContaining('/opt/mpi/lib/libmpi.so.40') }),
    );
  });

  it('reads each object once, however many need it', () => {
    const files = {
      '/s/a.so': so({ needed: ['libx.so.1', 'liby.so.1'] }),
      '/l/libx.so.1': so({ soname: 'libx.so.1', needed: ['liby.so.1'] }),
      '/l/liby.so.1': so({ soname: 'liby.so.1', needed: ['libx.so.1'] }),
    };
    const host = fakeHost(files);
    const c = libraryClosure(host, request(['/s/a.so'], { ldLibraryPath: '/l' }));
    expect(c.objects.map((o) => o.path)).toEqual(['/s/a.so', '/l/libx.so.1', '/l/liby.so.1']);
    expect(host.reads).toEqual(['/s/a.so', '/l/libx.so.1', '/l/liby.so.1']);
  });
});
