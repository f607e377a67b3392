/**
 * The library closure: from a set of start objects, the shared objects the dynamic
 * loader would load, found the way glibc's ld.so searches (ld.so(8), elf/dl-load.c):
 *   1. DT_RPATH of the requesting object, then of the objects that loaded it, then of the
 *      main program, but only while the requesting object has no DT_RUNPATH;
 *   2. LD_LIBRARY_PATH (given as input);
 *   3. DT_RUNPATH of the requesting object (its own direct needs only);
 *   4. the ld.so.cache (entries of the process's ABI), unless it is linked -z nodefaultlib;
 *   5. the default directories, unless -z nodefaultlib.
 * $ORIGIN, $LIB and $PLATFORM are expanded; a candidate of the wrong ELF class, byte order
 * or machine is skipped, as ld.so skips it; an object already loaded under a name or
 * soname satisfies later needs. Objects are loaded breadth first, as _dl_map_object_deps
 * does. Not modelled: glibc-hwcaps and legacy hwcap subdirectories (the base library is
 * the one every machine can load), relative search entries, secure-execution mode.
 * Pure: the host is reached through LibraryHost only.
 */
import { posix } from 'node:path';
import { isSifError } from '../../errors.js';
import { DF_1_NODEFLIB } from './elf-constants.js';
import type { ElfInfo } from './elf-info.js';
import { cacheFlagsMatch } from './ld-cache-flags.js';
import type { LibraryHost } from './library-host.js';
import { expandEntry, expandSearchList, type SearchTokens } from './search-path.js';

export type FoundVia = 'start' | 'interpreter' | 'path' | 'rpath' | 'ld_library_path' | 'runpath' | 'ld.so.cache' | 'default';

export interface ClosureObject {
  path: string;
  info: ElfInfo;
  via: FoundVia;
  /** The DT_NEEDED name it was first loaded for (the path, for start objects). */
  name: string;
  /** The object whose need loaded it (its ld.so "loader"); absent for start objects. */
  neededBy?: string;
  /** The search directory it was found in (or the cache entry's path, for the cache). */
  searchDir?: string;
}

export interface ClosureMiss {
  name: string;
  neededBy: string;
  /** Set when the search ended on a file ld.so would refuse (not only on absence). */
  reason?: string;
}

export interface ClosureSkip {
  path: string;
  name: string;
  neededBy: string;
  reason: string;
}

export interface LibraryClosure {
  /** Start objects first, then what they load, in load order. */
  objects: ClosureObject[];
  /** Needs no search satisfied. */
  missing: ClosureMiss[];
  /** Needs not searched for because leaveOut said so (e.g. the C library family). */
  leftOut: Array<{ name: string; neededBy: string }>;
  /** Candidates passed over: wrong class or machine. */
  skipped: ClosureSkip[];
}

export interface ClosureRequest {
  /** Absolute paths of the objects to start from (a program, libraries to bind); one that cannot be read is a SifError. */
  start: readonly string[];
  /** The LD_LIBRARY_PATH the loader would see; undefined when unset. */
  ldLibraryPath?: string;
  tokens: SearchTokens;
  defaultDirs: readonly string[];
  /**
   * The process's dynamic loader, taken as already loaded (it always is); defaults to
   * the main program's PT_INTERP, the main program being the first start object with one.
   */
  interpreter?: string;
  /** Needs not to search for or follow, e.g. isLibcFamily. */
  leaveOut?: (name: string) => boolean;
  /** false: the interpreter is not read (its needs are left out anyway, and reading it costs). */
  loadInterpreter?: boolean;
}

interface Loaded extends ClosureObject {
  names: Set<string>;
  loader?: Loaded;
  origin: string;
  id: string;
}

