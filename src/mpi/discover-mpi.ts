/**
 * Which host MPI library --mpi binds: the site file's `mpi library`, else
 * SIF_MPI_LIBRARY, else the host's ld.so.cache (the main library of each family, the
 * family the command needs first). Pure: the host comes in through MpiHostFacts.
 */
import { SifError } from '../errors.js';
import { cacheFlagsMatch } from '../host/elf/ld-cache-flags.js';
import type { MpiHostFacts } from '../host/mpi-host-facts.js';
import type { SiteConfig } from '../host/site-config.js';
import { familyOf, FAMILY_NAMES, MAIN_SONAMES, type MpiFamily, refineFamily } from './mpi-family.js';

export const LIBRARY_VARIABLE = 'SIF_MPI_LIBRARY';
export const BIND_VARIABLE = 'SIF_MPI_BIND';

export interface HostMpi {
  /** The library's path as found (a cache entry's path may be a symlink). */
  path: string;
  soname: string;
  family: MpiFamily;
  /** How it was found, for --verbose and doctor. */
  how: string;
}

/** The way out of an ABI mismatch, for refusals and warnings. */
export const WAY_OUT_ABI = `run without --mpi to use the image's own MPI, run an image built against the host's MPI, or name a host MPI of the command's family with ${LIBRARY_VARIABLE}=PATH ('mpi library' in /etc/sif/sif.conf)`;

const WAY_OUT = `name the host's libmpi with 'mpi library = PATH' in /etc/sif/sif.conf or ${LIBRARY_VARIABLE}=PATH`;

/** The library at path, which must be an MPI library of this host's ABI. */
function explicit(facts: MpiHostFacts, path: string, how: string): HostMpi {
  if (!path.startsWith('/')) throw new SifError('SIF_E_MPI_NOT_FOUND', `--mpi: ${how} names '${path}', not an absolute path`, { hint: WAY_OUT });
  let info;
  try {
    info = facts.libraries.elfInfo(path);
  } catch (e) {
    throw new SifError('SIF_E_MPI_NOT_FOUND', `--mpi: ${how} names ${path}, which cannot be read as a library: ${(e as Error).message}`, { hint: WAY_OUT, cause: e });
  }
  const soname = info.soname ?? path.slice(path.lastIndexOf('/') + 1);
  const family = familyOf(soname);
  if (!family) {
    throw new SifError('SIF_E_MPI_NOT_FOUND', `--mpi: ${how} names ${path}, whose soname ${soname} is no MPI library sif knows (${MAIN_SONAMES.join(', ')})`, { hint: WAY_OUT });
  }
  return { path, soname, family: refineFamily(family, info.needed), how };
}

/**
 * The host's MPI. `want` is the family the command needs, when known: with several
 * MPIs installed, autodetection takes that family's. Notes hear what else was seen.
 */
export function discoverMpi(facts: MpiHostFacts, site: SiteConfig, want: MpiFamily | undefined, notes: string[]): HostMpi {
  const sitePath = facts.siteConfig().path;
  if (site.mpiLibrary) return explicit(facts, site.mpiLibrary, `'mpi library' in ${sitePath}`);
  const fromEnv = facts.env[LIBRARY_VARIABLE];
  if (fromEnv) return explicit(facts, fromEnv, LIBRARY_VARIABLE);
  const own = facts.libraries.ldCache().filter((e) => e.hwcap === 0n && cacheFlagsMatch(e.flags, 64, facts.machine));
  const found: HostMpi[] = [];
  for (const soname of MAIN_SONAMES) {
    const entry = own.find((e) => e.soname === soname);
    if (!entry) continue;
    let needed: string[] = [];
    try {
      needed = facts.libraries.elfInfo(entry.path).needed;
    } catch (e) {
      notes.push(`host ${soname} at ${entry.path} cannot be read: ${(e as Error).message}`);
      continue;
    }
    found.push({ path: entry.path, soname, family: refineFamily(familyOf(soname)!, needed), how: `host ld.so.cache entry ${soname}` });
  }
  if (found.length === 0) {
    throw new SifError('SIF_E_MPI_NOT_FOUND', `--mpi: no MPI library in the host's ld.so.cache (looked for ${MAIN_SONAMES.join(', ')})`, { hint: WAY_OUT });
  }
  const chosen = (want && found.find((f) => f.family === want)) ?? found[0]!;
  for (const f of found) if (f !== chosen) notes.push(`also on the host: ${f.soname} (${FAMILY_NAMES[f.family]}) at ${f.path}, not used`);
  return { ...chosen, how: `${chosen.how}${found.length > 1 ? (want && chosen.family === want ? ', the family the command needs' : ', the first of several') : ''}` };
}
