/**
 * Writes a squashfs image from entries described one by one, through the native
 * addon native/squashfs (libsquashfs). File data is streamed: each chunk is handed
 * to libsquashfs's block processor, which compresses on its own threads; the
 * blocking calls run on the libuv pool, so the event loop keeps running.
 *
 * The image is written to a temporary name next to `path`, fsynced (unless not
 * `durable`) and renamed
 * into place by finish(); on any failure (or abort()) the temporary file is
 * removed, so `path` is either the complete image or untouched.
 *
 * Reproducible: the same entries, added in the same order with the same options,
 * give a byte-identical image (directory listings are sorted; inode numbers come
 * from the sorted tree, not from the order of the calls).
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { SifError } from '../errors.js';
import { loadAddon, nativePath } from '../native-addons.js';
import { syncDir } from '../host/sync-dir.js';

export type SquashfsCompressor = 'gzip' | 'xz' | 'lz4' | 'zstd';

export interface SquashfsWriterOptions {
  /** Default 'zstd'. */
  compressor?: SquashfsCompressor;
  /**
   * gzip 1-9, xz 0-9, zstd 1-22; lz4 has none. Default: zstd 3, for build time (the
   * python test image: zstd:19 took ten times as long for a file 14% smaller; reads
   * cost about the same), else libsquashfs's default for the compressor.
   */
  level?: number;
  /** Power of two, 4 KiB to 1 MiB. Default 128 KiB. */
  blockSize?: number;
  /** Compression threads. Default: the number of CPUs this process may use, at most 16. */
  workers?: number;
  /** Seconds since the epoch: the super block's time and that of implied directories. Default 0. */
  mtime?: number;
  /** Write an NFS export table. Default false. */
  exportTable?: boolean;
  /**
   * fsync the image (and its directory) before finish() settles. Default true; false
   * for an image that is only copied elsewhere and removed (the build's squashfs: the
   * SIF around it is what gets synced).
   */
  durable?: boolean;
}

export interface EntryMeta {
  /** Permission bits, setuid/setgid/sticky included (07777). Type bits, if any, must match the entry. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch (squashfs stores 0 .. 2^32-1; fractions are dropped). */
  mtime: number;
  /** Keys with the prefix user., trusted. or security.; string values are stored as UTF-8. */
  xattrs?: ReadonlyMap<string, Uint8Array | string> | Readonly<Record<string, Uint8Array | string>>;
}

/** A path inside the image ('a/b', '/a/b' and './a/b' are the same); bytes for non-UTF-8 names. */
export type EntryPath = string | Uint8Array;
export type FileData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface SquashfsStats {
  bytesUsed: number;
  fileSize: number;
  inodes: number;
  inputBytes: number;
  dataBlocks: number;
  fragmentBlocks: number;
  sparseBlocks: number;
}

interface NativeWriter {
  create(comp: number, level: number, blockSize: number, workers: number, backlog: number, mtime: number,
    exportTable: boolean): NativeHandle;
  open(h: NativeHandle, path: string): Promise<void>;
  addNode(h: NativeHandle, parent: number, name: Uint8Array, mode: number, uid: number, gid: number, mtime: number,
    target: Uint8Array | null, major: number, minor: number): number;
  addHardlink(h: NativeHandle, parent: number, name: Uint8Array, target: number): number;
  setAttrs(h: NativeHandle, id: number, perm: number, uid: number, gid: number, mtime: number): void;
  addXattr(h: NativeHandle, id: number, key: string, value: Uint8Array): void;
  remove(h: NativeHandle, id: number): void;
  append(h: NativeHandle, id: number, data: Uint8Array, last: boolean): Promise<void>;
  appendFiles(h: NativeHandle, ids: Uint32Array, datas: Uint8Array[]): Promise<void>;
  endFile(h: NativeHandle, id: number): Promise<void>;
  finish(h: NativeHandle): Promise<SquashfsStats>;
  close(h: NativeHandle): void;
}
declare const nativeHandle: unique symbol;
type NativeHandle = { readonly [nativeHandle]: true };

export const SQUASHFS_ADDON_PATH = nativePath('squashfs', 'build', 'Release', 'sqfs_writer.node');

