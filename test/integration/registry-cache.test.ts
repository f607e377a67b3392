// The blob cache under real pulls: rebuilds from the cache (no request at all for a
// digest, one HEAD for a tag, none offline), a corrupted entry found and fetched again,
// concurrent pulls sharing downloads, and an abort in the middle of a download. The
// requests are counted by a small HTTP proxy in front of the plain test registry
// (docker-registry on 127.0.0.1, reached with --insecure).
import { mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobCache } from '../../src/build/cache/blob-cache.js';
import type { ResolvedImage } from '../../src/build/image-source.js';
import { openRegistryImage, type LayerProgress, type RegistryImageOptions } from '../../src/build/registry/registry-source.js';
import { pullWhole, readLayers } from '../support/read-layers.js';
import { testRegistries, type TestRegistries } from '../support/registry.js';
import { expectSifError } from '../unit/image/support.js';

/** Forwards to a registry and records each request; can stall blob bodies. */
class CountingProxy {
  readonly requests: string[] = [];
  /** Blob requests being answered now, and the most there ever were. */
  inFlight = 0;
  maxInFlight = 0;
  /** Stop forwarding a blob's body after this many bytes (the connection stays open). */
  stallBlobsAfter?: number;
  private server?: http.Server;
  port = 0;

  constructor(private readonly target: URL) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.requests.push(`${req.method} ${req.url}`);
      if (req.url!.includes('/blobs/')) {
        this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
        res.on('close', () => this.inFlight--);
      }
      const up = http.request(new URL(req.url!, this.target), { method: req.method, headers: { ...req.headers, host: this.target.host } }, (ur) => {
        res.writeHead(ur.statusCode!, ur.headers);
        const stallAt = req.url!.includes('/blobs/') ? this.stallBlobsAfter : undefined;
        if (stallAt === undefined) return void ur.pipe(res);
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          if (sent >= stallAt) return;
          res.write(c);
          sent += c.length;
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  count(part: string): number {
    return this.requests.filter((r) => r.includes(part)).length;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

let env: TestRegistries;
let tmp: string;
let proxy: CountingProxy;
beforeAll(async () => {
  env = await testRegistries();
});
beforeEach(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sif-registry-cache-'));
  proxy = new CountingProxy(new URL(env.plain.url));
  await proxy.start();
});
afterEach(async () => {
  await proxy.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const cacheDir = () => join(tmp, 'cache');
const digest = () => env.images[`${env.plain.host}/sif/small:latest`]!.digest;
function options(extra: RegistryImageOptions = {}): RegistryImageOptions {
  return { cache: new BlobCache(cacheDir()), insecure: true, env: { HOME: tmp }, http: { retryBaseMs: 10, tries: 2 }, ...extra };
}
function pull(ref: string, extra: RegistryImageOptions = {}): Promise<ResolvedImage> {
  return pullWhole(openRegistryImage(ref, options(extra)));
}
const leftovers = () => {
  const names = (dir: string) => { try { return readdirSync(dir); } catch { return []; } };
  return [...names(join(cacheDir(), 'blobs', 'sha256')).filter((n) => n.startsWith('.tmp')), ...names(join(cacheDir(), 'locks'))];
};

describe('rebuilds from the cache', () => {
  it('makes no request at all for a cached digest reference, even with the registry gone', async () => {
    const ref = () => `${proxy.host}/sif/small@${digest()}`;
    await pull(ref());
    expect(proxy.count('/blobs/')).toBeGreaterThan(0);
    proxy.requests.length = 0;
    await pull(ref());
    expect(proxy.requests).toEqual([]);
    await proxy.stop(); // a closed port: any request would fail
    const img = await pull(ref());
    expect(img.manifestDigest).toBe(digest());
  });

  it('asks only for the tag (one HEAD) when the tag is cached', async () => {
    await pull(`${proxy.host}/sif/small:latest`);
    // Nothing was cached: the manifest was fetched straight away, with no HEAD before it.
    expect(proxy.requests.filter((r) => r.includes('/manifests/'))).toEqual(['GET /v2/sif/small/manifests/latest']);
    proxy.requests.length = 0;
    await pull(`${proxy.host}/sif/small:latest`);
    expect(proxy.requests).toEqual(['HEAD /v2/sif/small/manifests/latest']);
  });

  it('uses the last resolution of a tag when the registry cannot be reached, with a warning', async () => {
    const ref = `${proxy.host}/sif/small:latest`;
    await pull(ref);
    await proxy.stop();
    const warnings: string[] = [];
    const img = await pull(ref, { onWarning: (w) => warnings.push(w) });
    expect(img.manifestDigest).toBe(digest());
    expect(warnings.join('\n')).toMatch(/cannot be reached.*using sha256:/);
  });

  it('offline: no request, the cached tag; an error naming what is missing when nothing is cached', async () => {
    const ref = `${proxy.host}/sif/small:latest`;
    await expectSifError(openRegistryImage(ref, options({ offline: true })), 'SIF_E_CACHE', 'not in the cache');
    await pull(ref);
    proxy.requests.length = 0;
    const warnings: string[] = [];
    await pull(ref, { offline: true, onWarning: (w) => warnings.push(w) });
    expect(proxy.requests).toEqual([]);
    expect(warnings.join()).toContain('offline');
  });
});

describe('a corrupted cache entry', () => {
  it('fails the read that finds it (checked as streamed), is discarded, and is downloaded again next time', async () => {
    const ref = `${proxy.host}/sif/small@${digest()}`;
    const first = await pull(ref);
    const layer = first.layers[first.layers.length - 1]!.descriptor;
    const cache = new BlobCache(cacheDir());
    chmodSync(cache.pathOf(layer.digest), 0o644);
    const bad = Buffer.alloc(layer.size, 0x41);
    writeFileSync(cache.pathOf(layer.digest), bad);
    proxy.requests.length = 0;
    const warnings: string[] = [];
    await expectSifError(pull(ref, { onWarning: (w) => warnings.push(w) }), 'SIF_E_BUILD_DIGEST', layer.digest, 'cached copy hashes to');
    expect(warnings.join()).toContain(`cached blob ${layer.digest} was corrupt`);
    expect(proxy.requests).toEqual([]);
    expect(await cache.has(layer.digest)).toBe(false);
    await pull(ref);
    expect(proxy.requests).toEqual([`GET /v2/sif/small/blobs/${layer.digest}`]);
    const again = await cache.openVerified(layer.digest, layer.size);
    expect(again).not.toBeNull();
    await again?.close();
  });
});

describe('concurrent pulls', () => {
  it('share downloads: each blob is fetched once, both images read whole', async () => {
    const ref = `${proxy.host}/sif/small:latest`;
    const [a, b] = await Promise.all([pull(ref), pull(ref)]);
    expect(a.manifestDigest).toBe(b.manifestDigest);
    const blobs = proxy.requests.filter((r) => r.includes('/blobs/'));
    expect(blobs.length).toBe(new Set(blobs).size);
    expect(blobs.length).toBe(a.layers.length + 1); // the layers and the config
    expect(leftovers()).toEqual([]);
  });
});

describe('background downloads', () => {
  it('fetch the top layer first, never more at once than asked', async () => {
    const img = await openRegistryImage(`${proxy.host}/sif/small:latest`, options({ concurrency: 2 }));
    await readLayers(img);
    await img.close();
    expect(img.layers.length).toBeGreaterThan(2);
    const blobs = proxy.requests.filter((r) => r.includes('/blobs/'));
    // The layers from the top down, the config beside them. Two layer downloads start
    // together, so the top layer is one of the first two layers the registry sees.
    const digests = img.layers.map((l) => l.descriptor.digest);
    const layerRequests = blobs.filter((r) => digests.some((d) => r.includes(d)));
    const top = digests[digests.length - 1]!;
    expect(layerRequests.slice(0, 2).some((r) => r.includes(top))).toBe(true);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(3); // two layers, and the config
    expect(blobs.length).toBe(digests.length + 1);
  });
});

describe('an abort in the middle of a download', () => {
  it('fails the layer with SIF_E_BUILD_INTERRUPTED and leaves no temp file or lock', async () => {
    proxy.stallBlobsAfter = 64 * 1024;
    const ac = new AbortController();
    const started: LayerProgress[] = [];
    // Layers stall after 64 KiB; the config is small enough to pass whole. Layers start
    // beside the config, so the abort fails the open, or the layer's read.
    let img: ResolvedImage | undefined;
    const pullTop = async () => {
      img = await openRegistryImage(`${proxy.host}/sif/small:latest`, options({
        signal: ac.signal,
        onProgress: (p) => {
          if (p.state === 'downloading') started.push(p);
          if (p.state === 'downloading' && p.done > 0) ac.abort();
        },
      }));
      for await (const _ of await img.layers[img.layers.length - 1]!.open());
    };
    await expectSifError(pullTop(), 'SIF_E_BUILD_INTERRUPTED');
    await img?.close();
    expect(started.length).toBeGreaterThan(0);
    expect(leftovers()).toEqual([]);
    const cache = new BlobCache(cacheDir());
    for (const p of started) expect(await cache.has(p.digest)).toBe(false);
  });

  it('close() alone stops background downloads cleanly', async () => {
    proxy.stallBlobsAfter = 64 * 1024;
    const img = await openRegistryImage(`${proxy.host}/sif/small:latest`, options());
    await new Promise((r) => setTimeout(r, 200));
    await img.close();
    await img.close();
    expect(leftovers()).toEqual([]);
  });
});
