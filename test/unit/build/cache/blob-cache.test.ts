import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BlobCache } from '../../../../src/build/cache/blob-cache.js';
import { cacheRoot } from '../../../../src/build/cache/cache-root.js';
import { expectSifError, makeTmpDir } from '../../image/support.js';

let root: string;
let cleanup: () => Promise<void>;
let cache: BlobCache;

beforeEach(async () => {
  ({ dir: root, cleanup } = await makeTmpDir());
  cache = new BlobCache(root);
});
afterEach(() => cleanup());

const sha = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobDir = () => join(root, 'blobs', 'sha256');
const files = () => (existsSync(blobDir()) ? readdirSync(blobDir()) : []);
async function* chunks(...parts: (string | Error)[]): AsyncIterable<Buffer> {
  for (const p of parts) {
    if (p instanceof Error) throw p;
    await new Promise((r) => setImmediate(r));
    yield Buffer.from(p);
  }
}
async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  let out = '';
  for await (const c of s) out += String(c);
  return out;
}
/** A pid that is certainly not running: a child that has exited. */
const deadPid = () => spawnSync('true').pid!;

describe('cacheRoot', () => {
  it('uses SIF_CACHEDIR, then an absolute XDG_CACHE_HOME, then ~/.cache', () => {
    expect(cacheRoot({ SIF_CACHEDIR: '/a', XDG_CACHE_HOME: '/b', HOME: '/h' })).toBe('/a');
    expect(cacheRoot({ XDG_CACHE_HOME: '/b', HOME: '/h' })).toBe('/b/sif');
    expect(cacheRoot({ XDG_CACHE_HOME: 'rel', HOME: '/h' })).toBe('/h/.cache/sif');
    expect(cacheRoot({ HOME: '/h' })).toBe('/h/.cache/sif');
  });
});

describe('ingest', () => {
  it('stores a verified, read-only blob under its digest and hands it back open', async () => {
    const d = sha('hello world');
    let progress = 0;
    const blob = await cache.ingest(d, 11, chunks('hello ', 'world'), { onBytes: (n) => (progress = n) });
    expect(progress).toBe(11);
    expect(files()).toEqual([d.slice(7)]);
    expect(statSync(cache.pathOf(d)).mode & 0o777).toBe(0o444);
    expect(await readAll(blob.stream())).toBe('hello world');
    expect(await readAll(blob.stream())).toBe('hello world'); // each stream starts at 0
    await blob.close();
    expect(await cache.has(d)).toBe(true);
    expect(await cache.has(d, 12)).toBe(false);
  });

  it.each([
    ['other bytes', sha('something else'), 11, 'hash to'],
    ['too many bytes', sha('hello world'), 5, 'more than the 5 bytes'],
    ['too few bytes', sha('hello world'), 20, 'got 11 bytes'],
  ])('refuses %s, naming the digest, and keeps nothing', async (_what, digest, size, mention) => {
    await expectSifError(cache.ingest(digest, size, chunks('hello ', 'world')), 'SIF_E_BUILD_DIGEST', digest, mention);
    expect(files()).toEqual([]);
  });

  it('keeps nothing when the source fails or the signal aborts', async () => {
    const d = sha('abc');
    await expect(cache.ingest(d, 3, chunks('a', new Error('connection reset')))).rejects.toThrow('connection reset');
    const ac = new AbortController();
    async function* slow(): AsyncIterable<Buffer> {
      yield Buffer.from('a');
      ac.abort();
      yield Buffer.from('b');
    }
    await expectSifError(cache.ingest(d, 3, slow(), { signal: ac.signal }), 'SIF_E_BUILD_INTERRUPTED', d);
    expect(files()).toEqual([]);
  });

  it('lets two writers of the same blob race safely', async () => {
    const d = sha('same');
    const [a, b] = await Promise.all([cache.ingest(d, 4, chunks('sa', 'me')), cache.ingest(d, 4, chunks('s', 'a', 'me'))]);
    await Promise.all([a.close(), b.close()]);
    expect(files()).toEqual([d.slice(7)]);
  });

  it('stores many small chunks intact, gathered into fewer writes', async () => {
    const parts = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1 + (i % 97), i % 251));
    const whole = Buffer.concat(parts);
    const d = sha(whole);
    async function* quick(): AsyncIterable<Buffer> {
      for (const p of parts) yield p; // no pause: chunks arrive while a write is in flight
    }
    const blob = await cache.ingest(d, whole.length, quick());
    await blob.close();
    expect(readFileSync(cache.pathOf(d)).equals(whole)).toBe(true);
  });

  it('rejects digests it cannot check', async () => {
    await expectSifError(cache.ingest('md5:abc', 3, chunks('abc')), 'SIF_E_BUILD_SOURCE', 'not a valid sha256');
  });
});

