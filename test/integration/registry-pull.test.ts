// Pulls from the real registries of scripts/test-registry.sh (docker-registry with
// htpasswd, with token auth and our token server, and plain HTTP): auth flows, refusals,
// not-found errors, TLS trust, multi-arch choice and media types. Jest runs as root,
// which is fine here: the registry client is not namespaced code. Each test has its own
// cache directory and HOME (so no real login or Docker config is read).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobCache } from '../../src/build/cache/blob-cache.js';
import { MEDIA, type ResolvedImage } from '../../src/build/image-source.js';
import { saveCredentials } from '../../src/build/registry/credentials.js';
import { openRegistryImage, type RegistryImageOptions } from '../../src/build/registry/registry-source.js';
import { pullWhole } from '../support/read-layers.js';
import { testRegistries, type TestRegistries } from '../support/registry.js';
import { expectSifError } from '../unit/image/support.js';

let env: TestRegistries;
let tmp: string;
beforeAll(async () => {
  env = await testRegistries();
});
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sif-registry-pull-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const creds = () => ({ username: env.basic.user, password: env.basic.password });
function options(extra: RegistryImageOptions = {}): RegistryImageOptions {
  return { cache: new BlobCache(join(tmp, 'cache')), caCerts: [env.caFile], env: { HOME: tmp }, http: { retryBaseMs: 10 }, ...extra };
}
const pushed = (ref: string) => env.images[ref]!;


function pull(ref: string, extra: RegistryImageOptions = {}): Promise<ResolvedImage> {
  return pullWhole(openRegistryImage(ref, options(extra)));
}

describe('basic auth (htpasswd)', () => {
  it('pulls sif/small with the given credentials, every blob verified and cached', async () => {
    const ref = `${env.basic.host}/sif/small:latest`;
    const img = await pull(`docker://${ref}`, { credentials: creds() });
    expect(img.manifestDigest).toBe(pushed(ref).digest);
    expect(img.source).toBe(`docker://${ref}`);
    expect(img.config.rootfs?.diff_ids.length).toBe(img.layers.length);
    const listing = await new BlobCache(join(tmp, 'cache')).list();
    expect(listing.partial.count).toBe(0);
    for (const l of img.layers) expect(listing.blobs.map((b) => b.digest)).toContain(l.descriptor.digest);
    expect(listing.tags.map((t) => t.reference)).toEqual([ref]);
  });

  it('uses a login saved by sif registry login, then one from ~/.docker/config.json', async () => {
    await saveCredentials(env.basic.host, creds(), { HOME: tmp });
    await pull(`${env.basic.host}/sif/small`);
    rmSync(join(tmp, '.config'), { recursive: true });
    mkdirSync(join(tmp, '.docker'));
    const auth = Buffer.from(`${env.basic.user}:${env.basic.password}`).toString('base64');
    writeFileSync(join(tmp, '.docker', 'config.json'), JSON.stringify({ auths: { [`https://${env.basic.host}`]: { auth } } }));
    await pull(`${env.basic.host}/sif/small`, { cache: new BlobCache(join(tmp, 'cache2')) });
  });

  it('refuses wrong credentials, naming the registry and the user', async () => {
    const e = await expectSifError(openRegistryImage(`${env.basic.host}/sif/small`, options({ credentials: { username: 'sifuser', password: 'nope' } })),
      'SIF_E_REGISTRY_AUTH', `registry ${env.basic.host} refused the credentials of user sifuser`);
    expect(e.hint).toContain('sif registry login');
  });

  it('asks for a login when none is given', async () => {
    await expectSifError(openRegistryImage(`${env.basic.host}/sif/small`, options()), 'SIF_E_REGISTRY_AUTH', 'requires a login (no credentials were sent)');
  });

  it('says which tag is missing, and lists the tags there', async () => {
    const e = await expectSifError(openRegistryImage(`${env.basic.host}/sif/small:nope`, options({ credentials: creds() })),
      'SIF_E_REGISTRY_NOT_FOUND', 'tag nope not found in repository sif/small');
    expect(e.hint).toContain('latest');
  });

  it('says when the repository does not exist', async () => {
    await expectSifError(openRegistryImage(`${env.basic.host}/sif/nothing-here:latest`, options({ credentials: creds() })),
      'SIF_E_REGISTRY_NOT_FOUND', `repository sif/nothing-here on ${env.basic.host} not found`);
  });

  it('says when a digest is unknown', async () => {
    const d = `sha256:${'0'.repeat(64)}`;
    await expectSifError(openRegistryImage(`${env.basic.host}/sif/small@${d}`, options({ credentials: creds() })),
      'SIF_E_REGISTRY_NOT_FOUND', `manifest ${d} not found`);
  });
});

