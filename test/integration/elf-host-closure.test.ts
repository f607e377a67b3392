// The ELF layer (src/host/elf) against this host's own libraries: the closure the
// resolver computes for a real library must be what glibc's loader loads, with ldd as
// the oracle (only here, in a test: ldd runs the loader on the library). The host's
// /etc/ld.so.cache as the TS reader sees it must be what ldconfig -p prints.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostLibraryAccess, hostSearchDefaults } from '../../src/host/elf/host-library-access.js';
import { libraryClosure } from '../../src/host/elf/library-closure.js';
import { parseLdconfigPrint } from '../../src/host/elf/ldconfig-print.js';
import { readElfFile } from '../../src/host/elf/read-elf.js';
import { FIXTURES } from '../support/unprivileged.js';

const LIBDIR = '/lib/x86_64-linux-gnu';
const INTERP = '/lib64/ld-linux-x86-64.so.2';
const hasLdd = ['/usr/bin/ldd', '/bin/ldd'].some((p) => existsSync(p));
const onDebianX64 = process.arch === 'x64' && existsSync(LIBDIR) && existsSync(INTERP) && hasLdd ? describe : describe.skip;

// Small to large closures; those the host lacks are left out.
const LIBRARIES = ['libzstd.so.1', 'libfuse3.so.3', 'libcurl.so.4', 'libgnutls.so.30', 'libpython3.11.so.1.0', 'libLLVM-15.so.1']
  .map((n) => `${LIBDIR}/${n}`)
  .filter((p) => existsSync(p));

/** ldd's answer: needed name => path, and the names it could not find. */
function ldd(path: string, ldLibraryPath?: string): { found: Record<string, string>; missing: string[] } {
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  delete env.LD_PRELOAD;
  if (ldLibraryPath !== undefined) env.LD_LIBRARY_PATH = ldLibraryPath;
  const out = execFileSync('ldd', [path], { encoding: 'utf8', env });
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s+(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (!m) continue;
    if (m[2] === 'not found') missing.push(m[1]!);
    else found[m[1]!] = m[2]!;
  }
  return { found, missing };
}

onDebianX64('the resolver against ldd on this host', () => {
  const host = hostLibraryAccess();

  it('has host libraries to compare (libzstd at least)', () => {
    expect(LIBRARIES).toContain(`${LIBDIR}/libzstd.so.1`);
  });

  it.each(LIBRARIES)('finds what ldd finds for %s', (path) => {
    const info = host.elfInfo(path);
    const { defaultDirs, tokens } = hostSearchDefaults(info.machine, info.elfClass);
    const started = process.hrtime.bigint();
    const closure = libraryClosure(host, { start: [path], tokens, defaultDirs, interpreter: INTERP });
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const ours: Record<string, string> = {};
    for (const o of closure.objects) if (o.via !== 'start' && o.via !== 'interpreter') ours[o.name] = o.path;
    const oracle = ldd(path);
    expect(ours).toEqual(oracle.found);
    expect(closure.missing.map((m) => m.name)).toEqual(oracle.missing);
    console.log(`${path}: ${closure.objects.length} objects in ${ms.toFixed(1)} ms`);
  });

  describe('on the fixtures laid out in a tree: RPATH, $ORIGIN/$LIB, RUNPATH, LD_LIBRARY_PATH', () => {
    // libtop.so -(RPATH $ORIGIN/$LIB)-> libmid.so.2 -(RUNPATH $ORIGIN/../base)-> libbase.so.1
    // -> libc.so.6 (the host's, through the cache); llp/ holds other copies, llp32/ an
    // i386 libbase.so.1 that the loader must pass over.
    let root: string;
    const put = (fixture: string, to: string) => {
      mkdirSync(dirname(join(root, to)), { recursive: true });
      copyFileSync(join(FIXTURES, 'elf', fixture), join(root, to));
    };
    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'sif-elf-tree-'));
      put('libtop.so', 'app/lib/libtop.so');
      put('libmid.so.2', 'app/lib/lib/x86_64-linux-gnu/libmid.so.2');
      put('libbase.so.1', 'app/lib/lib/base/libbase.so.1');
      put('libmid.so.2', 'llp/libmid.so.2');
      put('libbase.so.1', 'llp/libbase.so.1');
      put('libbase-i386.so.1', 'llp32/libbase.so.1');
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it.each([['unset'], ['llp32:llp']])('matches ldd with LD_LIBRARY_PATH %s', (llp) => {
      const start = join(root, 'app/lib/libtop.so');
      const ldLibraryPath = llp === 'unset' ? undefined : llp.split(':').map((d) => join(root, d)).join(':');
      const { defaultDirs, tokens } = hostSearchDefaults(62, 64);
      const closure = libraryClosure(host, { start: [start], tokens, defaultDirs, interpreter: INTERP, ldLibraryPath });
      const ours: Record<string, string> = {};
      for (const o of closure.objects) if (o.via !== 'start' && o.via !== 'interpreter') ours[o.name] = o.path;
      expect(ours).toEqual(ldd(start, ldLibraryPath).found);
      if (ldLibraryPath) expect(closure.skipped.map((s) => s.reason)).toEqual(['ELF class 32, not 64']);
    });
  });

  it("reads the versions the host libc defines, up to ldd --version's release", () => {
    const release = /(\d+\.\d+)\s*$/m.exec(execFileSync('ldd', ['--version'], { encoding: 'utf8' }).split('\n')[0]!)![1]!;
    const libc = readElfFile(`${LIBDIR}/libc.so.6`);
    expect(libc.soname).toBe('libc.so.6');
    expect(libc.versionsDefined).toContain('GLIBC_2.2.5');
    expect(libc.versionsDefined).toContain(`GLIBC_${release}`);
    expect(libc.versionsDefined).not.toContain(`GLIBC_${release.split('.')[0]}.${Number(release.split('.')[1]) + 1}`);
  });

  it('a cache neither sif nor its ldconfig -p fallback can read is a SifError naming the file', () => {
    const garbage = join(mkdtempSync(join(tmpdir(), 'sif-elf-cache-')), 'ld.so.cache');
    writeFileSync(garbage, 'not a cache at all');
    expect(() => hostLibraryAccess({ ldCachePath: garbage }).ldCache()).toThrow(
      expect.objectContaining({ code: 'SIF_E_LD_CACHE_INVALID', message: `${garbage}: not a usable ld.so.cache: no ld.so.cache magic number` }),
    );
    rmSync(dirname(garbage), { recursive: true, force: true });
  });

  it('reads /etc/ld.so.cache as ldconfig -p prints it', () => {
    const text = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
    const strip = (e: { soname: string; path: string; flags: number }) => `${e.soname} ${e.flags.toString(16)} ${e.path}`;
    expect(host.ldCache().map(strip)).toEqual(parseLdconfigPrint(text, 62).map(strip));
    expect(host.ldCache().length).toBe(Number(/^(\d+) libs found/.exec(text)![1]));
  });
});