export function libraryClosure(host: LibraryHost, req: ClosureRequest): LibraryClosure {
  const result: LibraryClosure = { objects: [], missing: [], leftOut: [], skipped: [] };
  const loaded: Loaded[] = [];
  const listings = new Map<string, ReadonlySet<string> | null>();
  const idOf = (path: string): string => (host.fileId ? host.fileId(path) : path);

  const add = (path: string, info: ElfInfo, via: FoundVia, name: string, loader?: Loaded, searchDir?: string): Loaded => {
    const obj: Loaded = { path, info, via, name, names: new Set([name, path]), origin: posix.dirname(path), id: idOf(path) };
    if (loader) {
      obj.loader = loader;
      obj.neededBy = loader.path;
    }
    if (searchDir !== undefined) obj.searchDir = searchDir;
    if (info.soname) obj.names.add(info.soname);
    loaded.push(obj);
    return obj;
  };

  for (const path of req.start) {
    if (loaded.some((l) => l.names.has(path))) continue;
    add(path, host.elfInfo(path), 'start', path);
  }
  const first = loaded[0];
  if (!first) return result;
  const main = loaded.find((l) => l.info.interpreter !== undefined);
  const interp = req.interpreter ?? main?.info.interpreter;
  if (interp && req.loadInterpreter !== false && !loaded.some((l) => l.names.has(interp))) {
    try {
      add(interp, host.elfInfo(interp), 'interpreter', interp);
    } catch (e) {
      if (!isSifError(e)) throw e;
    }
  }
  const abi = { elfClass: first.info.elfClass, byteOrder: first.info.byteOrder, machine: first.info.machine };
  const llp = req.ldLibraryPath === undefined ? [] : expandSearchList(req.ldLibraryPath, main?.origin, req.tokens, /[:;]/);
  const cache = host.ldCache().filter((e) => e.hwcap === 0n && cacheFlagsMatch(e.flags, abi.elfClass, abi.machine));

  const listing = (dir: string): ReadonlySet<string> | null => {
    let l = listings.get(dir);
    if (l === undefined) {
      const names = host.listDirectory(dir);
      l = names ? new Set(names) : null;
      listings.set(dir, l);
    }
    return l;
  };

  /** ld.so's open_verify: ok, skip (wrong class or machine), or a fault that ends the search. */
  type Verdict = { ok: ElfInfo } | { skip: string } | { fault: string };
  const verify = (path: string): Verdict => {
    let info: ElfInfo;
    try {
      info = host.elfInfo(path);
    } catch (e) {
      if (!isSifError(e)) throw e;
      return { fault: e.message };
    }
    if (info.elfClass !== abi.elfClass) return { skip: `ELF class ${info.elfClass}, not ${abi.elfClass}` };
    if (info.machine !== abi.machine) return { skip: `machine ${info.machineName}, not ${first.info.machineName}` };
    if (info.byteOrder !== abi.byteOrder) return { fault: `${path}: byte order ${info.byteOrder}, not ${abi.byteOrder}` };
    return { ok: info };
  };

  const findLoaded = (name: string, path?: string): Loaded | undefined => {
    const byName = loaded.find((l) => l.names.has(name));
    if (byName || path === undefined) return byName;
    const id = idOf(path);
    return loaded.find((l) => l.id === id);
  };

  /** Loads name for requester, or records why it could not. */
  const load = (name: string, requester: Loaded): void => {
    const already = findLoaded(name);
    if (already) {
      already.names.add(name);
      return;
    }
    const attempt = (path: string, via: FoundVia, searchDir: string | undefined): 'found' | 'next' | 'fault' => {
      const v = verify(path);
      if ('skip' in v) {
        result.skipped.push({ path, name, neededBy: requester.path, reason: v.skip });
        return 'next';
      }
      if ('fault' in v) {
        result.missing.push({ name, neededBy: requester.path, reason: v.fault });
        return 'fault';
      }
      const same = findLoaded(name, path);
      if (same) same.names.add(name);
      else add(path, v.ok, via, name, requester, searchDir);
      return 'found';
    };
    const inDirs = (dirs: readonly string[], via: FoundVia): 'found' | 'next' | 'fault' => {
      for (const dir of dirs) {
        if (!listing(dir)?.has(name)) continue;
        const r = attempt(`${dir === '/' ? '' : dir}/${name}`, via, dir);
        if (r !== 'next') return r;
      }
      return 'next';
    };

    if (name.includes('/')) {
      const path = expandEntry(name, requester.origin, req.tokens);
      if (path && listing(posix.dirname(path))?.has(posix.basename(path)) && attempt(path, 'path', undefined) !== 'next') return;
      if (!result.missing.some((m) => m.name === name && m.neededBy === requester.path)) result.missing.push({ name, neededBy: requester.path });
      return;
    }

    const steps: Array<() => 'found' | 'next' | 'fault'> = [];
    if (requester.info.runpath === undefined) {
      steps.push(() => {
        const seen = new Set<Loaded>();
        for (let l: Loaded | undefined = requester; l; l = l.loader) {
          seen.add(l);
          // ld.so ignores an object's DT_RPATH when it also has DT_RUNPATH.
          if (l.info.rpath === undefined || l.info.runpath !== undefined) continue;
          const r = inDirs(expandSearchList(l.info.rpath, l.origin, req.tokens), 'rpath');
          if (r !== 'next') return r;
        }
        if (main && !seen.has(main) && main.info.rpath !== undefined && main.info.runpath === undefined) {
          return inDirs(expandSearchList(main.info.rpath, main.origin, req.tokens), 'rpath');
        }
        return 'next';
      });
    }
    steps.push(() => inDirs(llp, 'ld_library_path'));
    if (requester.info.runpath !== undefined) {
      const runpath = requester.info.runpath;
      steps.push(() => inDirs(expandSearchList(runpath, requester.origin, req.tokens), 'runpath'));
    }
    if (!(requester.info.flags1 & DF_1_NODEFLIB)) {
      steps.push(() => {
        const entry = cache.find((e) => e.soname === name);
        return entry ? attempt(entry.path, 'ld.so.cache', entry.path) : 'next';
      });
      steps.push(() => inDirs(req.defaultDirs, 'default'));
    }
    for (const step of steps) {
      const r = step();
      if (r !== 'next') return;
    }
    result.missing.push({ name, neededBy: requester.path });
  };

  // Breadth first: each object's needs in order, new objects appended to the queue.
  for (let i = 0; i < loaded.length; i++) {
    const obj = loaded[i]!;
    if (obj.via === 'interpreter') continue;
    for (const name of obj.info.needed) {
      if (req.leaveOut?.(name)) {
        result.leftOut.push({ name, neededBy: obj.path });
        continue;
      }
      load(name, obj);
    }
  }
  result.objects = loaded.map(({ path, info, via, name, neededBy, searchDir }) => ({
    path,
    info,
    via,
    name,
    ...(neededBy === undefined ? {} : { neededBy }),
    ...(searchDir === undefined ? {} : { searchDir }),
  }));
  return result;
}
