// A made-up host and image for the --mpi planners: a file table of paths holding ELF
// facts, plain files, directories, sockets or device nodes. Listings follow from the
// paths (intermediate directories included); nothing is read from this machine.
import { posix } from 'node:path';
import { SifError } from '../../../src/errors.js';
import type { ElfInfo } from '../../../src/host/elf/elf-info.js';
import type { LdCacheEntry } from '../../../src/host/elf/ld-so-cache.js';
import { searchDefaults } from '../../../src/host/elf/search-defaults.js';
import type { MpiHostFacts, PathKind } from '../../../src/host/mpi-host-facts.js';
import type { ImageLibraries } from '../../../src/image/image-libraries.js';
import { so } from '../host/elf/fake-library-host.js';

export { so };
export type Entry = ElfInfo | PathKind;
export type Tree = Record<string, Entry>;

const MULTIARCH = '/usr/lib/x86_64-linux-gnu';

function listing(tree: Tree, dir: string): string[] | null {
  const d = posix.normalize(dir).replace(/\/$/, '') || '/';
  const names = new Set<string>();
  for (const p of Object.keys(tree)) {
    if (!p.startsWith(d === '/' ? '/' : `${d}/`)) continue;
    names.add(p.slice(d === '/' ? 1 : d.length + 1).split('/')[0]!);
  }
  return names.size || tree[d] === 'dir' ? [...names].sort() : null;
}

function kindOf(tree: Tree, path: string): PathKind | undefined {
  const e = tree[path];
  if (e !== undefined) return typeof e === 'string' ? e : 'file';
  return listing(tree, path) ? 'dir' : undefined;
}

function elfOf(tree: Tree, path: string, where: string): ElfInfo {
  const e = tree[posix.normalize(path)];
  if (e === undefined) throw new SifError('SIF_E_ELF_UNREADABLE', `${where}${path}: cannot open: ENOENT`);
  if (typeof e === 'string') throw new SifError('SIF_E_ELF_INVALID', `${where}${path}: not a usable ELF object: bad magic`);
  return e;
}

/** Cache entries (x86-64, libc6) for every ELF object of the tree under `dirs`, by soname. */
export function cacheOf(tree: Tree, dirs: string[]): LdCacheEntry[] {
  return Object.entries(tree)
    .filter(([p, e]) => typeof e !== 'string' && dirs.includes(posix.dirname(p)) && e.soname)
    .map(([p, e]) => ({ soname: (e as ElfInfo).soname!, path: p, flags: 0x0303, hwcap: 0n }));
}

export function fakeMpiHost(tree: Tree, opts: { env?: Record<string, string>; site?: string; cache?: LdCacheEntry[] } = {}): MpiHostFacts & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    env: opts.env ?? {},
    siteConfig: () => ({ path: '/etc/sif/sif.conf', ...(opts.site === undefined ? {} : { text: opts.site }) }),
    libraries: {
      elfInfo: (p) => (reads.push(p), elfOf(tree, p, '')),
      listDirectory: (d) => listing(tree, d),
      ldCache: () => opts.cache ?? cacheOf(tree, [MULTIARCH, '/lib/x86_64-linux-gnu']),
    },
    searchDefaults: (m, c) => searchDefaults(m, c, true),
    machine: 62,
    realPath: (p) => (kindOf(tree, p) ? p : undefined),
    kind: (p) => kindOf(tree, p),
  };
}

export function fakeImage(tree: Tree, cache?: LdCacheEntry[]): ImageLibraries & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    elfInfo: (p) => (reads.push(p), elfOf(tree, p, 'img.sif:')),
    listDirectory: (d) => listing(tree, d),
    has: (d, n) => listing(tree, d)?.includes(n) ?? false,
    ldCache: () => cache ?? cacheOf(tree, ['/lib/x86_64-linux-gnu', MULTIARCH]),
  };
}

const GLIBC = (upTo: number): string[] => ['GLIBC_2.2.5', ...Array.from({ length: upTo - 2 }, (_, i) => `GLIBC_2.${i + 3}`)];
const needsGlibc = (...versions: string[]) => [{ file: 'libc.so.6', versions: ['GLIBC_2.2.5', ...versions], weak: [] }];

