/**
 * Content-addressed blob cache: `ROOT/blobs/<alg>/<hex>`, as in an OCI layout.
 * A blob is only ever visible under its final name once its size and digest were
 * checked and its bytes fsynced: it is written to a temp file in the same directory
 * while hashed, then renamed. Blobs are read-only (0444) and read back through a
 * verified file handle, so a corrupted entry is caught, discarded and fetched again.
 * Safe with several builds at once: see file-lock.ts and clean().
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { SifError } from '../../errors.js';
import { parseDigest } from '../sources/verified-stream.js';
import { cacheRoot } from './cache-root.js';
import { acquireLock, lockIsLive, type HeldLock } from './file-lock.js';
import { TagIndex, type TagRecord } from './tag-index.js';
import { isTempName, tempIsLive, tempName } from './temp-files.js';
import { syncDir } from '../../host/sync-dir.js';
import { buildTimings } from '../build-timings.js';
import { GrowingBlob } from './growing-blob.js';

export interface IngestOptions {
  signal?: AbortSignal;
  /** Bytes written so far, after each chunk. */
  onBytes?: (done: number) => void;
  /** Called once the temp file is open: the blob can be read while it is written. */
  onStart?: (live: GrowingBlob) => void;
}

/** A cached blob whose bytes were just checked, held open so nothing can swap it. */
export interface VerifiedBlob {
  digest: string;
  size: number;
  /** A new stream over the whole blob each call (positional reads of one handle). */
  stream(): Readable;
  close(): Promise<void>;
}

/** All of a blob's bytes (for small ones: manifests, configs). */
export async function readAll(blob: VerifiedBlob): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of blob.stream()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface BlobInfo {
  digest: string;
  size: number;
  /** Last time a build read it (the cache refreshes mtime on use). */
  lastUsed: Date;
}

export interface CacheListing {
  root: string;
  blobs: BlobInfo[];
  tags: TagRecord[];
  totalBytes: number;
  /** Downloads in progress (or left by a crash) and their bytes so far. */
  partial: { count: number; bytes: number };
}

export interface CleanResult {
  removedBlobs: number;
  removedBytes: number;
  removedTags: number;
  /** Entries left alone because a build is writing them. */
  busy: number;
}

const ALGORITHMS = ['sha256', 'sha512'] as const;
/** Bytes of a download held in memory at most while the disk catches up. */
const WRITE_BEHIND = 16 << 20;
/** Read size of a streamed blob: big reads, few trips through the merge's reader. */
const STREAM_CHUNK = 1 << 20;

