/**
 * What MPI a command may load at run time when its program needs no MPI library
 * itself: Python loads mpi4py's extension module, a plugin host dlopens an MPI-linked
 * module, a script starts programs; none of it shows in the program's DT_NEEDED. The
 * image is asked two things, in this order:
 *   1. modules beside the program: the shared objects in its own directory (an
 *      application's, not a system directory's), followed through the image as the
 *      program's libraries are. An MPI library one of them needs is a need like the
 *      program's own, checked as strictly.
 *   2. the image's own MPI libraries (its ld.so.cache, the main library of each
 *      family): what the image's packages were built against (Debian's python3-mpi4py
 *      brings libopenmpi3). Weaker evidence: the image may hold an MPI it does not use,
 *      so runTimeVerdict warns where it differs from the host's, and does not refuse.
 * Pure: the image comes in as ImageLibraries.
 */
import { posix } from 'node:path';
import { isSifError } from '../errors.js';
import type { ElfInfo } from '../host/elf/elf-info.js';
import type { SearchDefaults } from '../host/elf/search-defaults.js';
import type { ImageLibraries } from '../image/image-libraries.js';
import { type MpiNeed, mpiClosure } from './command-need.js';
import { type HostMpi, WAY_OUT_ABI } from './discover-mpi.js';
import { FAMILY_NAMES, familyOf, MAIN_SONAMES } from './mpi-family.js';

/** Directories of the system's programs: what lies beside those is not theirs alone. */
const SYSTEM_DIRS = new Set(['/bin', '/sbin', '/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);

/** At most this many modules are read beside a program (a few blocks of the image each). */
const MAX_MODULES = 32;

/** Interpreters whose programs load modules at run time, where an unchecked MPI matters most. */
const INTERPRETER = /^(python[0-9.]*|pypy[0-9.]*|perl[0-9.]*|ruby[0-9.]*|R|Rscript|julia|lua[0-9.]*|java|node)$/;

export interface ModuleNeeds {
  /** MPI libraries the modules need (neededBy: the module, or a library it loads). */
  mpi: MpiNeed[];
  /** The modules and the image's libraries they load, for the version checks. */
  objects: Array<{ path: string; info: ElfInfo }>;
  /** The modules read. */
  modules: string[];
}

const isModuleName = (name: string) => /\.so(\.\d+)*$/.test(name);

/** The MPI needs of the shared objects beside an image program (step 1). */
export function modulesBeside(program: string, image: ImageLibraries, defaults: SearchDefaults, ldLibraryPath: string | undefined): ModuleNeeds {
  const out: ModuleNeeds = { mpi: [], objects: [], modules: [] };
  const dir = posix.dirname(program);
  if (SYSTEM_DIRS.has(dir)) return out;
  const names = (image.listDirectory(dir) ?? []).filter(isModuleName).sort().slice(0, MAX_MODULES);
  for (const name of names) {
    const path = posix.join(dir, name);
    try {
      const info = image.elfInfo(path);
      if (info.type !== 'shared') continue;
    } catch (e) {
      if (!isSifError(e)) throw e;
      continue; // not ELF (a linker script, a symlink to nowhere): nothing it loads
    }
    out.modules.push(path);
  }
  if (!out.modules.length) return out;
  const { mpi, objects } = mpiClosure(image, image, out.modules, defaults, ldLibraryPath);
  return { ...out, mpi, objects };
}

/** The image's own main MPI libraries, from its ld.so.cache (step 2). */
export function imageMpiLibraries(image: ImageLibraries): MpiNeed[] {
  const out: MpiNeed[] = [];
  for (const e of image.ldCache()) {
    if (e.hwcap !== 0n || !MAIN_SONAMES.includes(e.soname) || out.some((m) => m.name === e.soname)) continue;
    out.push({ name: e.soname, family: familyOf(e.soname)!, neededBy: '/etc/ld.so.cache', inImage: e.path });
  }
  return out;
}

/** Whether the program is an interpreter that loads modules at run time (python3, perl, Rscript, ...). */
function isInterpreter(program: string): boolean {
  return INTERPRETER.test(posix.basename(program));
}

/**
 * The ABI verdict for a command that needs no MPI library, nor do modules beside it
 * (`what` names it; `program`: its path, when it was read): the image's own MPI says
 * what its programs and modules (mpi4py, say) were built against. A match is noted;
 * another family is a warning, not a refusal (the image may hold an MPI it does not
 * use); nothing at all is noted, and warned about for an interpreter, whose modules are
 * where such an MPI would come from.
 */
export function runTimeVerdict(what: string, program: string | undefined, imageMpi: readonly MpiNeed[], mpi: HostMpi): { notes: string[]; warnings: string[] } {
  const notes: string[] = [];
  const warnings: string[] = [];
  const same = imageMpi.find((m) => m.family === mpi.family);
  if (same) {
    notes.push(`it loads no MPI library itself; the image's own ${same.name} at ${same.inImage} (what its programs and modules load at run time) and the host's ${mpi.soname} are both ${FAMILY_NAMES[mpi.family]}: compatible, the host's comes first`);
  } else if (imageMpi.length) {
    const theirs = imageMpi.map((m) => `${m.name} at ${m.inImage}, ${FAMILY_NAMES[m.family]}`).join('; ');
    warnings.push(
      `--mpi: ${what} loads no MPI library itself, and the image's own MPI (${theirs}) is not of the host's family (${mpi.soname}, ${FAMILY_NAMES[mpi.family]}): a program or module (mpi4py, say) that loads the image's MPI at run time will not use the host's; ${WAY_OUT_ABI}`,
    );
    notes.push(`the image's own MPI is another family than the host's: ${theirs}`);
  } else {
    const text = `${what} loads no MPI library itself, nor do modules beside it, and the image holds none: an MPI it loads at run time (mpi4py, a dlopen'ed module) is not checked against the host's ${mpi.soname} (${FAMILY_NAMES[mpi.family]}); bound anyway`;
    if (program && isInterpreter(program)) warnings.push(`--mpi: ${text}`);
    else notes.push(text);
  }
  return { notes, warnings };
}
