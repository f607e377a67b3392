/**
 * Search path lists as ld.so reads them (DT_RPATH, DT_RUNPATH, LD_LIBRARY_PATH): split,
 * with the dynamic string tokens $ORIGIN, $LIB and $PLATFORM (and their ${...} forms)
 * expanded. Like ld.so, an entry whose $ORIGIN is unknown is dropped, and an unknown
 * token is kept as written. Relative entries (including empty ones, which ld.so reads as
 * the current directory) are dropped: they depend on the process's working directory.
 * Paths are kept as ld.so keeps them ("$ORIGIN/../lib" stays "/o/../lib"): resolving ".."
 * by text alone would be wrong where a component is a symlink.
 */

export interface SearchTokens {
  /** $LIB: "lib/x86_64-linux-gnu" on Debian x86-64, "lib64" upstream. */
  lib: string;
  /** $PLATFORM: AT_PLATFORM, e.g. "x86_64"; undefined where the kernel gives none. */
  platform?: string;
}

const TOKEN = /\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?=\/|$))/g;

/** One entry with its tokens expanded, or undefined when ld.so would drop it. */
export function expandEntry(entry: string, origin: string | undefined, tokens: SearchTokens): string | undefined {
  let dropped = false;
  const out = entry.replace(TOKEN, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare;
    const value = name === 'ORIGIN' ? origin : name === 'LIB' ? tokens.lib : tokens.platform;
    if (value === undefined) dropped = true;
    return value ?? whole;
  });
  if (dropped || !out.startsWith('/')) return undefined;
  // ld.so removes trailing slashes, nothing else.
  const trimmed = out.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/**
 * A list's directories in order. DT_RPATH and DT_RUNPATH separate with ':';
 * LD_LIBRARY_PATH with ':' or ';' (as glibc's _dl_init_paths).
 */
export function expandSearchList(list: string, origin: string | undefined, tokens: SearchTokens, separators = /:/): string[] {
  const out: string[] = [];
  for (const entry of list.split(separators)) {
    const dir = expandEntry(entry, origin, tokens);
    if (dir !== undefined && !out.includes(dir)) out.push(dir);
  }
  return out;
}
