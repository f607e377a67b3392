/**
 * Advisory lock files created with O_EXCL, holding `PID HOST`. Node has no flock(),
 * and O_EXCL creation also works on the NFS home directories where HPC caches often
 * live. The holder refreshes the file's mtime; a lock is stale when its process is
 * gone (same host) or its mtime stopped moving (any host).
 *
 * The cache uses these locks only so that concurrent builds do not download the
 * same blob twice: correctness never depends on them (every blob is written to its
 * own temp file and renamed into place), so the rare race where two waiters both
 * break the same stale lock costs at worst a duplicate download.
 */
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { SifError } from '../../errors.js';

export interface LockOptions {
  signal?: AbortSignal;
  /** A lock whose mtime is older than this is stale (ms). */
  staleMs?: number;
  /** Checked while waiting: when true, waiting ends without the lock. */
  satisfied?: () => Promise<boolean>;
}

export interface HeldLock {
  release(): Promise<void>;
}

export const DEFAULT_STALE_MS = 60_000;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface LockOwner {
  pid: number;
  host: string;
}

export function parseOwner(text: string): LockOwner | null {
  const m = /^(\d+) (\S+)/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2]! } : null;
}

/** Whether the lock at `path` belongs to a live holder; false when absent or stale. */
export async function lockIsLive(path: string, staleMs = DEFAULT_STALE_MS): Promise<boolean> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const owner = parseOwner(text);
    if (Date.now() - st.mtimeMs > staleMs) return false;
    if (owner && owner.host === hostname()) return processAlive(owner.pid);
    // Another host, or a lock still being written: trust its fresh mtime.
    return true;
  } catch {
    return false;
  }
}

function interrupted(): SifError {
  return new SifError('SIF_E_BUILD_INTERRUPTED', 'interrupted while waiting for another build to download a blob');
}

/**
 * Takes the lock at `path`, waiting while a live holder has it. Resolves null when
 * `satisfied()` turns true while waiting (the other holder did the work).
 */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock | null> {
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  let pause = 50;
  for (;;) {
    if (opts.signal?.aborted) throw interrupted();
    try {
      const fh = await open(path, 'wx', 0o644);
      await fh.writeFile(`${process.pid} ${hostname()}\n`);
      await fh.close();
      return heldLock(path, staleMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (!(await lockIsLive(path, staleMs))) {
      await rm(path, { force: true });
      continue;
    }
    if (opts.satisfied && (await opts.satisfied())) return null;
    try {
      await sleep(pause, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      throw interrupted();
    }
    pause = Math.min(pause * 2, 1000);
  }
}

function heldLock(path: string, staleMs: number): HeldLock {
  // Keep the mtime fresh so waiters on other hosts do not think we died.
  const beat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, Math.max(staleMs / 4, 50));
  beat.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      await rm(path, { force: true });
    },
  };
}
