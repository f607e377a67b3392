/**
 * Flattens an image's layers into a squashfs writer, as streams: nothing is
 * extracted to disk and nothing needs root (owners, modes, device nodes and xattrs
 * are recorded by squashfs, not applied to files).
 *
 * The layers are read from the top one down, each once: an entry is written only
 * if no upper layer decided its path (visibility.ts), so whatever is written is
 * final and file data goes straight from the decompressor into the writer. Hard
 * links are in hardlinks.ts; a layer is read a second time only when a visible
 * link names an entry an upper layer hid.
 *
 * A path given twice in one layer (`tar --append` makes such layers): the last entry
 * wins, as in tar extraction, umoci and containerd. Two directories: the later
 * entry's attributes, the contents of both. Otherwise the earlier entry (with all
 * below it, for a directory) is removed from the image and the later one takes its
 * place (the writer unlinks names; data it already wrote stays in the image,
 * unreferenced, unless a hard link made in between still names it, as tar leaves it).
 * So the merge stays one pass, and only layers with such duplicates cost space.
 *
 * Choices where layers are ambiguous (the result otherwise matches `umoci unpack`):
 * - a directory with no entry in any layer gets mode 0755, owner 0:0 and the
 *   writer's default mtime;
 * - unknown entry types and entries below a non-directory of the same layer are
 *   skipped with a warning.
 */
import type { Readable } from 'node:stream';
import { SifError } from '../../errors.js';
import type { EntryMeta, SquashfsWriter } from '../../image/squashfs-writer.js';
import { ByteReader, UnexpectedEnd } from './byte-reader.js';
import { EntryMetaError, MetaMaker } from './entry-meta.js';
import { EntryNameError, keyBytes, normalizeName, showKey, whiteoutOf } from './entry-path.js';
import { HardLinks, LinkError } from './hardlinks.js';
import { LayerDataError, openLayerData, type LayerData } from './layer-stream.js';
import { SinkQueue } from './sink-queue.js';
import { TarFormatError, TarReader, type TarEntry } from './tar-reader.js';
import { Visibility, type Verdict } from './visibility.js';
import { buildTimings } from '../build-timings.js';

export type MergeSink = Pick<SquashfsWriter, 'addDirectory' | 'addFile' | 'addSymlink' | 'addDevice' | 'addFifo' | 'addHardlink' | 'remove'>;

export interface MergeLayer {
  /** For messages: the layer's digest. */
  name: string;
  /** The bytes as stored: gzip, zstd or plain tar (told apart by magic bytes). May be called twice. */
  open(): Promise<Readable>;
  /** Stored bytes, when known: for progress displays only. */
  size?: number;
}

export interface MergeStats {
  layers: number;
  /** Paths written to the image (directories implied by deeper paths and given no entry not counted). */
  entries: number;
  /** Regular files written (hard links to them not counted). */
  files: number;
  /** Uncompressed file data written. */
  bytes: number;
  /** Entries of lower layers that upper layers hid (replaced, whited out, below an opaque directory). */
  hidden: number;
  /** Entries that a later entry of the same layer at the same path replaced. */
  replaced: number;
}

export interface MergeOptions {
  /** `layerIndex`: position in `layers` (0 = bottom); `bytesRead`: stored (compressed) bytes read so far. */
  onProgress?(layerIndex: number, bytesRead: number): void;
  warn?(msg: string): void;
  signal?: AbortSignal;
}

/** Files up to this size are read whole and handed over without waiting for the writer. */
const INLINE_MAX = 1 << 20;
const EMPTY = Buffer.alloc(0);
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xfffff;
const MAX_SYMLINK = 4095;

/** Merges `layers` (bottom first, as in the manifest) into `sink`. */
export async function mergeLayers(layers: MergeLayer[], sink: MergeSink, opts: MergeOptions = {}): Promise<MergeStats> {
  return new Merge(sink, opts).run(layers);
}

class Merge {
  private readonly stats: MergeStats = { layers: 0, entries: 0, files: 0, bytes: 0, hidden: 0, replaced: 0 };
  private readonly vis = new Visibility();
  private readonly links = new HardLinks();
  private readonly queue = new SinkQueue();
  private readonly metas: MetaMaker;
  private readonly warn: (msg: string) => void;
  /** Directory entries of the current layer, written when it ends (a later duplicate wins). */
  private dirs = new Map<string, EntryMeta>();
  private layerName = '';

