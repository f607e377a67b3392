import type { MountOp } from './mount-ops.js';

/** Where --nv and --mpi put host libraries in the container (Apptainer's directory). */
export const CONTAINER_LIB_DIR = '/.singularity.d/libs';

/** A host library bound read-only into CONTAINER_LIB_DIR under `name` (its soname, usually). */
export interface ContainerLibrary {
  src: string;
  name: string;
}

/**
 * What an option that reaches into the host (--nv, --mpi) adds to a launch. The
 * libraries share one directory, made once whoever asks for it.
 */
export interface LaunchContribution {
  /** Libraries for CONTAINER_LIB_DIR. */
  libraries: ContainerLibrary[];
  /**
   * Where CONTAINER_LIB_DIR goes on LD_LIBRARY_PATH: 'last' (Apptainer's place, after
   * the image's own directories) or 'first', for libraries that must replace the
   * image's copies (the host's MPI). One 'first' puts the directory first for all.
   */
  libraryOrder: 'first' | 'last';
  /**
   * Directories of the contribution's own (made by its ops) that go on LD_LIBRARY_PATH
   * right after CONTAINER_LIB_DIR: --nv --compat32's 32-bit set.
   */
  libraryDirsAfter?: string[];
  /** Other operations (binds, device nodes, files, links: also into CONTAINER_LIB_DIR). */
  ops: MountOp[];
  /** Variables to set in the container. */
  env: Record<string, string>;
  /** What the user should hear. */
  warnings: string[];
}

/** What a contribution is computed from: the container's environment and command as planned so far. */
export interface ContributionContext {
  env: Record<string, string>;
  argv: readonly string[];
  /** The container's working directory, for a relative command. */
  cwd: string;
  /** The host path that a container path shows, when a bind covers it (the cwd, home, /tmp, --bind). */
  hostPathOf(path: string): string | undefined;
}

export type Contributor = (ctx: ContributionContext) => LaunchContribution;

export interface CombinedContribution {
  ops: MountOp[];
  env: Record<string, string>;
  warnings: string[];
  /** CONTAINER_LIB_DIR must come first on LD_LIBRARY_PATH, also after the image's env scripts. */
  librariesFirst: boolean;
}

function isInLibDir(path: string): boolean {
  return path.startsWith(`${CONTAINER_LIB_DIR}/`);
}

/**
 * LD_LIBRARY_PATH with the library directory placed as asked (moved, if it is already
 * there), and `after` right behind it.
 */
export function withLibraryDir(ld: string | undefined, first: boolean, after: readonly string[] = []): string {
  const ours = [CONTAINER_LIB_DIR, ...after];
  const rest = (ld ?? '').split(':').filter((d) => d !== '' && !ours.includes(d));
  return (first ? [...ours, ...rest] : [...rest, ...ours]).join(':');
}

/**
 * The contributions as one: a tmpfs at CONTAINER_LIB_DIR when anything goes there (the
 * image may lack the directory or hold files in it; a tmpfs is the container's own,
 * so the starter can make each file's mount point without changing the image), each
 * library bound read-only under its name (the first contribution to name one wins),
 * then every other operation in order, and the directory placed on LD_LIBRARY_PATH.
 */
export function combineContributions(parts: readonly LaunchContribution[], containerEnv: Record<string, string>): CombinedContribution {
  const ops: MountOp[] = [];
  const env: Record<string, string> = {};
  const warnings: string[] = [];
  const named = new Map<string, string>();
  const libraryOps: MountOp[] = [];
  for (const p of parts) {
    for (const lib of p.libraries) {
      const before = named.get(lib.name);
      if (before !== undefined) {
        if (before !== lib.src) warnings.push(`${CONTAINER_LIB_DIR}/${lib.name}: ${before} is bound there, not ${lib.src}`);
        continue;
      }
      named.set(lib.name, lib.src);
      libraryOps.push({ op: 'bind', src: lib.src, dst: `${CONTAINER_LIB_DIR}/${lib.name}`, readonly: true });
    }
  }
  const others = parts.flatMap((p) => p.ops);
  const libDirUsed = libraryOps.length > 0 || others.some((o) => isInLibDir(o.dst));
  if (libDirUsed) ops.push({ op: 'tmpfs', dst: CONTAINER_LIB_DIR, mode: 0o755 });
  ops.push(...libraryOps, ...others);
  for (const p of parts) Object.assign(env, p.env);
  for (const w of parts.flatMap((p) => p.warnings)) if (!warnings.includes(w)) warnings.push(w);
  const librariesFirst = libDirUsed && parts.some((p) => p.libraryOrder === 'first' && p.libraries.length > 0);
  const after = [...new Set(parts.flatMap((p) => p.libraryDirsAfter ?? []))];
  if (libDirUsed) {
    const ld = env.LD_LIBRARY_PATH ?? containerEnv.LD_LIBRARY_PATH;
    const dirs = ld?.split(':') ?? [];
    // The image's env scripts add the directory last too; a plain image has none.
    if (librariesFirst || !ld || !dirs.includes(CONTAINER_LIB_DIR) || after.some((d) => !dirs.includes(d))) {
      env.LD_LIBRARY_PATH = withLibraryDir(ld, librariesFirst, after);
    }
  }
  return { ops, env, warnings, librariesFirst };
}
