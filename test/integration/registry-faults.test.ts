// Registry failures that the real docker-registry will not produce on demand, served by
// a small HTTPS registry written here (a real server on 127.0.0.1 with the test CA's
// certificate, speaking the distribution API for one image): 5xx and 429 answers,
// dropped and stalled connections, bytes that do not match their digest, lying
// Docker-Content-Digest headers, schema 1 manifests and redirects to another host.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { BlobCache } from '../../src/build/cache/blob-cache.js';
import { MEDIA, type ResolvedImage } from '../../src/build/image-source.js';
import { openRegistryImage, type RegistryImageOptions } from '../../src/build/registry/registry-source.js';
import { pullWhole } from '../support/read-layers.js';
import { testRegistries, type TestRegistries } from '../support/registry.js';
import { expectSifError } from '../unit/image/support.js';
import { tarball } from '../unit/build/merge/support.js';
import { requireHost, userTempDir } from '../support/unprivileged.js';
import { buildAsUser, leftovers } from './build-support.js';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const USER = 'u';
const PASSWORD = 'p';

/** One tiny image: a gzip layer (one 256 KiB file) big enough to be cut in the middle, a config, a manifest. */
function makeImage() {
  const layer = gzipSync(tarball([{ name: 'data', data: Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.alloc(4096, i))) }]), { level: 0 });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: [] } }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: { mediaType: MEDIA.ociConfig, digest: sha(config), size: config.length },
    layers: [{ mediaType: MEDIA.ociLayerGzip, digest: sha(layer), size: layer.length }],
  }));
  return { layer, config, manifest, damaged: damaged(layer) };
}

/**
 * The layer with one byte of its file's data changed, in its last quarter: still a
 * well-formed gzip stream up to its checksum (level 0 stores the bytes), so only the
 * digest (and the gzip CRC, at the very end) can tell.
 */
function damaged(layer: Buffer): Buffer {
  for (let p = (layer.length * 3) >> 2; p < layer.length; p++) {
    const bad = Buffer.from(layer);
    bad[p] = bad[p]! ^ 0x55;
    try {
      gunzipSync(bad);
    } catch (e) {
      if (/incorrect data check/.test((e as Error).message)) return bad;
    }
  }
  throw new Error('no byte of the test layer can be changed without breaking its gzip structure');
}

interface Plan {
  /** Statuses answered (in turn) to blob requests before the real answer. */
  blobFailures: { status: number; retryAfter?: string }[];
  manifestFailures: number[];
  /** Cut this many layer downloads in the middle. */
  drops: number;
  /** Never answer this many layer requests. */
  hangs: number;
  /** Serve other bytes (same length) for the layer. */
  lie: boolean;
  /** Serve the damaged layer (one byte changed, late in it), pausing halfway so a reader takes the first half. */
  lateLie?: boolean;
  /** Send this Docker-Content-Digest with manifests. */
  headerDigest?: string;
  /** Serve this body as the manifest. */
  manifestBody?: Buffer;
  /** Redirect blob requests to this origin. */
  redirectTo?: string;
}

class FakeRegistry {
  readonly requests: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  plan: Plan = { blobFailures: [], manifestFailures: [], drops: 0, hangs: 0, lie: false };
  readonly image = makeImage();
  private server?: https.Server;
  port = 0;

  constructor(private readonly tls: { cert: Buffer; key: Buffer }, private readonly requireAuth: boolean) {}

