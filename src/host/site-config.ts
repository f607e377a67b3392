/**
 * The site file, /etc/sif/sif.conf (or the file SIF_SITE_CONFIG names): what an admin
 * tells sif about the host's NVIDIA driver and MPI. Lines `key = value`, `#` comments:
 *   nvidia lib dir = DIR     a driver outside the library cache (repeatable)
 *   nvidia bin dir = DIR     its programs, outside PATH (repeatable)
 *   mpi library = PATH       the host's libmpi (or libmpich) for --mpi
 *   mpi bind = PATH          a further host path --mpi binds at the same place (repeatable)
 *   mpi env = KEY=VALUE      a variable --mpi sets in the container (repeatable)
 * SIF_SITE_CONFIG is honoured rootless too: the file only adds what a user could bind
 * or set anyway.
 */
export const SITE_CONFIG_PATH = '/etc/sif/sif.conf';
export const SITE_CONFIG_VARIABLE = 'SIF_SITE_CONFIG';

export interface SiteConfig {
  nvidiaLibDirs: string[];
  nvidiaBinDirs: string[];
  mpiLibrary?: string;
  mpiBinds: string[];
  mpiEnv: Record<string, string>;
  /** Lines not understood, to be reported. */
  problems: string[];
  /** Keys sif does not know (Apptainer's, say): left alone, shown by `sif doctor`. */
  unknown: string[];
}

/** The site file to read: SIF_SITE_CONFIG when set, else /etc/sif/sif.conf under root (a test root, or /). */
export function siteConfigPath(env: Record<string, string | undefined>, root = ''): string {
  return env[SITE_CONFIG_VARIABLE] || `${root}${SITE_CONFIG_PATH}`;
}

const PATH_KEYS = new Set(['nvidia lib dir', 'nvidia bin dir', 'mpi library', 'mpi bind']);

export function parseSiteConfig(text: string | undefined, file = SITE_CONFIG_PATH): SiteConfig {
  const out: SiteConfig = { nvidiaLibDirs: [], nvidiaBinDirs: [], mpiBinds: [], mpiEnv: {}, problems: [], unknown: [] };
  const name = file.slice(file.lastIndexOf('/') + 1);
  for (const [i, raw] of (text ?? '').split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const at = `${name} line ${i + 1}`;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim().replace(/\s+/g, ' ');
    const value = line.slice(eq + 1).trim();
    if (eq < 0 || !value) {
      out.problems.push(`${at}: expected 'key = value', got '${raw.trim()}'`);
    } else if (PATH_KEYS.has(key) && !value.startsWith('/')) {
      out.problems.push(`${at}: '${value}' is not an absolute path`);
    } else if (key === 'nvidia lib dir') {
      out.nvidiaLibDirs.push(value);
    } else if (key === 'nvidia bin dir') {
      out.nvidiaBinDirs.push(value);
    } else if (key === 'mpi library') {
      out.mpiLibrary = value; // the last one counts
    } else if (key === 'mpi bind') {
      out.mpiBinds.push(value);
    } else if (key === 'mpi env') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(value);
      if (m) out.mpiEnv[m[1]!] = m[2]!;
      else out.problems.push(`${at}: 'mpi env' expects KEY=VALUE, got '${value}'`);
    } else {
      out.unknown.push(`${at}: '${key}'`);
    }
  }
  return out;
}
