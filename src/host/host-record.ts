/**
 * Records what a computation read of the host: every path it stat'ed, listed, resolved
 * or read through MpiHostFacts, and every variable it looked up. What --mpi keeps for
 * the next start (src/mpi/stamped-cache.ts) is valid while all of these are unchanged,
 * so nothing it depends on can be forgotten by hand.
 */
import { multiarchTriplet } from './elf/search-defaults.js';
import { fileStamp } from './file-stamp.js';
import type { MpiHostFacts } from './mpi-host-facts.js';
import { siteConfigPath } from './site-config.js';

export interface HostRecord {
  /**
   * Paths the result depends on, with their identity (file-stamp.ts) when first seen,
   * before they were read: a file changed while it was read then differs next time.
   */
  paths: Map<string, string>;
  /** Variables looked up, and the value each had (undefined: unset). */
  vars: Map<string, string | undefined>;
  /** Set when something listed the whole environment: no single variable says what mattered. */
  wholeEnvironment: boolean;
}

export function emptyRecord(): HostRecord {
  return { paths: new Map(), vars: new Map(), wholeEnvironment: false };
}

/** Adds what `from` saw to `into` (a path keeps the identity seen first). */
export function mergeRecord(into: HostRecord, from: HostRecord): void {
  for (const [path, id] of from.paths) if (!into.paths.has(path)) into.paths.set(path, id);
  for (const [name, value] of from.vars) into.vars.set(name, value);
  into.wholeEnvironment ||= from.wholeEnvironment;
}

/** The environment, with each variable read noted in `record`. */
export function recordingEnv(env: Record<string, string>, record: HostRecord): Record<string, string> {
  return new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') record.vars.set(key, target[key]);
      return Reflect.get(target, key);
    },
    has(target, key) {
      if (typeof key === 'string') record.vars.set(key, target[key]);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      record.wholeEnvironment = true;
      return Reflect.ownKeys(target);
    },
  });
}

/** The same facts, with each path asked about noted in `record` (a resolved path's target too). */
export function recordingHost(facts: MpiHostFacts, record: HostRecord, stamp: (path: string) => string = fileStamp): MpiHostFacts {
  const saw = (path: string) => {
    if (!record.paths.has(path)) record.paths.set(path, stamp(path));
  };
  const libs = facts.libraries;
  const env = recordingEnv(facts.env, record);
  return {
    env,
    siteConfig: () => {
      // Which file it is depends on SIF_SITE_CONFIG: noted through env.
      saw(siteConfigPath(env));
      const s = facts.siteConfig();
      saw(s.path);
      return s;
    },
    libraries: {
      elfInfo: (path) => (saw(path), libs.elfInfo(path)),
      listDirectory: (dir) => (saw(dir), libs.listDirectory(dir)),
      // The loader's cache: which file is an implementation detail of the facts; the real one is /etc/ld.so.cache.
      ldCache: () => (saw('/etc/ld.so.cache'), libs.ldCache()),
      ...(libs.fileId ? { fileId: (path: string) => (saw(path), libs.fileId!(path)) } : {}),
    },
    searchDefaults: (machine, elfClass) => {
      // The host's defaults depend on whether /lib/<triplet> exists.
      const triplet = multiarchTriplet(machine, elfClass);
      if (triplet) saw(`/lib/${triplet}`);
      return facts.searchDefaults(machine, elfClass);
    },
    machine: facts.machine,
    realPath: (path) => {
      saw(path);
      const real = facts.realPath(path);
      if (real !== undefined) saw(real);
      return real;
    },
    kind: (path) => (saw(path), facts.kind(path)),
  };
}