describe('openVerified / readBytes', () => {
  it('returns null for a blob that is not there', async () => {
    expect(await cache.openVerified(sha('x'))).toBeNull();
    expect(await cache.readBytes(sha('x'))).toBeNull();
  });

  it('reads back what was stored', async () => {
    const d = sha('{"a":1}');
    await cache.putBytes(d, Buffer.from('{"a":1}'));
    expect((await cache.readBytes(d, 7))?.toString()).toBe('{"a":1}');
  });

  it('discards a corrupted entry and says which', async () => {
    const d = sha('good bytes');
    await cache.putBytes(d, Buffer.from('good bytes'));
    chmodSync(cache.pathOf(d), 0o644);
    writeFileSync(cache.pathOf(d), 'evil bytes');
    await expectSifError(cache.openVerified(d, 10), 'SIF_E_BUILD_DIGEST', d, 'cached copy hashes to');
    expect(existsSync(cache.pathOf(d))).toBe(false);
  });

  it('discards an entry of the wrong size without reading it', async () => {
    const d = sha('12345');
    await cache.putBytes(d, Buffer.from('12345'));
    await expectSifError(cache.openVerified(d, 6), 'SIF_E_BUILD_DIGEST', 'has 5 bytes, expected 6');
    expect(await cache.has(d)).toBe(false);
  });

  it('keeps reading an open blob after clean removed its name', async () => {
    const d = sha('still here');
    await cache.putBytes(d, Buffer.from('still here'));
    const blob = (await cache.openVerified(d))!;
    await cache.clean();
    expect(await cache.has(d)).toBe(false);
    expect(await readAll(blob.stream())).toBe('still here');
    await blob.close();
  });
});

describe('ingest read while it runs (onStart)', () => {
  it('lets a reader follow the download, holding its last 64 KiB until the blob verified', async () => {
    const head = Buffer.alloc(100 * 1024, 1);
    const tail = Buffer.alloc(100 * 1024, 2);
    const whole = Buffer.concat([head, tail]);
    const d = sha(whole);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let verified = false;
    async function* source(): AsyncIterable<Buffer> {
      yield head;
      await gate; // the rest comes only after the reader had the first part
      yield tail;
      verified = true; // the ingest checks the digest after asking for more
    }
    const early: number[] = [];
    let reading: Promise<Buffer> | undefined;
    const blob = await cache.ingest(d, whole.length, source(), {
      onStart: (live) => {
        const s = live.stream();
        reading = (async () => {
          const got: Buffer[] = [];
          for await (const c of s) {
            if (!verified) early.push((c as Buffer).length);
            got.push(c as Buffer);
            if (got.length === 1) release();
          }
          return Buffer.concat(got);
        })();
      },
    });
    const before = early.reduce((a, b) => a + b, 0);
    expect(before).toBeGreaterThanOrEqual(head.length);
    expect(before).toBeLessThanOrEqual(whole.length - 64 * 1024);
    expect((await reading!).equals(whole)).toBe(true);
    await blob.close();
  });

  it('fails the reader with the digest error, and keeps no entry and no temp file', async () => {
    const d = sha('hello world');
    let reading: Promise<string> | undefined;
    const ingest = cache.ingest(d, 11, chunks('hello ', 'w0rld'), {
      onStart: (live) => {
        reading = readAll(live.stream());
        reading.catch(() => undefined); // awaited below
      },
    });
    await expectSifError(ingest, 'SIF_E_BUILD_DIGEST', d, 'hash to');
    await expectSifError(reading!, 'SIF_E_BUILD_DIGEST', d, 'hash to');
    expect(files()).toEqual([]);
  });

  it('fails the reader when the download is aborted', async () => {
    const d = sha('abc');
    const ac = new AbortController();
    async function* slow(): AsyncIterable<Buffer> {
      yield Buffer.from('a');
      ac.abort();
      yield Buffer.from('b');
    }
    let reading: Promise<string> | undefined;
    const ingest = cache.ingest(d, 3, slow(), {
      signal: ac.signal,
      onStart: (live) => {
        reading = readAll(live.stream());
        reading.catch(() => undefined); // awaited below
      },
    });
    await expectSifError(ingest, 'SIF_E_BUILD_INTERRUPTED', d);
    await expectSifError(reading!, 'SIF_E_BUILD_INTERRUPTED', d);
    expect(files()).toEqual([]);
  });
});

