/**
 * The host closure of --mpi kept between starts: it is the same for every rank of a
 * node and every step of a job, and reading ~200 host ELF headers for it is most of
 * what --mpi costs a start. An entry is used only while every file and directory it
 * was computed from is unchanged (size, mtime, inode), the host's ld.so.cache and the
 * LD_LIBRARY_PATH directories included; otherwise it is computed again and replaced.
 * It lives in a directory only the user can enter ($XDG_RUNTIME_DIR/sif, else
 * /tmp/sif-<uid>), since what it says is bound into containers.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { HostClosure } from './host-closure.js';

const FORMAT = 1;

interface Stamp {
  path: string;
  /** size:mtimeMs:ino, or '-' for absent. */
  id: string;
}

function stampOf(path: string): string {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? `${s.size}:${s.mtimeMs}:${s.ino}` : '-';
}

/** The cache directory, made 0700 if need be; undefined when it is not the user's own alone. */
function cacheDir(env: Record<string, string>, uid: number): string | undefined {
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

/** The stamps of what a closure was computed from. */
function stampsFor(closure: HostClosure, env: Record<string, string>): Stamp[] {
  const paths = new Set<string>(['/etc/ld.so.cache']);
  for (const l of closure.libraries) paths.add(l.src);
  for (const o of closure.objects) paths.add(o.path);
  for (const d of closure.dirs) paths.add(d.path);
  for (const d of (env.LD_LIBRARY_PATH ?? '').split(':')) if (d.startsWith('/')) paths.add(d);
  return [...paths].map((path) => ({ path, id: stampOf(path) }));
}

export function cachedHostClosure(
  starts: ReadonlyArray<{ path: string; names: string[] }>,
  env: Record<string, string>,
  uid: number,
  compute: () => HostClosure,
): HostClosure {
  const dir = cacheDir(env, uid);
  if (!dir) return compute();
  const key = createHash('sha256').update(JSON.stringify({ FORMAT, starts, ld: env.LD_LIBRARY_PATH ?? '' })).digest('hex').slice(0, 32);
  const file = `${dir}/mpi-closure-${key}.json`;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { format: number; stamps: Stamp[]; closure: HostClosure };
    if (saved.format === FORMAT && saved.stamps.every((s) => stampOf(s.path) === s.id)) {
      return { ...saved.closure, notes: [...saved.closure.notes, `host closure from ${file} (nothing it was read from changed)`] };
    }
  } catch {
    // none yet, or unreadable: computed below
  }
  const closure = compute();
  try {
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, stamps: stampsFor(closure, env), closure }), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // a full or read-only directory only costs the next start the reading
  }
  return closure;
}
