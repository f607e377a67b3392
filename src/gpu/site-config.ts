/**
 * The --nv settings of the site file /etc/sif/sif.conf: lines `key = value`, `#`
 * comments. `nvidia lib dir = DIR` and `nvidia bin dir = DIR` (each repeatable) name
 * where a driver outside the library cache and PATH lives (/usr/local/nvidia/lib64, say).
 */
export interface NvidiaSiteConfig {
  libDirs: string[];
  binDirs: string[];
  /** Lines not understood, to be reported. */
  problems: string[];
}

export function parseSiteConfig(text: string | undefined): NvidiaSiteConfig {
  const out: NvidiaSiteConfig = { libDirs: [], binDirs: [], problems: [] };
  for (const [i, raw] of (text ?? '').split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim().replace(/\s+/g, ' ');
    const value = line.slice(eq + 1).trim();
    if (eq < 0 || !value) {
      out.problems.push(`sif.conf line ${i + 1}: expected 'key = value', got '${raw.trim()}'`);
    } else if (key === 'nvidia lib dir' || key === 'nvidia bin dir') {
      if (!value.startsWith('/')) out.problems.push(`sif.conf line ${i + 1}: '${value}' is not an absolute path`);
      else (key === 'nvidia lib dir' ? out.libDirs : out.binDirs).push(value);
    }
    // Other keys belong to other features.
  }
  return out;
}