  constructor(
    private readonly sink: MergeSink,
    private readonly opts: MergeOptions,
  ) {
    this.warn = opts.warn ?? (() => undefined);
    this.metas = new MetaMaker((msg) => this.warn(`layer ${this.layerName}: ${msg}`));
  }

  async run(layers: MergeLayer[]): Promise<MergeStats> {
    this.stats.layers = layers.length;
    try {
      for (let pos = layers.length - 1, depth = 0; pos >= 0; pos--, depth++) await this.layer(layers[pos] as MergeLayer, pos, depth);
      try {
        this.links.finish();
      } catch (e) {
        throw this.failure(undefined, e);
      }
      await this.queue.drain();
    } catch (e) {
      await this.queue.settle();
      throw this.opts.signal?.aborted ? interrupted(this.opts.signal) : e;
    }
    return this.stats;
  }

  private async layer(layer: MergeLayer, pos: number, depth: number): Promise<void> {
    this.layerName = layer.name;
    this.vis.beginLayer(depth);
    this.links.beginLayer(layer.name);
    this.dirs = new Map();
    await this.read(layer, pos, true, (e, tar) => this.entry(e, tar));
    for (const [key, meta] of this.dirs) {
      this.stats.entries++;
      await this.call(this.sink.addDirectory(keyBytes(key), meta));
    }
    this.dirs = new Map();
    const { whiteouts, opaques } = this.vis.layerRemovals();
    try {
      this.links.endLayer(whiteouts, opaques);
    } catch (e) {
      throw this.failure(layer, e);
    }
    this.vis.endLayer();
    if (this.links.needs.size > 0) await this.secondPass(layer, pos);
  }