  async start(): Promise<void> {
    this.server = https.createServer(this.tls, (req, res) => this.handle(req.method!, req.url!, req.headers, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private handle(method: string, url: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    this.requests.push({ method, url, headers });
    const { layer, config, manifest } = this.image;
    const p = this.plan;
    if (this.requireAuth && url.startsWith('/v2/') && headers.authorization !== `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
      return void res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
    }
    if (url === '/v2/') return void res.end('{}');
    const m = /^\/(?:v2\/fake\/img\/(manifests|blobs)|storage)\/(.+)$/.exec(url);
    if (!m) return void res.writeHead(404).end();
    if (m[1] === 'manifests') {
      const failure = p.manifestFailures.shift();
      if (failure) return void res.writeHead(failure).end();
      const body = p.manifestBody ?? manifest;
      res.writeHead(200, { 'content-type': MEDIA.ociManifest, 'docker-content-digest': p.headerDigest ?? sha(body), 'content-length': body.length });
      return void res.end(method === 'HEAD' ? undefined : body);
    }
    if (m[1] === 'blobs') {
      const failure = p.blobFailures.shift();
      if (failure) return void res.writeHead(failure.status, failure.retryAfter ? { 'retry-after': failure.retryAfter } : {}).end();
      if (p.redirectTo) return void res.writeHead(307, { location: `${p.redirectTo}/storage/${m[2]}` }).end();
    }
    const digest = m[2]!;
    const blob = digest === sha(config) ? config : digest === sha(layer) ? layer : undefined;
    if (!blob) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    res.writeHead(200, { 'content-length': blob.length, 'content-type': 'application/octet-stream' });
    if (blob === layer && p.hangs > 0) {
      p.hangs--;
      return; // headers sent, no body: the client's idle timeout must fire
    }
    if (blob === layer && p.drops > 0) {
      p.drops--;
      res.write(blob.subarray(0, blob.length >> 1));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    if (blob === layer && p.lateLie) {
      const bad = this.image.damaged;
      res.write(bad.subarray(0, bad.length >> 1));
      setTimeout(() => res.end(bad.subarray(bad.length >> 1)), 300);
      return;
    }
    res.end(blob === layer && p.lie ? Buffer.alloc(blob.length, 0x42) : blob);
  }
}

let env: TestRegistries;
let tls: { cert: Buffer; key: Buffer };
let tmp: string;
let reg: FakeRegistry;
beforeAll(async () => {
  env = await testRegistries();
  const caDir = join(env.caFile, '..');
  tls = { cert: readFileSync(join(caDir, 'server.crt')), key: readFileSync(join(caDir, 'server.key')) };
});
beforeEach(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sif-registry-faults-'));
  reg = new FakeRegistry(tls, true);
  await reg.start();
});
afterEach(async () => {
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const ref = () => `127.0.0.1:${reg.port}/fake/img:latest`;
const cacheDir = () => join(tmp, 'cache');
function options(extra: RegistryImageOptions = {}): RegistryImageOptions {
  return {
    cache: new BlobCache(cacheDir()), caCerts: [env.caFile], env: { HOME: tmp },
    credentials: { username: USER, password: PASSWORD }, http: { retryBaseMs: 5, tries: 4 }, ...extra,
  };
}
function pull(extra: RegistryImageOptions = {}): Promise<ResolvedImage> {
  return pullWhole(openRegistryImage(ref(), options(extra)));
}
const tempFiles = () => {
  try {
    return readdirSync(join(cacheDir(), 'blobs', 'sha256')).filter((n) => n.startsWith('.tmp'));
  } catch {
    return [];
  }
};

describe('retries', () => {
  it('retries 5xx and 429 answers, honouring Retry-After', async () => {
    reg.plan.blobFailures = [{ status: 503 }, { status: 429, retryAfter: '1' }, { status: 502 }];
    const retries: string[] = [];
    const t0 = Date.now();
    await pull({ http: { retryBaseMs: 5, tries: 5, onRetry: (r) => retries.push(r.reason) } });
    expect(retries).toEqual(['HTTP 503', 'HTTP 429', 'HTTP 502']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('retries manifests too', async () => {
    reg.plan.manifestFailures = [500, 504];
    const retries: string[] = [];
    await pull({ http: { retryBaseMs: 5, tries: 4, onRetry: (r) => retries.push(r.reason) } });
    expect(retries).toEqual(['HTTP 500', 'HTTP 504']);
    // After the unauthenticated try that fetches the challenge: the GET of the tag 3
    // times (500, 504, then 200); no HEAD first, as nothing is cached.
    const manifestRequests = reg.requests.filter((r) => r.url.includes('/manifests/') && r.headers.authorization);
    expect(manifestRequests.map((r) => r.method)).toEqual(['GET', 'GET', 'GET']);
  });

  it('gives up after the tries, with the status', async () => {
    reg.plan.blobFailures = Array.from({ length: 10 }, () => ({ status: 503 }));
    await expectSifError(pull({ http: { retryBaseMs: 1, tries: 3 } }), 'SIF_E_REGISTRY_HTTP', 'HTTP 503');
    expect(tempFiles()).toEqual([]);
  });

  it('downloads again after a dropped connection, keeping no partial file', async () => {
    reg.plan.drops = 2;
    const warnings: string[] = [];
    await pull({ onWarning: (w) => warnings.push(w) });
    expect(warnings.filter((w) => w.includes('dropped')).length).toBe(2);
    expect(tempFiles()).toEqual([]);
    expect(await new BlobCache(cacheDir()).has(sha(reg.image.layer))).toBe(true);
  });

  it('times out a stalled download and tries again', async () => {
    reg.plan.hangs = 1;
    await pull({ http: { retryBaseMs: 5, tries: 3, timeoutMs: 300 } });
    expect(tempFiles()).toEqual([]);
  });
});

describe('bytes that do not match their digest', () => {
  const layerRequests = () => reg.requests.filter((r) => r.url.endsWith(sha(reg.image.layer))).length;

  it('are fetched again while no reader has taken any, then fail the layer naming it; nothing is cached', async () => {
    reg.plan.lie = true;
    const layerDigest = sha(reg.image.layer);
    const img = await openRegistryImage(ref(), options());
    try {
      // Nobody reads the layer until its three downloads were made.
      for (let i = 0; i < 500 && layerRequests() < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(layerRequests()).toBe(3);
      await expectSifError(pullWhole(Promise.resolve(img)), 'SIF_E_BUILD_DIGEST', layerDigest);
    } finally {
      await img.close();
    }
    expect(layerRequests()).toBe(3);
    expect(await new BlobCache(cacheDir()).has(layerDigest)).toBe(false);
    expect(tempFiles()).toEqual([]);
  });

  it('read while they download fail the reader with SIF_E_BUILD_DIGEST, not the gzip check; no retry, nothing cached', async () => {
    reg.plan.lateLie = true;
    const layerDigest = sha(reg.image.layer);
    const e = await expectSifError(pull(), 'SIF_E_BUILD_DIGEST', layerDigest);
    expect(e.message).toContain('does not match its digest');
    expect(layerRequests()).toBe(1); // the reader had the first half: bytes handed on are not taken back
    expect(await new BlobCache(cacheDir()).has(layerDigest)).toBe(false);
    expect(tempFiles()).toEqual([]);
  });

  it('refuse a manifest whose Docker-Content-Digest does not match', async () => {
    reg.plan.headerDigest = `sha256:${'1'.repeat(64)}`;
    await expectSifError(openRegistryImage(ref(), options()), 'SIF_E_BUILD_DIGEST', 'tag latest', 'does not match its digest');
  });

  it('refuse another manifest than the digest asked for', async () => {
    const other = Buffer.from(reg.image.manifest.toString().replace('"schemaVersion":2', '"schemaVersion": 2'));
    reg.plan.manifestBody = other;
    const want = sha(reg.image.manifest);
    await expectSifError(openRegistryImage(`127.0.0.1:${reg.port}/fake/img@${want}`, options()), 'SIF_E_BUILD_DIGEST', `expected ${want}`);
  });
});

describe('manifests sif refuses', () => {
  it('says schema 1 is not supported', async () => {
    reg.plan.manifestBody = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'fake/img', tag: 'latest', fsLayers: [] }));
    const e = await expectSifError(openRegistryImage(ref(), options()), 'SIF_E_BUILD_SOURCE', 'schema 1');
    expect(e.hint).toContain('push the image again');
  });

  it('says an artifact is not a container image', async () => {
    reg.plan.manifestBody = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.cncf.helm.chart.v1+json', config: { mediaType: 'x', digest: sha(Buffer.from('x')), size: 1 }, layers: [],
    }));
    await expectSifError(openRegistryImage(ref(), options()), 'SIF_E_BUILD_SOURCE', 'not a container image');
  });
});

describe('redirects', () => {
  it('follow blob redirects to another host without the Authorization header', async () => {
    const storage = new FakeRegistry(tls, false);
    await storage.start();
    try {
      // The same address under another name: the client must treat it as another host.
      reg.plan.redirectTo = `https://localhost:${storage.port}`;
      await pull();
      const fetched = storage.requests.filter((r) => r.url.startsWith('/storage/'));
      expect(fetched.length).toBe(2); // config and layer
      for (const r of fetched) expect(r.headers.authorization).toBeUndefined();
      expect(reg.requests.filter((r) => r.url.includes('/blobs/')).every((r) => r.headers.authorization)).toBe(true);
    } finally {
      await storage.stop();
    }
  });
});

describe('sif build from a registry serving a bad layer', () => {
  const layerRequests = () => reg.requests.filter((r) => r.url.endsWith(sha(reg.image.layer))).length;

  it('fails cleanly while merging it: digest error naming the layer, no SIF, no cache entry, no temp file', async () => {
    requireHost();
    reg.plan.lateLie = true;
    const layerDigest = sha(reg.image.layer);
    const dir = userTempDir('sif-build-bad-blob-');
    try {
      const target = join(dir, 'bad.sif');
      const r = await buildAsUser(['--ca-cert', env.caFile, '--username', USER, target, `docker://${ref()}`],
        { env: { SIF_PASSWORD: PASSWORD, SIF_CACHEDIR: join(dir, 'cache') } });
      expect(r.exitCode).toBe(125);
      expect(r.stderr).toContain(layerDigest);
      expect(r.stderr).toContain('does not match its digest');
      expect(existsSync(target)).toBe(false);
      expect(leftovers(dir, ['cache'])).toEqual([]);
      expect(layerRequests()).toBe(1);
      const blobs = readdirSync(join(dir, 'cache', 'blobs', 'sha256'));
      expect(blobs.filter((n) => n.includes(layerDigest.slice(7)))).toEqual([]); // neither the blob nor a temp file
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