let addon: NativeWriter | undefined;
function nativeWriter(): NativeWriter {
  return (addon ??= loadAddon<NativeWriter>(SQUASHFS_ADDON_PATH, 'SIF_E_IMAGE_WRITE'));
}

const COMPRESSORS: Record<SquashfsCompressor, { id: number; levels?: [number, number]; fast?: number }> = {
  gzip: { id: 1, levels: [1, 9] },
  xz: { id: 4, levels: [0, 9] },
  lz4: { id: 5 },
  zstd: { id: 6, levels: [1, 22], fast: 3 },
};

/**
 * Whole files up to this size are gathered and handed to the native writer together:
 * one trip to the libuv pool per batch instead of one per file (the python test image
 * has ~8,000 small files; each trip costs thread wake-ups on both sides).
 */
const BATCH_FILE_MAX = 1 << 20;
const BATCH_BYTES = 2 << 20;
const BATCH_FILES = 1024;

const S_IFMT = 0o170000;
const TYPE = { dir: 0o040000, file: 0o100000, symlink: 0o120000, char: 0o020000, block: 0o060000, fifo: 0o010000,
  socket: 0o140000 } as const;

interface Known {
  id: number;
  dir: boolean;
  /** False for the root and for directories implied by a deeper path, until addDirectory describes them. */
  explicit: boolean;
}

function usage(message: string): SifError {
  return new SifError('SIF_E_IMAGE_WRITE', message);
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw usage(`${what} ${value} is not a 32-bit unsigned integer`);
  return value;
}

function seconds(mtime: number): number {
  if (!Number.isFinite(mtime)) throw usage(`mtime ${mtime} is not a number`);
  return Math.min(Math.max(Math.floor(mtime), 0), 0xffffffff);
}

/** Path components as bytes: empty and '.' components dropped, '..' refused. */
function components(path: EntryPath): Buffer[] {
  const bytes = typeof path === 'string' ? Buffer.from(path, 'utf8') : Buffer.from(path.buffer, path.byteOffset, path.byteLength);
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x2f) continue;
    const c = bytes.subarray(start, i);
    start = i + 1;
    if (c.length === 0 || (c.length === 1 && c[0] === 0x2e)) continue;
    if (c.length === 2 && c[0] === 0x2e && c[1] === 0x2e) throw usage(`path ${show(path)} contains '..'`);
    out.push(c);
  }
  return out;
}

const key = (parts: Buffer[]): string => parts.map((p) => p.toString('latin1')).join('/');
const show = (path: EntryPath): string => (typeof path === 'string' ? path : Buffer.from(path).toString('utf8'));

