// Where the image builder's tests find their inputs: the OCI fixtures made by
// scripts/test-images.sh and the local registries started by scripts/test-registry.sh
// (both run by scripts/test.sh as root, before jest). Nothing here starts anything.
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { REPO_ROOT, testImagesDir } from './unprivileged.js';

const REGISTRY_HINT = 'run `bash scripts/test-registry.sh start` as root (scripts/test.sh does)';
const IMAGES_HINT = 'run `bash scripts/test-images.sh` as root (scripts/test.sh does)';

export interface Registry {
  /** e.g. https://127.0.0.1:5443 */
  url: string;
  /** host:port, as in image references */
  host: string;
}

/** htpasswd auth: Basic challenge with this realm. */
export interface BasicRegistry extends Registry {
  user: string;
  password: string;
  realm: string;
}

/** Token auth: Bearer challenge; anonymous may pull public/*, the user everything. */
export interface TokenRegistry extends Registry {
  user: string;
  password: string;
  /** The token endpoint, https://127.0.0.1:5445/token */
  realm: string;
  service: string;
  issuer: string;
}

export interface PushedImage {
  digest: string;
  mediaType: string;
}

/** .cache/test-registry/env.json, as scripts/test-registry.sh writes it. */
export interface TestRegistries {
  /** PEM of the test CA that signed the registries' and token server's certificates. */
  caFile: string;
  /** A directory holding only ca.crt, for skopeo --cert-dir / --src-cert-dir. */
  certDir: string;
  basic: BasicRegistry;
  token: TokenRegistry;
  /** Plain http, no auth. */
  plain: Registry;
  /** Stamp of the fixtures that were pushed (test-images' oci-fixtures.stamp). */
  fixtures: string;
  /**
   * What was pushed, by full reference ("127.0.0.1:5443/sif/small:latest"): basic holds
   * sif/small:{latest,v2s2,zstd}, sif/python:latest and sif/multi:latest (an index);
   * token public/small:latest and private/small:latest; plain sif/small:latest.
   */
  images: Record<string, PushedImage>;
}

export function testRegistryDir(): string {
  return process.env['SIF_TEST_REGISTRY'] ?? join(REPO_ROOT, '.cache', 'test-registry');
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET (or HEAD) that trusts the test CA; never throws on an HTTP error status. */
export function httpGet(
  url: string,
  opts: { caFile?: string; headers?: Record<string, string>; method?: 'GET' | 'HEAD'; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers ?? {},
        timeout: opts.timeoutMs ?? 10_000,
        ...(u.protocol === 'https:' && opts.caFile ? { ca: readFileSync(opts.caFile) } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in time`)));
    req.on('error', reject);
    req.end();
  });
}

let registries: Promise<TestRegistries> | undefined;

/**
 * The running test registries (env.json), after checking that each answers; throws an
 * error saying how to start them when they are not there.
 */
export function testRegistries(): Promise<TestRegistries> {
  registries ??= loadRegistries();
  return registries;
}

async function loadRegistries(): Promise<TestRegistries> {
  const file = join(testRegistryDir(), 'env.json');
  if (!existsSync(file)) throw new Error(`test registries not set up (${file} is missing): ${REGISTRY_HINT}`);
  const env = JSON.parse(readFileSync(file, 'utf8')) as TestRegistries;
  const probes: [string, string, number[]][] = [
    ['basic', `${env.basic.url}/v2/`, [401]],
    ['token', `${env.token.url}/v2/`, [401]],
    ['plain', `${env.plain.url}/v2/`, [200]],
    ['token server', `${env.token.realm}?service=${encodeURIComponent(env.token.service)}`, [200]],
  ];
  await Promise.all(
    probes.map(async ([name, url, expected]) => {
      let status: number | string;
      try {
        status = (await httpGet(url, { caFile: env.caFile, timeoutMs: 3_000 })).status;
      } catch (err) {
        status = (err as Error).message;
      }
      if (typeof status !== 'number' || !expected.includes(status)) {
        throw new Error(`test registry ${name} does not answer at ${url} (${status}): ${REGISTRY_HINT}`);
      }
    }),
  );
  return env;
}

/** Paths of the OCI fixtures (see scripts/test-images.sh for what each holds). */
export interface TestImages {
  dir: string;
  /** OCI layout, tags: small, small-arm64, python, multi (an index: amd64 small + arm64). */
  oci: string;
  /** OCI layout, tag small, zstd-compressed layers. */
  ociZstd: string;
  /** OCI layout, tag small, uncompressed layers. */
  ociPlain: string;
  /** OCI archives (tag inside = the key); multi holds the index and both manifests. */
  ociArchive: { small: string; python: string; multi: string };
  /** docker save-style archives, tagged sif/small:latest and sif/python:latest. */
  dockerArchive: { small: string; python: string };
  /** `umoci unpack` of each tag (owners kept): the reference a flattened tree must match. */
  unpacked: { small: string; 'small-arm64': string; python: string };
  /** Hash of the scripts and inputs that made them. */
  stamp: string;
}

export function testImages(): TestImages {
  const dir = testImagesDir();
  const stampFile = join(dir, 'oci-fixtures.stamp');
  if (!existsSync(stampFile)) throw new Error(`OCI test fixtures not built (${stampFile} is missing): ${IMAGES_HINT}`);
  return {
    dir,
    oci: join(dir, 'oci'),
    ociZstd: join(dir, 'oci-zstd'),
    ociPlain: join(dir, 'oci-plain'),
    ociArchive: {
      small: join(dir, 'oci-archive', 'small.tar'),
      python: join(dir, 'oci-archive', 'python.tar'),
      multi: join(dir, 'oci-archive', 'multi.tar'),
    },
    dockerArchive: { small: join(dir, 'docker-archive', 'small.tar'), python: join(dir, 'docker-archive', 'python.tar') },
    unpacked: {
      small: join(dir, 'unpacked', 'small', 'rootfs'),
      'small-arm64': join(dir, 'unpacked', 'small-arm64', 'rootfs'),
      python: join(dir, 'unpacked', 'python', 'rootfs'),
    },
    stamp: readFileSync(stampFile, 'utf8').trim(),
  };
}
