/**
 * Where --mpi keeps what it worked out for the next start ($XDG_RUNTIME_DIR/sif, else
 * /tmp/sif-<uid>), and how: what a cache says is bound into containers, so only a
 * directory and files the user alone owns and may write are used.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

/** The cache directory, made 0700 if need be; undefined when it is not the user's own alone. */
export function userCacheDir(env: Record<string, string | undefined>, uid: number): string | undefined {
  const dir = env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/sif` : `/tmp/sif-${uid}`;
  try {
    // Not recursive: Node's recursive mkdir can spin forever where the parent refuses (/proc).
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    const s = lstatSync(dir);
    if (!s.isDirectory() || s.uid !== uid || (s.mode & 0o077) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/**
 * The text of a cache file, when it is a regular file of the user's that no one else may
 * write (a file put there by another user, or through a symlink, is not read).
 */
export function readOwnFile(path: string, uid: number): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const s = fstatSync(fd);
    if (!s.isFile() || s.uid !== uid || (s.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes a cache file whole (a reader sees the old one or the new one), mode 0600; failures cost only the next start. */
export function writeOwnFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch {
    // a full or read-only directory, or a leftover temporary file: nothing cached this time
  }
}

/**
 * A file name for a cache entry's key text: two FNV-1a hashes, 64 bits in all. Not a
 * guard (an entry is checked against everything it was made from, so a collision only
 * costs a computation); node:crypto would cost ~20 ms to load where nothing else has.
 */
export function cacheKey(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** Removes the oldest files named `prefix...` in dir beyond the newest `keep` (after a write: not on the way of a start that only reads). */
export function pruneEntries(dir: string, prefix: string, keep: number): void {
  try {
    const names = readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.json'));
    if (names.length <= keep) return;
    const aged = names.map((n) => ({ n, t: statSync(`${dir}/${n}`, { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => b.t - a.t);
    for (const { n } of aged.slice(keep)) unlinkSync(`${dir}/${n}`);
  } catch {
    // another start pruned them first, or the directory went: nothing to do
  }
}