describe('openStreamed', () => {
  it('streams a good blob whole, any number of times', async () => {
    const d = sha('good bytes');
    await cache.putBytes(d, Buffer.from('good bytes'));
    const blob = (await cache.openStreamed(d, 10))!;
    expect(await readAll(blob.stream())).toBe('good bytes');
    expect(await readAll(blob.stream())).toBe('good bytes');
    await blob.close();
    expect(await cache.has(d)).toBe(true);
    expect(await cache.openStreamed(sha('absent'))).toBeNull();
  });

  it('fails the stream at its end when the entry was corrupted, and discards it', async () => {
    const d = sha('good bytes');
    await cache.putBytes(d, Buffer.from('good bytes'));
    chmodSync(cache.pathOf(d), 0o644);
    writeFileSync(cache.pathOf(d), 'evil bytes');
    const warnings: string[] = [];
    const blob = (await cache.openStreamed(d, 10, (w) => warnings.push(w)))!;
    await expectSifError(readAll(blob.stream()), 'SIF_E_BUILD_DIGEST', d, 'cached copy hashes to');
    await blob.close();
    expect(existsSync(cache.pathOf(d))).toBe(false);
    expect(warnings).toEqual([`cached blob ${d} was corrupt and has been discarded`]);
  });

  it('checks the whole entry on close when a stream was stopped early, and discards a corrupt one', async () => {
    const d = sha('good bytes');
    await cache.putBytes(d, Buffer.from('good bytes'));
    chmodSync(cache.pathOf(d), 0o644);
    writeFileSync(cache.pathOf(d), 'evil bytes');
    const blob = (await cache.openStreamed(d, 10))!;
    const s = blob.stream();
    await new Promise<void>((resolve) => s.once('readable', resolve));
    s.destroy();
    await blob.close();
    expect(existsSync(cache.pathOf(d))).toBe(false);
  });

  it('keeps a good entry whose stream was stopped early', async () => {
    const d = sha('good bytes');
    await cache.putBytes(d, Buffer.from('good bytes'));
    const blob = (await cache.openStreamed(d, 10))!;
    const s = blob.stream();
    await new Promise<void>((resolve) => s.once('readable', resolve));
    s.destroy();
    await blob.close();
    expect(await cache.has(d, 10)).toBe(true);
  });

  it('discards an entry of the wrong size without reading it', async () => {
    const d = sha('12345');
    await cache.putBytes(d, Buffer.from('12345'));
    await expectSifError(cache.openStreamed(d, 6), 'SIF_E_BUILD_DIGEST', 'has 5 bytes, expected 6');
    expect(await cache.has(d)).toBe(false);
  });
});

