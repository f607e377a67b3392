/**
 * Fetching an image's layers into the cache in the background: at most
 * `concurrency` at a time, the top layer first (the merge reads top-down), a
 * layer asked for by open() jumping the queue. Each blob comes from the cache when
 * a verified copy is there, else from the registry under a per-digest lock (two
 * builds never download the same blob twice), streamed to a temp file, checked and
 * renamed (see BlobCache.ingest). The merge reads a layer as soon as its download
 * begins (GrowingBlob), and gets the last bytes only once the digest matched. A
 * dropped connection is resumed (the bytes already passed on are skipped in the new
 * answer); bad bytes are fetched again only while no reader has taken any, and fail
 * the build otherwise. An abort stops everything and leaves no temp files behind.
 */
import { SifError } from '../../errors.js';
import type { Readable } from 'node:stream';
import type { BlobCache, VerifiedBlob } from '../cache/blob-cache.js';
import type { GrowingBlob } from '../cache/growing-blob.js';
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

/** What a fetch can tell while it runs (all optional). */
export interface FetchHooks {
  /** Bytes downloaded so far. */
  onBytes?: (n: number) => void;
  /** The blob was in the cache. */
  onCached?: () => void;
  /**
   * Layers: a cached copy is checked while it is streamed (BlobCache.openStreamed)
   * rather than re-hashed first, and a download can be read while it runs (each new
   * attempt's blob is passed here).
   */
  onLive?: (live: GrowingBlob) => void;
  streamed?: boolean;
}

/** One blob into the cache (or found there), returned open; verified, or (streamed) checked as read. */
export async function fetchBlob(d: Descriptor, o: BlobFetcherOptions, hooks: FetchHooks = {}): Promise<VerifiedBlob> {
  const attempts = o.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    if (o.signal.aborted) throw interrupted(`download of ${d.digest}`);
    try {
      const cached = hooks.streamed
        ? await o.cache.openStreamed(d.digest, d.size, o.onWarning)
        : await o.cache.openVerified(d.digest, d.size);
      if (cached) {
        hooks.onCached?.();
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
    let live: GrowingBlob | undefined;
    try {
      if (await o.cache.has(d.digest, d.size)) continue;
      const t0 = performance.now();
      const blob = await o.cache.ingest(d.digest, d.size, resumedBody(client, d, o, attempts), {
        signal: o.signal,
        ...(hooks.onBytes ? { onBytes: hooks.onBytes } : {}),
        ...(hooks.onLive ? { onStart: (l: GrowingBlob) => { live = l; hooks.onLive?.(l); } } : {}),
      });
      if (buildTimings.on) buildTimings.download(t0);
      return blob;
    } catch (e) {
      if (o.signal.aborted) throw interrupted(`download of ${d.digest}`);
      // Bytes a reader (the merge) already took cannot be taken back: then a bad blob fails the build.
      const retry = !live?.handedOut && (e instanceof ConnectionDropped || (e instanceof SifError && e.code === 'SIF_E_BUILD_DIGEST'));
      if (!retry || attempt >= attempts) throw e;
      o.onWarning?.(`${(e as Error).message}; trying again (${attempt + 1}/${attempts})`);
    } finally {
      await lock.release();
    }
  }
}

/**
 * A blob's body, picked up again after a dropped connection: a new request, whose
 * first bytes (those already passed on) are skipped, so that whoever reads the blob
 * while it downloads sees one unbroken stream, and the digest is computed over
 * exactly the bytes passed on.
 */
async function* resumedBody(client: RegistryClient, d: Descriptor, o: BlobFetcherOptions, attempts: number): AsyncGenerator<Buffer> {
  let passed = 0;
  for (let attempt = 1; ; attempt++) {
    const res = await client.blob(o.repository, d.digest, o.signal);
    let skip = passed;
    try {
      for await (const c of res.chunks()) {
        if (skip >= c.length) {
          skip -= c.length;
          continue;
        }
        const out = skip > 0 ? c.subarray(skip) : c;
        skip = 0;
        passed += out.length;
        yield out;
      }
      return; // a shorter second answer fails the size check
    } catch (e) {
      if (!(e instanceof ConnectionDropped) || attempt >= attempts || o.signal.aborted) throw e;
      o.onWarning?.(`${e.message}; resuming blob ${d.digest} at byte ${passed} (${attempt + 1}/${attempts})`);
    }
  }
}

/** A layer's bytes, readable from whichever copy is furthest along: the verified one, else the download. */
export interface LayerReadable {
  stream(): Readable;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // failures are reported through get()
  return { promise, resolve, reject };
}

export class LayerDownloads {
  private readonly queue: number[];
  private readonly started = new Map<number, Promise<VerifiedBlob>>();
  private readonly done = new Map<number, VerifiedBlob>();
  private readonly live = new Map<number, GrowingBlob>();
  private readonly ready = new Map<number, Deferred<LayerReadable>>();
  private running = 0;

  constructor(private readonly layers: readonly Descriptor[], private readonly concurrency: number, private readonly o: BlobFetcherOptions) {
    this.queue = layers.map((_, i) => i).reverse();
    for (const [i, d] of layers.entries()) o.onProgress?.({ index: i, digest: d.digest, total: d.size, done: 0, state: 'queued' });
    this.pump();
  }

  /**
   * Layer `i`, readable as soon as it is cached or its download has begun (a stream
   * of a download follows it, and fails at its end if the blob does not verify);
   * moves it to the front of the queue.
   */
  get(i: number): Promise<LayerReadable> {
    const r = this.readiness(i);
    const at = this.queue.indexOf(i);
    if (at > 0) {
      this.queue.splice(at, 1);
      this.queue.unshift(i);
    }
    this.pump();
    return r.promise;
  }

  /** Every fetch started so far, settled (for close()). */
  async settled(): Promise<VerifiedBlob[]> {
    for (const [i, r] of this.ready) if (!this.started.has(i)) r.reject(interrupted('layer download'));
    this.queue.length = 0;
    const all = await Promise.allSettled(this.started.values());
    return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  private readiness(i: number): Deferred<LayerReadable> {
    let r = this.ready.get(i);
    if (!r) {
      r = deferred<LayerReadable>();
      this.ready.set(i, r);
    }
    return r;
  }

  private readable(i: number): LayerReadable {
    return {
      stream: () => {
        const from = this.done.get(i) ?? this.live.get(i);
        if (!from) throw interrupted(`layer ${this.layers[i]!.digest}`);
        return from.stream();
      },
    };
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length && !this.o.signal.aborted) this.start(this.queue.shift()!);
  }

  private start(i: number): void {
    const d = this.layers[i]!;
    const report = (done: number, state: LayerState) => this.o.onProgress?.({ index: i, digest: d.digest, total: d.size, done, state });
    const ready = this.readiness(i);
    this.running++;
    const p = fetchBlob(d, this.o, {
      streamed: true,
      onBytes: (n) => report(n, 'downloading'),
      onCached: () => report(d.size, 'cached'),
      onLive: (l) => {
        this.live.set(i, l);
        ready.resolve(this.readable(i));
      },
    })
      .then((blob) => {
        this.done.set(i, blob);
        this.live.delete(i);
        ready.resolve(this.readable(i));
        report(d.size, 'done');
        return blob;
      }, (e: unknown) => {
        ready.reject(e);
        report(0, 'failed');
        throw e;
      })
      .finally(() => {
        this.running--;
        this.pump();
      });
    p.catch(() => undefined); // failures are reported through get()
    this.started.set(i, p);
  }
}