/** Debian 12's Open MPI 4.1 as installed: libraries, RUNPATH, components, help and configuration. */
export function debianOpenMpiHost(): Tree {
  const L = MULTIARCH;
  const runpath = `${L}/openmpi/lib`;
  return {
    [`${L}/libmpi.so.40`]: so({ soname: 'libmpi.so.40', needed: ['libopen-rte.so.40', 'libopen-pal.so.40', 'libm.so.6', 'libhwloc.so.15', 'libc.so.6'], runpath, versionsNeeded: [...needsGlibc('GLIBC_2.34'), { file: 'libm.so.6', versions: ['GLIBC_2.29'], weak: [] }] }),
    [`${L}/libopen-rte.so.40`]: so({ soname: 'libopen-rte.so.40', needed: ['libopen-pal.so.40', 'libz.so.1', 'libhwloc.so.15', 'libevent_core-2.1.so.7', 'libc.so.6'], runpath, versionsNeeded: needsGlibc('GLIBC_2.33') }),
    [`${L}/libopen-pal.so.40`]: so({ soname: 'libopen-pal.so.40', needed: ['libhwloc.so.15', 'libevent_core-2.1.so.7', 'libc.so.6'], runpath, versionsNeeded: needsGlibc('GLIBC_2.34') }),
    [`${L}/libhwloc.so.15`]: so({ soname: 'libhwloc.so.15', needed: ['libc.so.6'] }),
    [`${L}/libevent_core-2.1.so.7`]: so({ soname: 'libevent_core-2.1.so.7', needed: ['libc.so.6'] }),
    [`${L}/libz.so.1`]: so({ soname: 'libz.so.1', needed: ['libc.so.6'] }),
    [`${L}/libucp.so.0`]: so({ soname: 'libucp.so.0', needed: ['libucs.so.0', 'libc.so.6'] }),
    [`${L}/libucs.so.0`]: so({ soname: 'libucs.so.0', needed: ['libc.so.6'] }),
    [`${L}/libmca_common_ucx.so.40`]: so({ soname: 'libmca_common_ucx.so.40', needed: ['libucp.so.0', 'libc.so.6'] }),
    [`${L}/libmpi_mpifh.so.40`]: so({ soname: 'libmpi_mpifh.so.40', needed: ['libmpi.so.40', 'libc.so.6'] }),
    [`${L}/libc.so.6`]: so({ soname: 'libc.so.6', versionsDefined: GLIBC(36) }),
    [`${runpath}/libmpi.so`]: 'file',
    [`${runpath}/openmpi3/mca_btl_vader.so`]: so({ needed: ['libopen-pal.so.40', 'libc.so.6'] }),
    [`${runpath}/openmpi3/mca_pml_ucx.so`]: so({ needed: ['libucp.so.0', 'libmca_common_ucx.so.40', 'libc.so.6'], runpath }),
    [`${runpath}/openmpi3/mca_btl_openib.so`]: so({ needed: ['libibverbs.so.1', 'libc.so.6'] }),
    [`${L}/ucx/libuct_cma.so.0`]: so({ soname: 'libuct_cma.so.0', needed: ['libucs.so.0', 'libc.so.6'] }),
    '/usr/share/openmpi/help-mpi-api.txt': 'file',
    '/etc/openmpi/openmpi-mca-params.conf': 'file',
    '/run/munge': 'dir',
    '/dev/shm': 'dir',
    '/dev/infiniband/uverbs0': 'char',
    '/dev/hfi1_0': 'char',
    '/dev/null': 'char',
  };
}

/** A Debian image: its C library (glibc 2.`glibc`), a program built against `mpi`, a shell script. */
export function debianImage(glibc = 36, programs: Record<string, string[]> = { '/opt/mpi/hello': ['libmpi.so.40', 'libc.so.6'] }): Tree {
  const tree: Tree = {
    '/lib/x86_64-linux-gnu/libc.so.6': so({ soname: 'libc.so.6', versionsDefined: GLIBC(glibc) }),
    '/lib/x86_64-linux-gnu/libm.so.6': so({ soname: 'libm.so.6', versionsDefined: GLIBC(glibc) }),
    '/lib64/ld-linux-x86-64.so.2': so({ soname: 'ld-linux-x86-64.so.2' }),
    '/usr/bin/run.sh': 'file',
    '/usr/bin/true': so({ type: 'executable', interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libc.so.6'] }),
  };
  for (const [path, needed] of Object.entries(programs)) tree[path] = so({ type: 'executable', interpreter: '/lib64/ld-linux-x86-64.so.2', needed });
  return tree;
}