describe('lockForDownload', () => {
  it('lets one download at a time, and tells a waiter when the blob arrived', async () => {
    const d = sha('shared');
    const first = await cache.lockForDownload(d, 6);
    expect(first).not.toBeNull();
    const waiter = cache.lockForDownload(d, 6);
    await new Promise((r) => setTimeout(r, 120));
    await (await cache.ingest(d, 6, chunks('shared'))).close();
    expect(await waiter).toBeNull();
    await first!.release();
    const again = await cache.lockForDownload(sha('other'), 5);
    await again!.release();
  });

  it('gets the lock when its holder releases it', async () => {
    const d = sha('next');
    const first = (await cache.lockForDownload(d, 4))!;
    const second = cache.lockForDownload(d, 4);
    setTimeout(() => void first.release(), 100);
    const got = await second;
    expect(got).not.toBeNull();
    await got!.release();
  });

  it('breaks the lock of a dead process and an old lock from another host', async () => {
    const d = sha('stale');
    const lockPath = join(root, 'locks', `sha256-${d.slice(7)}.lock`);
    (await cache.lockForDownload(d))!.release().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(lockPath, `${deadPid()} ${hostname()}\n`);
    const a = await cache.lockForDownload(d);
    expect(a).not.toBeNull();
    await a!.release();
    writeFileSync(lockPath, '1 some-other-node\n');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(lockPath, old, old);
    const b = await cache.lockForDownload(d);
    expect(b).not.toBeNull();
    await b!.release();
  });

  it('stops waiting when aborted', async () => {
    const d = sha('abort');
    const held = (await cache.lockForDownload(d))!;
    const ac = new AbortController();
    const waiting = cache.lockForDownload(d, undefined, ac.signal);
    setTimeout(() => ac.abort(), 50);
    await expectSifError(waiting, 'SIF_E_BUILD_INTERRUPTED');
    await held.release();
  });
});

describe('list and clean', () => {
  it('lists blobs, tags, totals and downloads in progress', async () => {
    await cache.putBytes(sha('aa'), Buffer.from('aa'));
    await cache.putBytes(sha('bbbb'), Buffer.from('bbbb'));
    await cache.tags.set({ reference: 'r.io/a:1', digest: sha('aa'), mediaType: 'x', resolvedAt: '2024-01-01T00:00:00Z' });
    writeFileSync(join(blobDir(), `.tmp.${'0'.repeat(64)}.${process.pid}.ab.${hostname()}`), 'partial');
    const l = await cache.list();
    expect(l.root).toBe(root);
    expect(l.blobs.map((b) => b.size).sort()).toEqual([2, 4]);
    expect(l.totalBytes).toBe(6);
    expect(l.partial).toEqual({ count: 1, bytes: 7 });
    expect(l.tags).toEqual([{ reference: 'r.io/a:1', digest: sha('aa'), mediaType: 'x', resolvedAt: '2024-01-01T00:00:00Z' }]);
    expect(await cache.tags.get('r.io/a:1')).toMatchObject({ digest: sha('aa') });
    expect(await cache.tags.get('r.io/a:2')).toBeNull();
  });

  it('empties the cache but spares what running builds write', async () => {
    const kept = sha('locked');
    await cache.putBytes(sha('gone'), Buffer.from('gone'));
    await cache.putBytes(kept, Buffer.from('locked'));
    await cache.tags.set({ reference: 'r.io/a:1', digest: kept, mediaType: 'x', resolvedAt: 'now' });
    const lock = (await cache.lockForDownload(kept))!;
    const live = `.tmp.${'1'.repeat(64)}.${process.pid}.ab.${hostname()}`;
    const dead = `.tmp.${'2'.repeat(64)}.${deadPid()}.cd.${hostname()}`;
    writeFileSync(join(blobDir(), live), 'x');
    writeFileSync(join(blobDir(), dead), 'yy');

    const dry = await cache.clean({ dryRun: true });
    expect(dry).toEqual({ removedBlobs: 1, removedBytes: 6, removedTags: 1, busy: 2 });
    expect(files().length).toBe(4);

    expect(await cache.clean()).toEqual({ removedBlobs: 1, removedBytes: 6, removedTags: 1, busy: 2 });
    expect(files().sort()).toEqual([kept.slice(7), live].sort());
    expect(await cache.tags.list()).toEqual([]);
    await lock.release();
    expect((await cache.clean()).removedBlobs).toBe(1);
  });

  it('copes with a cache that does not exist yet', async () => {
    const empty = new BlobCache(join(root, 'none'));
    expect(await empty.list()).toMatchObject({ blobs: [], tags: [], totalBytes: 0 });
    expect(await empty.clean()).toEqual({ removedBlobs: 0, removedBytes: 0, removedTags: 0, busy: 0 });
  });
});