/** The entry's xattrs in byte order of their keys; refuses keys squashfs cannot store. */
function sortedXattrs(meta: EntryMeta, path: EntryPath): [string, Uint8Array][] {
  if (!meta.xattrs) return [];
  const entries = meta.xattrs instanceof Map ? [...meta.xattrs] : Object.entries(meta.xattrs);
  for (const [k] of entries)
    if (!/^(user|trusted|security)\.[^\0]+$/s.test(k))
      throw usage(`${show(path)}: xattr ${k}: squashfs stores only user., trusted. and security. attributes`);
  return entries
    .map(([k, v]): [string, Uint8Array] => [k, typeof v === 'string' ? Buffer.from(v, 'utf8') : v])
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export class SquashfsWriter {
  private readonly known = new Map<string, Known>([['', { id: 0, dir: true, explicit: false }]]);
  private tail: Promise<unknown> = Promise.resolve();
  private failure: unknown;
  /** A failed batch of small files: thrown as is by the next call (their own calls had settled). */
  private batchFailure: SifError | undefined;
  private done = false;
  /** Small whole files not yet handed to the native writer. */
  private batch: { ids: number[]; datas: Uint8Array[]; bytes: number } = { ids: [], datas: [], bytes: 0 };
  private flushSoon: NodeJS.Immediate | undefined;

  private constructor(
    private readonly native: NativeWriter,
    private readonly handle: NativeHandle,
    readonly path: string,
    private readonly tmpPath: string,
    private readonly defaultMtime: number,
    private readonly durable: boolean,
  ) {}

  /** Starts an image that finish() will place at `path` (replacing any file there). */
  static async create(path: string, options: SquashfsWriterOptions = {}): Promise<SquashfsWriter> {
    const native = nativeWriter();
    const compressor = options.compressor ?? 'zstd';
    const spec = COMPRESSORS[compressor];
    if (!spec) throw usage(`unknown squashfs compressor ${String(compressor)}`);
    const level = options.level ?? spec.fast ?? -1;
    if (options.level !== undefined) {
      if (!spec.levels) throw usage(`the ${compressor} compressor takes no level`);
      const [lo, hi] = spec.levels;
      if (!Number.isInteger(level) || level < lo || level > hi) throw usage(`${compressor} level ${level} is not in ${lo}..${hi}`);
    }
    const blockSize = options.blockSize ?? 128 * 1024;
    if (!Number.isInteger(blockSize) || blockSize < 4096 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0)
      throw usage(`block size ${blockSize} is not a power of two from 4 KiB to 1 MiB`);
    const workers = options.workers ?? Math.min(availableParallelism(), 16);
    if (!Number.isInteger(workers) || workers < 1 || workers > 1024) throw usage(`workers ${workers} is not in 1..1024`);
    const mtime = seconds(options.mtime ?? 0);
    const tmpPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);

    let handle: NativeHandle;
    try {
      handle = native.create(spec.id, level, blockSize, workers, 0, mtime, options.exportTable ?? false);
    } catch (cause) {
      throw fromNative(path, 'configuring the writer', cause);
    }
    try {
      await native.open(handle, tmpPath);
    } catch (cause) {
      native.close(handle);
      await unlink(tmpPath).catch(() => undefined);
      throw fromNative(path, 'creating the image', cause);
    }
    return new SquashfsWriter(native, handle, path, tmpPath, mtime, options.durable ?? true);
  }

  /** Describes a directory; one implied earlier by a deeper path (or the root: '/' or '') gets these attributes. */
  addDirectory(path: EntryPath, meta: EntryMeta): Promise<void> {
    return this.run(async () => {
      const parts = components(path);
      const k = key(parts);
      const known = this.known.get(k);
      if (known) {
        if (!known.dir || known.explicit) throw usage(`duplicate entry ${show(path)}`);
        const { perm, uid, gid, mtime } = this.attrs(meta, TYPE.dir, path);
        const xattrs = sortedXattrs(meta, path);
        this.call(path, () => this.native.setAttrs(this.handle, known.id, perm, uid, gid, mtime));
        for (const [xk, xv] of xattrs) this.call(path, () => this.native.addXattr(this.handle, known.id, xk, xv));
        known.explicit = true;
        return;
      }
      this.addNode(parts, path, TYPE.dir, meta, null, 0, 0);
    });
  }

  /**
   * A regular file; its data is streamed in (chunks must not be modified until the call
   * settles). Data given whole and small is gathered with other such files and written
   * with them: the call settles once it is taken, and the buffer must stay unmodified
   * until finish(); a failure to write it fails the next call, or finish().
   */
  addFile(path: EntryPath, meta: EntryMeta, data: FileData): Promise<void> {
    return this.run(async () => {
      const id = this.addNode(components(path), path, TYPE.file, meta, null, 0, 0);
      if (data instanceof Uint8Array && data.length <= BATCH_FILE_MAX) return this.gather(id, data);
      await this.flushBatch();
      await this.stream(id, path, data);
    });
  }

  addSymlink(path: EntryPath, target: EntryPath, meta: EntryMeta): Promise<void> {
    return this.run(async () => {
      const t = typeof target === 'string' ? Buffer.from(target, 'utf8') : target;
      this.addNode(components(path), path, TYPE.symlink, { ...meta, mode: meta.mode & 0o7777 || 0o777 }, t, 0, 0);
    });
  }

  addDevice(path: EntryPath, kind: 'char' | 'block', major: number, minor: number, meta: EntryMeta): Promise<void> {
    return this.run(async () => {
      this.addNode(components(path), path, TYPE[kind], meta, null, u32(major, 'major'), u32(minor, 'minor'));
    });
  }

  addFifo(path: EntryPath, meta: EntryMeta): Promise<void> {
    return this.run(async () => {
      this.addNode(components(path), path, TYPE.fifo, meta, null, 0, 0);
    });
  }

  addSocket(path: EntryPath, meta: EntryMeta): Promise<void> {
    return this.run(async () => {
      this.addNode(components(path), path, TYPE.socket, meta, null, 0, 0);
    });
  }

  /** Another name for the inode at `target` (added before, not a directory). */
  addHardlink(path: EntryPath, target: EntryPath): Promise<void> {
    return this.run(async () => {
      const tgt = this.known.get(key(components(target)));
      if (!tgt) throw usage(`hard link ${show(path)}: target ${show(target)} is not in the image`);
      if (tgt.dir) throw usage(`hard link ${show(path)}: target ${show(target)} is a directory`);
      const parts = components(path);
      const [parent, name, k] = this.place(parts, path);
      const id = this.call(path, () => this.native.addHardlink(this.handle, parent, name, tgt.id));
      this.known.set(k, { id, dir: false, explicit: true });
    });
  }

  /**
   * Unlinks `path` and, for a directory, everything below it (as `rm -r`), so that a
   * later entry can take its place; false when nothing is there. Data already written
   * stays in the image, unreferenced, unless another name (a hard link) still shares
   * the inode: that name keeps it.
   */
  remove(path: EntryPath): Promise<boolean> {
    return this.run(async () => {
      const k = key(components(path));
      if (k === '') throw usage('the root directory cannot be removed');
      const known = this.known.get(k);
      if (!known) return false;
      this.call(path, () => this.native.remove(this.handle, known.id));
      this.known.delete(k);
      if (known.dir) {
        const below = `${k}/`;
        for (const other of this.known.keys()) if (other.startsWith(below)) this.known.delete(other);
      }
      return true;
    });
  }

  /** Writes the tables and the super block, then moves the image into place. */
  finish(): Promise<SquashfsStats> {
    return this.run(async () => {
      let stats: SquashfsStats;
      try {
        await this.flushBatch();
        stats = await this.native.finish(this.handle);
        this.native.close(this.handle);
        if (this.durable) {
          const fh = await open(this.tmpPath, 'r+');
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
        await rename(this.tmpPath, this.path);
      } catch (cause) {
        this.failure = cause;
        await this.cleanup();
        throw cause instanceof SifError ? cause : fromNative(this.path, 'finishing the image', cause);
      }
      this.done = true;
      if (this.durable) await syncDir(dirname(this.path));
      return stats;
    });
  }

  /** Drops the image: frees the native writer and removes the temporary file. Safe to call at any time. */
  async abort(): Promise<void> {
    // Until nothing more is queued: a batch flush may queue itself meanwhile, and the
    // native writer must not be busy when it is closed.
    for (let seen; seen !== this.tail; ) {
      seen = this.tail;
      await seen.catch(() => undefined);
    }
    if (this.done) return;
    this.failure ??= usage('the image was aborted');
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    this.done = true;
    if (this.flushSoon) clearImmediate(this.flushSoon);
    this.batch = { ids: [], datas: [], bytes: 0 };
    this.native.close(this.handle);
    await unlink(this.tmpPath).catch(() => undefined);
  }

  /** Runs `fn` after every earlier call has settled; native and data failures poison the writer. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(async () => {
      if (this.batchFailure && !this.done) throw this.batchFailure;
      if (this.done || this.failure !== undefined)
        throw new SifError('SIF_E_IMAGE_WRITE', `writing squashfs image ${this.path}: the writer is ${this.done ? 'closed' : 'failed'}`, {
          cause: this.failure,
        });
      return fn();
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  private attrs(meta: EntryMeta, type: number, path: EntryPath) {
    if (!Number.isInteger(meta.mode) || meta.mode < 0 || meta.mode > 0xffff) throw usage(`${show(path)}: mode ${meta.mode} is invalid`);
    if ((meta.mode & S_IFMT) !== 0 && (meta.mode & S_IFMT) !== type)
      throw usage(`${show(path)}: mode 0${meta.mode.toString(8)} does not match the entry type`);
    return { perm: meta.mode & 0o7777, uid: u32(meta.uid, 'uid'), gid: u32(meta.gid, 'gid'), mtime: seconds(meta.mtime) };
  }

  /** The parent directory's id (implied directories created on the way), the name, the path's key. */
  private place(parts: Buffer[], path: EntryPath): [number, Buffer, string] {
    const name = parts.at(-1);
    if (!name) throw usage(`${show(path)}: the root is a directory`);
    let parent = 0;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = key(parts.slice(0, i + 1));
      const known = this.known.get(k);
      if (known && !known.dir) throw usage(`${show(path)}: a parent is not a directory`);
      if (known) {
        parent = known.id;
        continue;
      }
      const part = parts[i] as Buffer;
      parent = this.call(path, () =>
        this.native.addNode(this.handle, parent, part, TYPE.dir | 0o755, 0, 0, this.defaultMtime, null, 0, 0));
      this.known.set(k, { id: parent, dir: true, explicit: false });
    }
    const k = key(parts);
    if (this.known.has(k)) throw usage(`duplicate entry ${show(path)}`);
    return [parent, name, k];
  }

  private addNode(parts: Buffer[], path: EntryPath, type: number, meta: EntryMeta, target: Uint8Array | null,
    major: number, minor: number): number {
    const { perm, uid, gid, mtime } = this.attrs(meta, type, path);
    const xattrs = sortedXattrs(meta, path);
    const [parent, name, k] = this.place(parts, path);
    const id = this.call(path, () =>
      this.native.addNode(this.handle, parent, name, type | perm, uid, gid, mtime, target, major, minor));
    this.known.set(k, { id, dir: type === TYPE.dir, explicit: true });
    for (const [xk, xv] of xattrs) this.call(path, () => this.native.addXattr(this.handle, id, xk, xv));
    return id;
  }

  /** A synchronous native call; its errors name the entry. */
  private call<T>(path: EntryPath, fn: () => T): T {
    try {
      return fn();
    } catch (cause) {
      throw fromNative(this.path, show(path), cause);
    }
  }

  /**
   * Takes a small file's data into the batch; written when the batch is full, or once
   * the event loop turns (the merge waits for input: the compressors should not).
   */
  private async gather(id: number, data: Uint8Array): Promise<void> {
    const b = this.batch;
    b.ids.push(id);
    b.datas.push(data);
    b.bytes += data.length;
    if (b.bytes >= BATCH_BYTES || b.ids.length >= BATCH_FILES) return this.flushBatch();
    this.flushSoon ??= setImmediate(() => {
      this.flushSoon = undefined;
      this.run(() => this.flushBatch()).catch(() => undefined); // kept in batchFailure
    });
  }

  /** Writes the gathered small files (in the order given, as if one by one). */
  private async flushBatch(): Promise<void> {
    // This flush takes the batch: a flush already scheduled for it has nothing to do.
    if (this.flushSoon) clearImmediate(this.flushSoon);
    this.flushSoon = undefined;
    const { ids, datas } = this.batch;
    if (ids.length === 0) return;
    this.batch = { ids: [], datas: [], bytes: 0 };
    try {
      await this.native.appendFiles(this.handle, Uint32Array.from(ids), datas);
    } catch (cause) {
      this.failure = cause;
      this.batchFailure = cause instanceof SifError ? cause : fromNative(this.path, 'writing file data', cause);
      throw this.batchFailure;
    }
  }

  private async stream(id: number, path: EntryPath, data: FileData): Promise<void> {
    try {
      if (data instanceof Uint8Array) {
        await this.native.append(this.handle, id, data, true); // one round trip for a whole file
        return;
      }
      for await (const chunk of data) {
        if (!(chunk instanceof Uint8Array)) throw usage(`${show(path)}: file data chunks must be bytes`);
        if (chunk.length > 0) await this.native.append(this.handle, id, chunk, false);
      }
      await this.native.endFile(this.handle, id);
    } catch (cause) {
      this.failure = cause;
      throw cause instanceof SifError ? cause : fromNative(this.path, `writing ${show(path)}`, cause);
    }
  }
}

function fromNative(image: string, what: string, cause: unknown): SifError {
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new SifError('SIF_E_IMAGE_WRITE', `writing squashfs image ${image}: ${what}: ${msg}`, { cause });
}

