/**
 * What an MPI stack opens at run time, by path, rather than through DT_NEEDED: plugin
 * directories found beside a library (Open MPI's MCA components, PMIx's, UCX's
 * transports, libfabric's and libibverbs' providers) and the help and configuration
 * files of its installation. hwloc's plugins are left out: they are optional (the
 * topology of Linux is read without them) and bring X11, OpenCL and ICU along. Each library names its own: the
 * directory is looked for beside the library's real file and in its DT_RUNPATH (Debian
 * keeps Open MPI's components in .../openmpi/lib/openmpi3, reached from the RUNPATH of
 * libopen-pal.so.40). These are bound at the same path, as the library has the path
 * compiled in. Pure: the host comes in through `look`.
 */
import { posix } from 'node:path';

export interface RuntimeDir {
  path: string;
  /** What it is, for notes. */
  what: string;
  /** A plugin directory, whose objects' libraries must be bound too. */
  plugins: boolean;
}

interface Rule {
  /** The library (soname) that opens it. */
  library: RegExp;
  what: string;
  /** Plugin directories: names of subdirectories of the library's directories (a RegExp matches several). */
  plugins?: Array<string | RegExp>;
  /** Files and directories of the installation, relative to an ancestor of the library's directory. */
  share?: string[];
  /** Absolute paths it reads (configuration). */
  fixed?: string[];
}

const RULES: Rule[] = [
  // Debian gives libmpi and libopen-rte a RUNPATH to .../openmpi/lib, not libopen-pal.
  { library: /^lib(mpi|open-rte|open-pal)\.so\.(40|80)$/, what: 'Open MPI components', plugins: [/^openmpi\d*$/], share: ['share/openmpi', 'etc/openmpi-mca-params.conf'], fixed: ['/etc/openmpi'] },
  { library: /^libpmix\.so\./, what: 'PMIx components', plugins: ['pmix'], share: ['share/pmix', 'share/pmix-mca-params.conf', 'etc/pmix-mca-params.conf'] },
  { library: /^libprrte\.so\./, what: 'PRRTE components', plugins: ['prte'], share: ['share/prte', 'etc/prte-mca-params.conf'] },
  { library: /^libucs\.so\./, what: 'UCX transports', plugins: ['ucx'], fixed: ['/etc/ucx'] },
  { library: /^libfabric\.so\./, what: 'libfabric providers', plugins: ['libfabric'] },
  { library: /^libibverbs\.so\./, what: 'libibverbs providers', plugins: ['libibverbs'], fixed: ['/etc/libibverbs.d'] },
];

export interface RuntimeDirsHost {
  /** Names in a directory, or null. */
  list(dir: string): readonly string[] | null;
  exists(path: string): boolean;
}

/** How far up from a library's directory the installation's prefix is looked for (.../openmpi/lib -> /usr). */
const PREFIX_DEPTH = 4;

/**
 * The run-time directories of the bound libraries. `libraries` are the closure's
 * objects: the soname they were loaded under, their real path and their search lists
 * already expanded ($ORIGIN and all).
 */
export function runtimeDirs(libraries: ReadonlyArray<{ name: string; realPath: string; searchDirs: readonly string[] }>, host: RuntimeDirsHost): RuntimeDir[] {
  const out: RuntimeDir[] = [];
  const add = (path: string, what: string, plugins: boolean) => {
    if (!out.some((d) => d.path === path || path.startsWith(`${d.path}/`))) out.push({ path, what, plugins });
  };
  for (const lib of libraries) {
    for (const rule of RULES.filter((r) => r.library.test(lib.name))) {
      const dirs = [...new Set([posix.dirname(lib.realPath), ...lib.searchDirs])];
      for (const dir of dirs) {
        const names = host.list(dir) ?? [];
        for (const want of rule.plugins ?? []) {
          for (const n of names.filter((x) => (typeof want === 'string' ? x === want : want.test(x)))) {
            const path = `${dir}/${n}`;
            // A plugin directory holds objects itself (Debian's .../openmpi holds only lib/ and include/).
            if (pluginObjects(path, host.list(path) ?? []).length) add(path, rule.what, true);
          }
        }
      }
      for (const rel of rule.share ?? []) {
        for (const dir of dirs) {
          let at = dir;
          for (let up = 0; up < PREFIX_DEPTH && at !== '/'; up++) {
            at = posix.dirname(at);
            const path = posix.join(at, rel);
            if (host.exists(path)) {
              add(path, `${rule.what}: ${posix.basename(rel)}`, false);
              break;
            }
          }
        }
      }
      for (const path of rule.fixed ?? []) if (host.exists(path)) add(path, `${rule.what}: configuration`, false);
    }
  }
  return out;
}

/** The objects a plugin directory holds: files named like shared objects. */
export function pluginObjects(dir: string, names: readonly string[]): string[] {
  return names.filter((n) => /\.so(\.\d+)*$/.test(n)).map((n) => `${dir}/${n}`);
}