  /** Reads a layer's entries into `onEntry` (which may stop early by returning false), then its end. */
  private async read(layer: MergeLayer, pos: number, progress: boolean,
    onEntry: (e: TarEntry, tar: TarReader) => Promise<boolean | void>): Promise<void> {
    const { signal } = this.opts;
    let raw: Readable | undefined;
    let data: LayerData | undefined;
    const onAbort = (): void => void raw?.destroy(interrupted(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.checkAbort();
      const t0 = performance.now();
      raw = await untilAborted(layer.open(), signal);
      if (buildTimings.on) buildTimings.add('blobs', t0);
      const onRaw = progress && this.opts.onProgress ? (n: number) => this.opts.onProgress?.(pos, n) : undefined;
      data = await openLayerData(raw, onRaw);
      const tar = new TarReader(new ByteReader(data.chunks));
      for (;;) {
        const e = await tar.next();
        if (!e) break;
        this.checkAbort();
        if ((await onEntry(e, tar)) === false) return;
      }
      // Past the end-of-archive blocks: read to the end, so that the decompressor's
      // checks (gzip CRC) and the source's digest check run.
      await tar.bytes.drain();
    } catch (e) {
      throw this.failure(layer, e);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (data) data.destroy();
      else raw?.destroy();
    }
  }

  private async entry(e: TarEntry, tar: TarReader): Promise<void> {
    if (e.type === 'unknown') {
      this.warn(`layer ${this.layerName}: skipping ${showKey(e.name)}: unknown tar entry type ${JSON.stringify(e.typeflag)}`);
      return;
    }
    const key = normalizeName(e.name);
    const wh = whiteoutOf(key);
    if (wh) {
      if (wh.kind === 'whiteout') this.vis.whiteout(wh.target);
      else if (wh.kind === 'opaque') this.vis.opaqueDir(wh.dir);
      else if (wh.kind === 'invalid') this.warn(`layer ${this.layerName}: ignoring ${wh.why}`);
      return;
    }
    if (e.type === 'dir') return this.dir(key, e);
    if (key === '') {
      this.warn(`layer ${this.layerName}: ignoring a ${e.type} entry for the root directory`);
      return;
    }
    let v = this.vis.classify(key, false);
    if (v === 'duplicate') v = await this.replace(key, false);
    else if (v === 'hidden' && this.links.took(key)) await this.untake(key);
    if (!this.links.idle) this.links.nonDir(key);
    if (v === 'under-nondir') {
      this.warn(`layer ${this.layerName}: skipping ${showKey(key)}: a parent is not a directory in this layer`);
      return;
    }
    if (e.type === 'link') return this.link(key, e, v === 'visible');
    const waiting = this.links.idle ? undefined : this.links.takeWaiting(key);
    if (v === 'visible') {
      this.vis.define(key, false);
      await this.emit(key, e, tar);
      for (const n of waiting ?? []) await this.hardlink(n, key);
      return;
    }
    this.stats.hidden++;
    if (!waiting) {
      this.links.hiddenEntry(key, e.index);
      return;
    }
    // Hidden here, but links of upper layers name this inode: it goes under the first link's name.
    const [first, ...rest] = waiting as [string, ...string[]];
    await this.emit(first, e, tar);
    for (const n of rest) await this.hardlink(n, first);
    this.links.setRef(key, { kind: 'path', key: first });
  }

  private async dir(key: string, e: TarEntry): Promise<void> {
    let v = this.vis.classify(key, true);
    if (v === 'duplicate') v = await this.replace(key, true);
    else if (v === 'hidden' && this.links.took(key)) await this.untake(key);
    const g = this.links.idle ? undefined : this.links.waitingFor(key);
    if (g) throw new LinkError(`layer ${g.layer}: hard link ${showKey(g.names[0] ?? '')} points to ${showKey(key)}, a directory in layer ${this.layerName}`);
    switch (v) {
      case 'visible':
      case 'attrs':
        this.vis.define(key, true);
        this.dirs.set(key, this.metas.meta(e, key));
        return;
      case 'dup-dir':
        this.dirs.set(key, this.metas.meta(e, key));
        return;
      case 'hidden':
        this.stats.hidden++;
        return;
      default:
        this.warn(`layer ${this.layerName}: skipping the directory ${showKey(key)}: a parent is not a directory in this layer`);
    }
  }

  /**
   * A later entry of this layer at `key`, where this layer had a non-directory (or,
   * for a non-directory `isDir` false, a directory): the earlier entry goes, with
   * whatever this layer put below it, as tar extraction would remove it. Returns the
   * verdict for the new entry.
   */
  private async replace(key: string, isDir: boolean): Promise<Verdict> {
    this.stats.replaced++;
    const subtree = this.vis.definedHere(key) === 'dir';
    const roots = this.vis.forget(key);
    if (subtree) {
      const below = `${key}/`;
      for (const k of [...this.dirs.keys()]) if (k === key || k.startsWith(below)) this.dirs.delete(k);
    } else {
      this.dirs.delete(key);
    }
    this.links.replaced(key, subtree);
    // Names of upper layers' links that took the earlier inode: they wait again, for
    // the new entry (a directory there is an error, as below).
    for (const k of this.links.takenAt(key, subtree)) await this.untake(k);
    for (const r of roots) await this.call(this.sink.remove(keyBytes(r)));
    // The earlier non-directory removed what the layers below had here: a directory
    // that replaces it starts empty.
    if (isDir) this.vis.opaqueDir(key);
    return this.vis.classify(key, isDir);
  }

  private async link(key: string, e: TarEntry, visible: boolean): Promise<void> {
    const target = normalizeName(e.linkname);
    if (target === '') throw new LinkError(`layer ${this.layerName}: hard link ${showKey(key)} points to the root directory`);
    const ref = this.links.resolve(key, target, this.vis.definedHere(target));
    this.links.setRef(key, ref);
    if (visible) {
      this.vis.define(key, false);
      const to = this.links.join(ref, key);
      if (to !== undefined) await this.hardlink(key, to);
    } else {
      this.stats.hidden++;
    }
    for (const n of (this.links.idle ? undefined : this.links.takeWaiting(key)) ?? []) {
      const to = this.links.join(ref, n);
      if (to !== undefined) await this.hardlink(n, to);
    }
  }

  /**
   * Upper layers' names that an earlier entry of this layer at `key` took (hidden or
   * not) wait again, for the entry that replaces it: out of the image until then.
   */
  private async untake(key: string): Promise<void> {
    for (const n of this.links.untake(key)) await this.call(this.sink.remove(keyBytes(n)));
  }

  /** Writes entry `e` (not a directory or link) at `path`, its data from `tar`. */
  private async emit(path: string, e: TarEntry, tar: TarReader): Promise<void> {
    const p = keyBytes(path);
    this.stats.entries++;
    switch (e.type) {
      case 'file': {
        const meta = this.metas.meta(e, path);
        this.stats.files++;
        this.stats.bytes += e.size;
        if (e.size <= INLINE_MAX) {
          const body = e.size === 0 ? EMPTY : (tar.takeBody() ?? (await tar.readBody()));
          return this.call(this.sink.addFile(p, meta, body), e.size);
        }
        // Big: streamed, so the next entry waits until the writer has taken all of it.
        const done = this.sink.addFile(p, meta, this.guarded(tar.body()));
        await this.call(done);
        const t0 = buildTimings.on ? performance.now() : 0;
        const inflating = buildTimings.on ? buildTimings.spent('inflate') : 0;
        await done;
        // The wait for the writer, less the reads of the file's data (counted as inflate).
        if (t0) buildTimings.add('compress', t0 + (buildTimings.spent('inflate') - inflating));
        return;
      }
      case 'symlink': {
        const target = keyBytes(e.linkname);
        if (target.length === 0 || target.length > MAX_SYMLINK)
          throw new EntryMetaError(`the symlink ${showKey(path)} has a target of ${target.length} bytes (1 to ${MAX_SYMLINK} allowed)`);
        return this.call(this.sink.addSymlink(p, target, this.metas.meta(e, path, true)));
      }
      case 'char':
      case 'block':
        if (e.devmajor > MAX_MAJOR || e.devminor > MAX_MINOR || e.devmajor < 0 || e.devminor < 0)
          throw new EntryMetaError(`the device ${showKey(path)} has the number ${e.devmajor}:${e.devminor}, which squashfs cannot store`);
        return this.call(this.sink.addDevice(p, e.type, e.devmajor, e.devminor, this.metas.meta(e, path)));
      case 'fifo':
        return this.call(this.sink.addFifo(p, this.metas.meta(e, path)));
      default:
        throw new Error(`internal: emit of a ${e.type} entry`);
    }
  }

  private hardlink(name: string, to: string): Promise<void> {
    this.stats.entries++;
    return this.call(this.sink.addHardlink(keyBytes(name), keyBytes(to)));
  }

  private call(p: Promise<unknown>, bytes = 0): Promise<void> {
    return this.queue.add(p, bytes);
  }

  /** File data for the writer; read errors become SifErrors here, so the writer passes them on unchanged. */
  private async *guarded(body: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
    try {
      yield* body;
    } catch (e) {
      throw this.failure({ name: this.layerName }, e);
    }
  }

  /** Takes the entries that upper-layer-hidden targets of visible links need from a second read. */
  private async secondPass(layer: MergeLayer, pos: number): Promise<void> {
    const needs = this.links.needs;
    let left = needs.size;
    await this.read(layer, pos, false, async (e, tar) => {
      const names = needs.get(e.index);
      if (names) {
        const [first, ...rest] = names as [string, ...string[]];
        await this.emit(first, e, tar);
        for (const n of rest) await this.hardlink(n, first);
        left--;
      }
      return left > 0;
    });
    if (left > 0) throw new SifError('SIF_E_BUILD_LAYER', `layer ${layer.name}: its content changed between two reads`);
  }

  private checkAbort(): void {
    if (this.opts.signal?.aborted) throw interrupted(this.opts.signal);
  }

  /** Any error while reading a layer, as the SifError to throw. */
  private failure(layer: { name: string } | undefined, e: unknown): SifError {
    if (this.opts.signal?.aborted) return interrupted(this.opts.signal);
    if (e instanceof SifError) return e;
    if (e instanceof LinkError) return new SifError('SIF_E_BUILD_LAYER', e.message);
    const name = layer?.name ?? this.layerName;
    if (e instanceof TarFormatError || e instanceof LayerDataError || e instanceof EntryNameError || e instanceof EntryMetaError || e instanceof UnexpectedEnd)
      return new SifError('SIF_E_BUILD_LAYER', `layer ${name}: ${e.message}`);
    const msg = e instanceof Error ? e.message : String(e);
    return new SifError('SIF_E_BUILD_LAYER', `layer ${name}: reading it failed: ${msg}`, { cause: e });
  }
}

/** `p`, or an interruption as soon as `signal` aborts (a stream that `p` gives later is destroyed). */
function untilAborted(p: Promise<Readable>, signal: AbortSignal | undefined): Promise<Readable> {
  if (!signal) return p;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(interrupted(signal));
      p.then((r) => r.destroy(), () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (r) => (signal.removeEventListener('abort', onAbort), resolve(r)),
      (e: unknown) => (signal.removeEventListener('abort', onAbort), reject(e)),
    );
  });
}

function interrupted(signal: AbortSignal | undefined): SifError {
  const reason: unknown = signal?.reason;
  return reason instanceof SifError ? reason : new SifError('SIF_E_BUILD_INTERRUPTED', 'the merge of the image layers was interrupted');
}