describe('token auth', () => {
  it('pulls public/ anonymously', async () => {
    const ref = `${env.token.host}/public/small:latest`;
    const img = await pull(ref);
    expect(img.manifestDigest).toBe(pushed(ref).digest);
  });

  it('pulls private/ with credentials', async () => {
    await pull(`${env.token.host}/private/small:latest`, { credentials: creds() });
  });

  it('denies private/ without credentials, saying none were sent', async () => {
    const e = await expectSifError(openRegistryImage(`${env.token.host}/private/small:latest`, options()),
      'SIF_E_REGISTRY_AUTH', `registry ${env.token.host} denied pull access to private/small (no credentials were sent)`);
    expect(e.hint).toContain('login');
  });

  it('reports credentials the token server refuses', async () => {
    await expectSifError(openRegistryImage(`${env.token.host}/public/small:latest`, options({ credentials: { username: 'sifuser', password: 'bad' } })),
      'SIF_E_REGISTRY_AUTH', `registry ${env.token.host} refused the credentials of user sifuser`);
  });

  it('reports an unknown tag behind token auth', async () => {
    await expectSifError(openRegistryImage(`${env.token.host}/public/small:v9`, options()), 'SIF_E_REGISTRY_NOT_FOUND', 'tag v9 not found');
  });
});

describe('TLS', () => {
  const ref = () => `${env.token.host}/public/small:latest`;

  it('fails without the CA, with a hint about --ca-cert, SSL_CERT_FILE and --insecure', async () => {
    const e = await expectSifError(openRegistryImage(ref(), options({ caCerts: [] })), 'SIF_E_REGISTRY_TLS', env.token.host, 'not trusted');
    expect(e.hint).toMatch(/--ca-cert.*SSL_CERT_FILE.*--insecure/);
  });

  it('trusts SSL_CERT_FILE', async () => {
    await pull(ref(), { caCerts: [], env: { HOME: tmp, SSL_CERT_FILE: env.caFile } });
  });

  it('trusts nothing from a missing CA file, and says so', async () => {
    await expectSifError(openRegistryImage(ref(), options({ caCerts: [join(tmp, 'missing.pem')] })), 'SIF_E_REGISTRY_TLS', 'missing.pem');
  });

  it('--insecure skips the check', async () => {
    await pull(ref(), { caCerts: [], insecure: true });
  });
});

describe('plain HTTP', () => {
  it('is refused unless --insecure', async () => {
    const e = await expectSifError(openRegistryImage(`${env.plain.host}/sif/small`, options()), 'SIF_E_REGISTRY_TLS', env.plain.host);
    expect(e.hint).toContain('--insecure');
  });

  it('is used with --insecure', async () => {
    const ref = `${env.plain.host}/sif/small:latest`;
    expect((await pull(ref, { insecure: true })).manifestDigest).toBe(pushed(ref).digest);
  });
});

describe('platforms and media types', () => {
  const multi = () => `${env.basic.host}/sif/multi:latest`;

  it.each(['amd64', 'arm64'])('chooses %s from a multi-arch index', async (arch) => {
    const img = await pull(multi(), { credentials: creds(), arch });
    expect(img.config.architecture).toBe(arch);
    expect((img as { indexDigest?: string }).indexDigest).toBe(pushed(multi()).digest);
    expect(img.manifestDigest).not.toBe(pushed(multi()).digest);
  });

  it('lists the platforms there are when the wanted one is missing', async () => {
    const e = await expectSifError(openRegistryImage(multi(), options({ credentials: creds(), arch: 'ppc64le' })),
      'SIF_E_BUILD_PLATFORM', 'has no image for linux/ppc64le');
    expect(e.hint).toContain('linux/amd64, linux/arm64/v8');
  });

  it('reads Docker schema 2 manifests and layer types', async () => {
    const ref = `${env.basic.host}/sif/small:v2s2`;
    const img = await pull(ref, { credentials: creds() });
    expect(pushed(ref).mediaType).toBe(MEDIA.dockerManifest);
    expect(img.manifestDigest).toBe(pushed(ref).digest);
    for (const l of img.layers) expect(l.descriptor.mediaType).toBe(MEDIA.dockerLayerGzip);
  });

  it('reads zstd layers', async () => {
    const ref = `${env.basic.host}/sif/small:zstd`;
    const img = await pull(ref, { credentials: creds() });
    expect(img.manifestDigest).toBe(pushed(ref).digest);
    expect(img.layers.some((l) => l.descriptor.mediaType === MEDIA.ociLayerZstd)).toBe(true);
  });

  it('pulls a bigger image (sif/python) by digest', async () => {
    const ref = `${env.basic.host}/sif/python:latest`;
    const img = await pull(`${env.basic.host}/sif/python@${pushed(ref).digest}`, { credentials: creds(), concurrency: 2 });
    expect(img.manifestDigest).toBe(pushed(ref).digest);
  }, 120_000);
});