export function cacheError(e: unknown, what: string): SifError {
  if (e instanceof SifError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new SifError('SIF_E_BUILD_NO_SPACE', `no space left for the cache while ${what}`, {
      cause: e,
      hint: 'free space with `sif cache clean`, or point SIF_CACHEDIR at a larger file system',
    });
  return new SifError('SIF_E_CACHE', `cache: ${what}: ${(e as Error).message}`, {
    cause: e,
    hint: code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? 'set SIF_CACHEDIR to a directory you can write' : undefined,
  });
}

function digestMismatch(digest: string, what: string): SifError {
  return new SifError('SIF_E_BUILD_DIGEST', `blob ${digest} does not match its digest: ${what}`, {
    hint: 'the registry or the network delivered other bytes than the manifest names; the bad copy was discarded, try again',
  });
}

export class BlobCache {
  readonly tags: TagIndex;

  constructor(readonly root: string = cacheRoot()) {
    this.tags = new TagIndex(join(root, 'tags'));
  }

  pathOf(digest: string): string {
    const { algorithm, hex } = parseDigest(digest, 'cache');
    return join(this.root, 'blobs', algorithm, hex);
  }

  private lockPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest, 'cache');
    return join(this.root, 'locks', `${algorithm}-${hex}.lock`);
  }

  /** Present under its final name (with `size`, when given); not re-hashed. */
  async has(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.pathOf(digest));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  /**
   * Stores `source` as `digest`: hashed while written to a temp file, checked
   * against `size` and `digest`, fsynced, then renamed. On any failure (mismatch:
   * SIF_E_BUILD_DIGEST; abort; I/O) the temp file is removed and nothing is cached.
   * Returns the blob still open (the caller closes it), so a concurrent clean
   * cannot take it away between the rename and the first read. Chunks are kept
   * until written: `source` must not reuse its buffers (network chunks are fresh).
   */
  async ingest(digest: string, size: number | undefined, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: IngestOptions = {}): Promise<VerifiedBlob> {
    const { algorithm, hex } = parseDigest(digest, 'cache');
    const final = this.pathOf(digest);
    const dir = dirname(final);
    const tmp = join(dir, tempName(hex));
    let fh: FileHandle | undefined;
    let live: GrowingBlob | undefined;
    let writer: Promise<void> | undefined;
    let failure: { error: unknown } | undefined;
    try {
      await mkdir(dir, { recursive: true });
      fh = await open(tmp, 'wx+', 0o644);
      if (opts.onStart) {
        live = new GrowingBlob(digest, size, fh);
        opts.onStart(live);
      }
      const hash = createHash(algorithm);
      const file = fh;
      let done = 0;
      // Chunks are written behind the reads, gathered while a write is in flight: a
      // write per network chunk, awaited before the next read, held a download to
      // one chunk per turn of an event loop that the merge keeps busy (~30 MB/s).
      const queue: Buffer[] = [];
      let queued = 0;
      let written = 0;
      const writeQueued = async (): Promise<void> => {
        while (queue.length > 0) {
          // writev: the chunks as they came, not joined first (a copy of every byte).
          let bufs = queue.splice(0);
          const n = queued;
          queued = 0;
          for (let left = n; left > 0; ) {
            const { bytesWritten } = await file.writev(bufs, written + n - left);
            left -= bytesWritten;
            if (left > 0) bufs = unwritten(bufs, bytesWritten);
          }
          written += n;
          live?.wrote(written);
          opts.onBytes?.(written);
        }
      };
      const startWriter = (): void => {
        writer ??= writeQueued().catch((error: unknown) => {
          failure ??= { error };
        }).finally(() => {
          writer = undefined;
        });
      };
      for await (const chunk of source) {
        if (opts.signal?.aborted) throw new SifError('SIF_E_BUILD_INTERRUPTED', `download of ${digest} interrupted`);
        if (failure) throw failure.error;
        const t0 = buildTimings.on ? performance.now() : 0;
        hash.update(chunk);
        if (t0) buildTimings.add('digest', t0);
        done += chunk.length;
        if (size !== undefined && done > size) throw digestMismatch(digest, `more than the ${size} bytes its descriptor says`);
        queue.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
        queued += chunk.length;
        startWriter();
        while (queued > WRITE_BEHIND && writer) await writer; // bounded memory when the disk is slower
      }
      while (writer) await writer;
      if (failure) throw failure.error;
      if (opts.signal?.aborted) throw new SifError('SIF_E_BUILD_INTERRUPTED', `download of ${digest} interrupted`);
      if (size !== undefined && done !== size) throw digestMismatch(digest, `got ${done} bytes, the descriptor says ${size}`);
      const got = `${algorithm}:${hash.digest('hex')}`;
      if (got !== digest) throw digestMismatch(digest, `the bytes received hash to ${got}`);
      await fh.sync();
      await fh.chmod(0o444);
      await rename(tmp, final);
      await syncDir(dir);
      live?.finished();
      return verifiedBlob(digest, done, fh);
    } catch (e) {
      const err = e instanceof SifError ? e : cacheError(e, `writing blob ${digest}`);
      while (writer) await writer; // its errors are kept in failure, never thrown
      live?.finished(err); // before the handle closes, so readers report this error
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Stores small blobs (manifests, configs) held in memory. */
  async putBytes(digest: string, bytes: Uint8Array): Promise<void> {
    if (await this.has(digest, bytes.length)) return;
    await (await this.ingest(digest, bytes.length, [bytes])).close();
  }

  /**
   * Opens a cached entry and checks its size, marking it used. Null when it is not
   * cached; a wrong size discards the entry and is reported as SIF_E_BUILD_DIGEST.
   * `check` runs on the open file before it is handed over, under the same rules.
   */
  private async openEntry(digest: string, size: number | undefined, check?: (fh: FileHandle, st: Stats) => Promise<void>): Promise<{ fh: FileHandle; st: Stats } | null> {
    const path = this.pathOf(digest);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw cacheError(e, `reading ${path}`);
    }
    let st: Stats | undefined;
    try {
      st = await fh.stat();
      if (size !== undefined && st.size !== size) throw digestMismatch(digest, `the cached copy has ${st.size} bytes, expected ${size}`);
      await check?.(fh, st);
      const now = new Date();
      await fh.utimes(now, now).catch(() => undefined);
      return { fh, st };
    } catch (e) {
      await fh.close().catch(() => undefined);
      if (e instanceof SifError && e.code === 'SIF_E_BUILD_DIGEST') await this.discard(digest, st?.ino);
      throw e instanceof SifError ? e : cacheError(e, `reading ${path}`);
    }
  }

  /**
   * Opens a cached blob and checks every byte against its digest. Null when it is
   * not cached; a corrupt entry is discarded and reported as SIF_E_BUILD_DIGEST.
   */
  async openVerified(digest: string, size?: number): Promise<VerifiedBlob | null> {
    const { algorithm } = parseDigest(digest, 'cache');
    const entry = await this.openEntry(digest, size, async (fh, st) => {
      const got = await hashHandle(fh, st.size, algorithm);
      if (got !== digest) throw digestMismatch(digest, `the cached copy hashes to ${got}`);
    });
    return entry && verifiedBlob(digest, entry.st.size, entry.fh);
  }

  /**
   * Opens a cached blob to be streamed whole (layers), checking its size now and its
   * digest as each stream passes: a stream fails at its end (SIF_E_BUILD_DIGEST) when
   * the bytes do not match, and the entry is discarded. This replaces a full re-hash
   * before the merge reads the blob again (a second read of every layer on a warm
   * build); the merge fails before its output is renamed into place, so the guarantee
   * stays: every byte built from is checked. A stream stopped before its end (the
   * merge failed on bad data first) has the whole blob checked on close(), so a
   * corrupt entry never stays to fail the next build as well.
   */
  async openStreamed(digest: string, size?: number, onCorrupt?: (message: string) => void): Promise<VerifiedBlob | null> {
    const { algorithm } = parseDigest(digest, 'cache');
    const entry = await this.openEntry(digest, size);
    if (!entry) return null;
    const { fh, st } = entry;
    const { ino, size: length } = st;
    const checks: Promise<unknown>[] = [];
    let verified = false;
    let discarded = false;
    let unfinished = 0; // streams made that did not reach their end
    const corrupt = async (got: string): Promise<SifError> => {
      const err = new SifError('SIF_E_BUILD_DIGEST', `cached blob ${digest} does not match its digest: the cached copy hashes to ${got}`, {
        hint: 'the bad copy was discarded; build again to download it',
      });
      if (!discarded) {
        discarded = true;
        const gone = this.discard(digest, ino).catch(() => undefined);
        checks.push(gone); // close() waits for it
        await gone;
        onCorrupt?.(`cached blob ${digest} was corrupt and has been discarded`);
      }
      return err;
    };
    let closed = false;
    return {
      digest,
      size: length,
      stream: () => {
        unfinished++;
        async function* read(): AsyncGenerator<Buffer> {
          const hash = createHash(algorithm);
          for (let pos = 0; pos < length; ) {
            const buf = Buffer.allocUnsafe(Math.min(STREAM_CHUNK, length - pos));
            const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) break; // shorter than at open: the digest says so below
            const t0 = buildTimings.on ? performance.now() : 0;
            hash.update(buf.subarray(0, bytesRead));
            if (t0) buildTimings.add('digest', t0);
            pos += bytesRead;
            yield buf.subarray(0, bytesRead);
          }
          unfinished--;
          const got = `${algorithm}:${hash.digest('hex')}`;
          if (got !== digest) throw await corrupt(got);
          verified = true;
        }
        return Readable.from(read(), { objectMode: false });
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (unfinished > 0 && !verified && !discarded) {
          // A read stopped before its end (the merge failed first): check the whole blob now.
          const got = await hashHandle(fh, length, algorithm).catch(() => digest);
          if (got !== digest) await corrupt(got);
        }
        await Promise.all(checks);
        await fh.close().catch(() => undefined);
      },
    };
  }

  /** A small blob's bytes, verified; null when not cached. */
  async readBytes(digest: string, size?: number): Promise<Buffer | null> {
    const blob = await this.openVerified(digest, size);
    if (!blob) return null;
    try {
      return await readAll(blob);
    } finally {
      await blob.close();
    }
  }

  /**
   * Removes a cached blob. With `ino`, only if the name still points at that file:
   * another build may have replaced a bad copy with a good one meanwhile.
   */
  async discard(digest: string, ino?: number): Promise<void> {
    const path = this.pathOf(digest);
    if (ino !== undefined) {
      const st = await stat(path).catch(() => null);
      if (!st || st.ino !== ino) return;
    }
    await rm(path, { force: true });
  }

  /**
   * The right to download `digest`: waits while another process downloads it.
   * Null when the blob appeared meanwhile (nothing left to do).
   */
  async lockForDownload(digest: string, size?: number, signal?: AbortSignal): Promise<HeldLock | null> {
    const path = this.lockPath(digest);
    try {
      await mkdir(dirname(path), { recursive: true });
    } catch (e) {
      throw cacheError(e, `creating ${dirname(path)}`);
    }
    return acquireLock(path, { ...(signal ? { signal } : {}), satisfied: () => this.has(digest, size) });
  }

  async list(): Promise<CacheListing> {
    const blobs: BlobInfo[] = [];
    const partial = { count: 0, bytes: 0 };
    for (const alg of ALGORITHMS) {
      const dir = join(this.root, 'blobs', alg);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const st = await stat(join(dir, name)).catch(() => null);
        if (!st?.isFile()) continue;
        if (isTempName(name)) {
          partial.count++;
          partial.bytes += st.size;
        } else blobs.push({ digest: `${alg}:${name}`, size: st.size, lastUsed: st.mtime });
      }
    }
    blobs.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
    const tags = await this.tags.list();
    return { root: this.root, blobs, tags, totalBytes: blobs.reduce((n, b) => n + b.size, 0), partial };
  }

  /**
   * Empties the cache, except what running builds are writing: temp files of live
   * processes and blobs whose download lock is held. A build reading a blob keeps
   * its open handle; the file's data stays until that handle closes.
   */
  async clean(opts: { dryRun?: boolean } = {}): Promise<CleanResult> {
    const res: CleanResult = { removedBlobs: 0, removedBytes: 0, removedTags: 0, busy: 0 };
    const remove = async (path: string) => {
      if (!opts.dryRun) await rm(path, { force: true });
    };
    try {
      for (const alg of ALGORITHMS) {
        const dir = join(this.root, 'blobs', alg);
        for (const name of await readdir(dir).catch(() => [] as string[])) {
          const path = join(dir, name);
          const st = await stat(path).catch(() => null);
          if (!st) continue;
          const busy = isTempName(name) ? tempIsLive(name, st.mtimeMs) : await lockIsLive(this.lockPath(`${alg}:${name}`));
          if (busy) {
            res.busy++;
            continue;
          }
          await remove(path);
          if (!isTempName(name)) res.removedBlobs++;
          res.removedBytes += st.size;
        }
      }
      const tagDir = this.tags.dir;
      for (const name of await readdir(tagDir).catch(() => [] as string[])) {
        if (isTempName(name)) {
          const st = await stat(join(tagDir, name)).catch(() => null);
          if (st && tempIsLive(name, st.mtimeMs)) continue;
        } else if (name.endsWith('.json')) {
          res.removedTags++;
        }
        await remove(join(tagDir, name));
      }
      const lockDir = join(this.root, 'locks');
      for (const name of await readdir(lockDir).catch(() => [] as string[])) {
        if (!(await lockIsLive(join(lockDir, name)))) await remove(join(lockDir, name));
      }
    } catch (e) {
      throw cacheError(e, `cleaning ${this.root}`);
    }
    return res;
  }
}

/** What is left of `bufs` once their first `n` bytes were written. */
function unwritten(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < bufs.length && n >= (bufs[i] as Buffer).length) n -= (bufs[i++] as Buffer).length;
  const rest = bufs.slice(i);
  if (n > 0 && rest.length > 0) rest[0] = (rest[0] as Buffer).subarray(n);
  return rest;
}

/** The digest of a file's first `size` bytes, read through `fh`. */
async function hashHandle(fh: FileHandle, size: number, algorithm: 'sha256' | 'sha512'): Promise<string> {
  const hash = createHash(algorithm);
  const buf = Buffer.allocUnsafe(1 << 20);
  for (let pos = 0; pos < size; ) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    const t0 = buildTimings.on ? performance.now() : 0;
    hash.update(buf.subarray(0, bytesRead));
    if (t0) buildTimings.add('digest', t0);
    pos += bytesRead;
  }
  return `${algorithm}:${hash.digest('hex')}`;
}

function verifiedBlob(digest: string, size: number, fh: FileHandle): VerifiedBlob {
  let closed = false;
  return {
    digest,
    size,
    stream: () => fh.createReadStream({ start: 0, autoClose: false }),
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close().catch(() => undefined);
    },
  };
}

