/**
 * Fetching an image's layers into the cache in the background: at most
 * `concurrency` at a time, the top layer first (the merge reads top-down), a
 * layer asked for by open() jumping the queue. Each blob comes from the cache when
 * a verified copy is there, else from the registry under a per-digest lock (two
 * builds never download the same blob twice), streamed to a temp file, checked and
 * renamed (see BlobCache.ingest). Dropped connections and bad bytes are retried a
 * few times; an abort stops everything and leaves no temp files behind.
 */
import { SifError } from '../../errors.js';
import type { BlobCache, VerifiedBlob } from '../cache/blob-cache.js';
import type { Descriptor } from '../image-source.js';
import { ConnectionDropped, interrupted } from './http.js';
import type { RegistryClient } from './registry-client.js';
import { buildTimings } from '../build-timings.js';

export type LayerState = 'queued' | 'cached' | 'downloading' | 'done' | 'failed';

export interface LayerProgress {
  /** Index in the manifest (0 = bottom layer). */
  index: number;
  digest: string;
  /** Bytes in all (the descriptor's size). */
  total: number;
  done: number;
  state: LayerState;
}

export interface BlobFetcherOptions {
  cache: BlobCache;
  /** Null in offline mode: only the cache is used. */
  client: () => RegistryClient | null;
  repository: string;
  signal: AbortSignal;
  onProgress?: (p: LayerProgress) => void;
  onWarning?: (msg: string) => void;
  /** Downloads of one blob before giving up on dropped connections or bad bytes. */
  attempts?: number;
}

/** One blob into the cache (or found there), returned open and verified. */
export async function fetchBlob(d: Descriptor, o: BlobFetcherOptions, onBytes?: (n: number) => void, onCached?: () => void): Promise<VerifiedBlob> {
  const attempts = o.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    if (o.signal.aborted) throw interrupted(`download of ${d.digest}`);
    try {
      const cached = await o.cache.openVerified(d.digest, d.size);
      if (cached) {
        onCached?.();
        return cached;
      }
    } catch (e) {
      if (!(e instanceof SifError && e.code === 'SIF_E_BUILD_DIGEST')) throw e;
      o.onWarning?.(`cached blob ${d.digest} was corrupt and has been discarded; downloading it again`);
    }
    const client = o.client();
    if (!client)
      throw new SifError('SIF_E_CACHE', `blob ${d.digest} is not in the cache, and the registry may not be contacted (offline)`, {
        hint: 'pull once with network access, or drop the offline option',
      });
    const lock = await o.cache.lockForDownload(d.digest, d.size, o.signal);
    if (!lock) continue; // another build finished it while we waited
    try {
      if (await o.cache.has(d.digest, d.size)) continue;
      const t0 = performance.now();
      const res = await client.blob(o.repository, d.digest, o.signal);
      const blob = await o.cache.ingest(d.digest, d.size, res.chunks(), { signal: o.signal, ...(onBytes ? { onBytes } : {}) });
      if (buildTimings.on) buildTimings.download(t0);
      return blob;
    } catch (e) {
      if (o.signal.aborted) throw interrupted(`download of ${d.digest}`);
      const retry = e instanceof ConnectionDropped || (e instanceof SifError && e.code === 'SIF_E_BUILD_DIGEST');
      if (!retry || attempt >= attempts) throw e;
      o.onWarning?.(`${(e as Error).message}; trying again (${attempt + 1}/${attempts})`);
    } finally {
      await lock.release();
    }
  }
}

export class LayerDownloads {
  private readonly queue: number[];
  private readonly started = new Map<number, Promise<VerifiedBlob>>();
  private readonly waiting = new Map<number, { resolve: (v: VerifiedBlob) => void; reject: (e: unknown) => void; promise: Promise<VerifiedBlob> }>();
  private running = 0;

  constructor(private readonly layers: readonly Descriptor[], private readonly concurrency: number, private readonly o: BlobFetcherOptions) {
    this.queue = layers.map((_, i) => i).reverse();
    for (const [i, d] of layers.entries()) o.onProgress?.({ index: i, digest: d.digest, total: d.size, done: 0, state: 'queued' });
    this.pump();
  }

  /** The verified blob of layer `i`, once fetched; moves it to the front of the queue. */
  get(i: number): Promise<VerifiedBlob> {
    const started = this.started.get(i);
    if (started) return started;
    let w = this.waiting.get(i);
    if (!w) {
      let resolve!: (v: VerifiedBlob) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<VerifiedBlob>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      w = { resolve, reject, promise };
      this.waiting.set(i, w);
    }
    const at = this.queue.indexOf(i);
    if (at > 0) {
      this.queue.splice(at, 1);
      this.queue.unshift(i);
    }
    this.pump();
    return this.started.get(i) ?? w.promise;
  }

  /** Every fetch started so far, settled (for close()). */
  async settled(): Promise<VerifiedBlob[]> {
    for (const w of this.waiting.values()) w.reject(interrupted('layer download'));
    this.queue.length = 0;
    const all = await Promise.allSettled(this.started.values());
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length && !this.o.signal.aborted) this.start(this.queue.shift()!);
  }

  private start(i: number): void {
    const d = this.layers[i]!;
    const report = (done: number, state: LayerState) => this.o.onProgress?.({ index: i, digest: d.digest, total: d.size, done, state });
    this.running++;
    const p = fetchBlob(d, this.o, (n) => report(n, 'downloading'), () => report(d.size, 'cached'))
      .then((blob) => {
        report(d.size, 'done');
        return blob;
      }, (e: unknown) => {
        report(0, 'failed');
        throw e;
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
    p.catch(() => undefined); // failures are reported through get()
    this.started.set(i, p);
    const w = this.waiting.get(i);
    if (w) {
      p.then(w.resolve, w.reject);
      this.waiting.delete(i);
    }
  }
}
