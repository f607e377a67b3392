/**
 * What of the host goes into the container for its MPI: the libraries the MPI library
 * needs (DT_NEEDED, searched as the host's loader searches, the C library family left
 * to the image), the directories it opens at run time (runtime-dirs.ts), and the
 * libraries their plugins need in turn. Pure: the host comes in through MpiHostFacts.
 */
import { posix } from 'node:path';
import { isSifError } from '../errors.js';
import type { ContainerLibrary } from '../exec/launch-contribution.js';
import type { ElfInfo } from '../host/elf/elf-info.js';
import { isLibcFamily } from '../host/elf/libc-family.js';
import { type LibraryClosure, libraryClosure } from '../host/elf/library-closure.js';
import { expandSearchList } from '../host/elf/search-path.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import { pluginObjects, type RuntimeDir, runtimeDirs } from './runtime-dirs.js';

export interface HostClosure {
  /** Libraries for /.singularity.d/libs, under the names the loader looks for. */
  libraries: ContainerLibrary[];
  /** Every host object that will be loaded in the container (libraries and plugins), for the checks. */
  objects: Array<{ path: string; info: ElfInfo }>;
  /** Directories bound at the same path. */
  dirs: RuntimeDir[];
  notes: string[];
  warnings: string[];
}

/** The closure from `start`, with the host's LD_LIBRARY_PATH (`module load` sets it) and loader defaults. */
function closureOf(facts: MpiHostFacts, start: string[], first: ElfInfo): LibraryClosure {
  const defaults = facts.searchDefaults(first.machine, first.elfClass);
  const ld = facts.env.LD_LIBRARY_PATH;
  return libraryClosure(facts.libraries, {
    start,
    ...(ld ? { ldLibraryPath: ld } : {}),
    tokens: defaults.tokens,
    defaultDirs: defaults.defaultDirs,
    leaveOut: isLibcFamily,
  });
}

/**
 * `start`: the MPI library, then any other library of its family the command needs
 * (its Fortran bindings, say), each with the names it must answer to in the container.
 */
export function hostClosure(facts: MpiHostFacts, start: ReadonlyArray<{ path: string; names: string[] }>): HostClosure {
  const out: HostClosure = { libraries: [], objects: [], dirs: [], notes: [], warnings: [] };
  const first = facts.libraries.elfInfo(start[0]!.path);
  const main = closureOf(facts, start.map((s) => s.path), first);
  const named = new Set<string>();
  const bind = (src: string, name: string) => {
    if (named.has(name)) return;
    named.add(name);
    out.libraries.push({ src: facts.realPath(src) ?? src, name });
  };
  for (const s of start) for (const n of s.names) bind(s.path, n);
  for (const o of main.objects) {
    if (o.via === 'interpreter') continue;
    out.objects.push({ path: o.path, info: o.info });
    if (o.via !== 'start') bind(o.path, o.name);
  }
  for (const m of main.missing) out.warnings.push(`--mpi: the host's ${m.name}, needed by ${m.neededBy}, is not found on the host${m.reason ? ` (${m.reason})` : ''}: the MPI may fail to start`);

  // Run-time directories of what is bound, and the libraries their plugins need, which
  // may open directories of their own (mca_pml_ucx.so brings UCX, whose transports
  // are plugins too): until nothing new turns up.
  const known = new Set(main.objects.map((o) => facts.realPath(o.path) ?? o.path));
  let fresh = main.objects.filter((o) => o.via !== 'interpreter');
  const unmet = new Map<string, string[]>();
  let pluginCount = 0;
  let added = 0;
  for (let round = 0; round < 4 && fresh.length; round++) {
    const described = fresh.map((o) => {
      const list = o.info.runpath ?? o.info.rpath;
      const defaults = facts.searchDefaults(o.info.machine, o.info.elfClass);
      return { name: o.info.soname ?? o.name, realPath: facts.realPath(o.path) ?? o.path, searchDirs: list ? expandSearchList(list, posix.dirname(o.path), defaults.tokens) : [] };
    });
    const dirs = runtimeDirs(described, {
      list: (dir) => facts.libraries.listDirectory(dir),
      exists: (path) => facts.kind(path) !== undefined,
    }).filter((d) => !out.dirs.some((x) => x.path === d.path || d.path.startsWith(`${x.path}/`)));
    out.dirs.push(...dirs);
    const plugins: string[] = [];
    for (const d of dirs.filter((x) => x.plugins)) {
      for (const path of pluginObjects(d.path, facts.libraries.listDirectory(d.path) ?? [])) {
        try {
          const info = facts.libraries.elfInfo(path);
          if (info.elfClass === first.elfClass && info.machine === first.machine) plugins.push(path);
        } catch (e) {
          if (!isSifError(e)) throw e;
          out.notes.push(`skip ${path}: ${e.message}`);
        }
      }
    }
    fresh = [];
    if (!plugins.length) break;
    pluginCount += plugins.length;
    const extra = closureOf(facts, plugins, first);
    for (const o of extra.objects) {
      if (o.via === 'interpreter') continue;
      const real = facts.realPath(o.path) ?? o.path;
      if (known.has(real)) continue;
      known.add(real);
      out.objects.push({ path: o.path, info: o.info });
      if (o.via === 'start') continue;
      fresh.push(o);
      if (!named.has(o.name)) added++;
      bind(o.path, o.name);
    }
    for (const m of extra.missing) unmet.set(m.name, [...new Set([...(unmet.get(m.name) ?? []), posix.basename(m.neededBy)])]);
  }
  if (pluginCount) out.notes.push(`${pluginCount} plugins read; ${added} more libraries for them`);
  for (const [name, by] of unmet) out.notes.push(`not on the host: ${name}, needed by ${by.join(', ')} (those plugins do not load on the host either)`);
  return out;
}
