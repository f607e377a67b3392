/**
 * What the command asks of MPI: its program is found on the container's PATH (in the
 * image, or on the host where a bind shows a host directory), read as ELF, and its
 * libraries followed through the image as the image's loader would, up to the MPI
 * libraries, whose names say the ABI family it was built for. Pure.
 */
import { posix } from 'node:path';
import { isSifError } from '../errors.js';
import type { ElfInfo } from '../host/elf/elf-info.js';
import { isLibcFamily } from '../host/elf/libc-family.js';
import { libraryClosure } from '../host/elf/library-closure.js';
import type { LibraryHost } from '../host/elf/library-host.js';
import type { SearchDefaults } from '../host/elf/search-defaults.js';
import { CONTAINER_LIB_DIR } from '../exec/launch-contribution.js';
import type { ImageLibraries } from '../image/image-libraries.js';
import { familyOf, type MpiFamily } from './mpi-family.js';

export interface MpiNeed {
  /** The DT_NEEDED name, e.g. libmpi.so.40. */
  name: string;
  family: MpiFamily;
  /** The object that needs it. */
  neededBy: string;
  /** Where the image's ld.so.cache has its own copy, if it has one. */
  inImage?: string;
  /** Needed by a module the program loads at run time (runtime-need.ts), not by the program. */
  atRunTime?: boolean;
}

export interface CommandNeed {
  /** The program read: its path in the container, where it lives, its ELF facts. */
  program?: { path: string; where: 'image' | 'host'; info: ElfInfo };
  /** Why the command could not be read: a script, not found, a library missing. */
  unreadable?: string;
  mpi: MpiNeed[];
  /** Libraries the command needs that the image lacks (other than MPI's). */
  missing: string[];
  /** The program and the image's libraries it loads (not MPI's, not the C library's). */
  objects: Array<{ path: string; info: ElfInfo }>;
}

export interface CommandContext {
  argv: readonly string[];
  env: Record<string, string>;
  cwd: string;
  hostPathOf(path: string): string | undefined;
}

export interface HostFileAccess {
  isFile(path: string): boolean;
  elfInfo(path: string): ElfInfo;
}

/** The program's path in the container and whether the image or the host holds it. */
function findProgram(ctx: CommandContext, image: ImageLibraries, host: HostFileAccess): { path: string; where: 'image' | 'host'; hostPath?: string } | string {
  const name = ctx.argv[0];
  if (!name) return 'no command';
  const at = (path: string) => {
    const hostPath = ctx.hostPathOf(path);
    if (hostPath !== undefined) return host.isFile(hostPath) ? { path, where: 'host' as const, hostPath } : undefined;
    return image.has(posix.dirname(path), posix.basename(path)) ? { path, where: 'image' as const } : undefined;
  };
  if (name.includes('/')) {
    const path = posix.resolve(ctx.cwd, name);
    return at(path) ?? `${path} is not in the container`;
  }
  for (const dir of (ctx.env.PATH ?? '').split(':')) {
    if (!dir.startsWith('/')) continue;
    const found = at(posix.join(dir, name));
    if (found) return found;
  }
  return `${name} is not on the container's PATH (${ctx.env.PATH ?? ''})`;
}

export function commandNeed(ctx: CommandContext, image: ImageLibraries, host: HostFileAccess, defaults: SearchDefaults): CommandNeed {
  const out: CommandNeed = { mpi: [], missing: [], objects: [] };
  const found = findProgram(ctx, image, host);
  if (typeof found === 'string') return { ...out, unreadable: found };
  let info: ElfInfo;
  try {
    info = found.hostPath !== undefined ? host.elfInfo(found.hostPath) : image.elfInfo(found.path);
  } catch (e) {
    if (!isSifError(e)) throw e;
    const why = e.code === 'SIF_E_ELF_INVALID' ? 'not an ELF program (a script?)' : e.message;
    return { ...out, unreadable: `${found.path} (${found.where}): ${why}` };
  }
  out.program = { path: found.path, where: found.where, info };
  // The program read from the host; its libraries from the image.
  const view: LibraryHost = {
    elfInfo: (path) => (path === found.path ? info : image.elfInfo(path)),
    listDirectory: (dir) => image.listDirectory(dir),
    ldCache: () => image.ldCache(),
  };
  const ldLibraryPath = (ctx.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d && d !== CONTAINER_LIB_DIR).join(':');
  return { ...out, ...mpiClosure(view, image, [found.path], defaults, ldLibraryPath || undefined) };
}

/**
 * The libraries that start loads, read from view (objects, without the interpreter;
 * the names found nowhere, missing), and the MPI libraries among what they need
 * (with the image's own copy of each, where its ld.so.cache has one).
 */
export function mpiClosure(
  view: LibraryHost,
  image: ImageLibraries,
  start: string[],
  defaults: SearchDefaults,
  ldLibraryPath: string | undefined,
): Pick<CommandNeed, 'mpi' | 'missing' | 'objects'> {
  const closure = libraryClosure(view, {
    start,
    ...(ldLibraryPath ? { ldLibraryPath } : {}),
    tokens: defaults.tokens,
    defaultDirs: defaults.defaultDirs,
    // MPI libraries are where the search stops: their names are the answer, and the
    // image's copies (if any) are what the host's replace.
    leaveOut: (name) => isLibcFamily(name) || familyOf(name) !== undefined,
    // The loader is the C library's, left out too: no need to inflate it out of the image.
    loadInterpreter: false,
  });
  const cache = image.ldCache();
  const mpi: MpiNeed[] = [];
  for (const l of closure.leftOut) {
    const family = familyOf(l.name);
    if (!family || mpi.some((m) => m.name === l.name)) continue;
    const own = cache.find((e) => e.soname === l.name && e.hwcap === 0n);
    mpi.push({ name: l.name, family, neededBy: l.neededBy, ...(own ? { inImage: own.path } : {}) });
  }
  return {
    mpi,
    missing: [...new Set(closure.missing.map((m) => m.name))],
    objects: closure.objects.filter((o) => o.via !== 'interpreter').map((o) => ({ path: o.path, info: o.info })),
  };
}
