// Checks that the image builder's fixtures are what its tests rely on: the registries
// answer with the expected challenges and grants, skopeo can read them, and the layers
// of `small` really hold whiteouts, an opaque marker and hard links.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { MEDIA } from '../../src/build/image-source.js';
import { httpGet, testImages, testRegistries, type TestImages, type TestRegistries } from '../support/registry.js';


let env: TestRegistries;
beforeAll(async () => {
  env = await testRegistries();
});

const basicAuth = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function getToken(scope: string, auth?: string): Promise<{ status: number; token?: string; access?: unknown }> {
  const url = `${env.token.realm}?service=${encodeURIComponent(env.token.service)}&scope=${encodeURIComponent(scope)}`;
  const r = await httpGet(url, { caFile: env.caFile, headers: auth ? { Authorization: auth } : {} });
  if (r.status !== 200) return { status: r.status };
  const body = JSON.parse(r.body.toString()) as { token: string; access_token: string; expires_in: number };
  expect(body.access_token).toBe(body.token);
  expect(body.expires_in).toBeGreaterThan(0);
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1]!, 'base64url').toString()) as { access: unknown };
  return { status: 200, token: body.token, access: claims.access };
}

function manifestUrl(registry: { url: string }, repo: string, ref: string): string {
  return `${registry.url}/v2/${repo}/manifests/${ref}`;
}
const accept = { Accept: [MEDIA.ociManifest, MEDIA.ociIndex].join(', ') };

describe('test registries', () => {
  it('basic: Basic challenge, 200 with the right password, 401 with a wrong one', async () => {
    const anon = await httpGet(`${env.basic.url}/v2/`, { caFile: env.caFile });
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toBe(`Basic realm="${env.basic.realm}"`);
    const ok = await httpGet(`${env.basic.url}/v2/`, {
      caFile: env.caFile,
      headers: { Authorization: basicAuth(env.basic.user, env.basic.password) },
    });
    expect(ok.status).toBe(200);
    const bad = await httpGet(`${env.basic.url}/v2/`, {
      caFile: env.caFile,
      headers: { Authorization: basicAuth(env.basic.user, 'wrong') },
    });
    expect(bad.status).toBe(401);
  });

  it('token: Bearer challenge with realm, service and scope', async () => {
    const root = await httpGet(`${env.token.url}/v2/`, { caFile: env.caFile });
    expect(root.status).toBe(401);
    expect(root.headers['www-authenticate']).toBe(`Bearer realm="${env.token.realm}",service="${env.token.service}"`);
    const m = await httpGet(manifestUrl(env.token, 'private/small', 'latest'), { caFile: env.caFile, headers: accept });
    expect(m.status).toBe(401);
    expect(m.headers['www-authenticate']).toBe(
      `Bearer realm="${env.token.realm}",service="${env.token.service}",scope="repository:private/small:pull"`,
    );
  });

  it('plain: http, no auth', async () => {
    const r = await httpGet(`${env.plain.url}/v2/`);
    expect(r.status).toBe(200);
    const m = await httpGet(manifestUrl(env.plain, 'sif/small', 'latest'), { headers: accept });
    expect(m.status).toBe(200);
    expect(m.headers['docker-content-digest']).toBe(env.images[`${env.plain.host}/sif/small:latest`]?.digest);
  });

  it('an anonymous token pulls public/ but not private/', async () => {
    const pub = await getToken('repository:public/small:pull');
    expect(pub.access).toEqual([{ type: 'repository', name: 'public/small', actions: ['pull'] }]);
    const m = await httpGet(manifestUrl(env.token, 'public/small', 'latest'), {
      caFile: env.caFile,
      headers: { ...accept, Authorization: `Bearer ${pub.token}` },
    });
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toBe(MEDIA.ociManifest);
    expect(m.headers['docker-content-digest']).toBe(env.images[`${env.token.host}/public/small:latest`]?.digest);

    const priv = await getToken('repository:private/small:pull,push');
    expect(priv.access).toEqual([{ type: 'repository', name: 'private/small', actions: [] }]);
    const denied = await httpGet(manifestUrl(env.token, 'private/small', 'latest'), {
      caFile: env.caFile,
      headers: { ...accept, Authorization: `Bearer ${priv.token}` },
    });
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
  });

  it('the user gets pull and push on private/; a wrong password gets 401', async () => {
    const t = await getToken('repository:private/small:pull,push', basicAuth(env.token.user, env.token.password));
    expect(t.access).toEqual([{ type: 'repository', name: 'private/small', actions: ['pull', 'push'] }]);
    const m = await httpGet(manifestUrl(env.token, 'private/small', 'latest'), {
      caFile: env.caFile,
      headers: { ...accept, Authorization: `Bearer ${t.token}` },
    });
    expect(m.status).toBe(200);
    const bad = await getToken('repository:private/small:pull', basicAuth(env.token.user, 'wrong'));
    expect(bad.status).toBe(401);
  });

  it('skopeo inspect works with the credentials, on both auth schemes', async () => {
    for (const [reg, repo] of [
      [env.basic, 'sif/small:latest'],
      [env.token, 'private/small:latest'],
    ] as const) {
      const r = await execa('skopeo', [
        'inspect', '--cert-dir', env.certDir, '--creds', `${reg.user}:${reg.password}`, `docker://${reg.host}/${repo}`,
      ]);
      const info = JSON.parse(r.stdout) as { Digest: string; Labels: Record<string, string> };
      expect(info.Digest).toBe(env.images[`${reg.host}/${repo}`]?.digest);
      expect(info.Labels['org.sif.test']).toBe('yes');
    }
  }, 30_000);

  it('holds the pushed variants: v2s2, zstd, a multi-architecture index', () => {
    const img = (ref: string) => env.images[`${env.basic.host}/${ref}`];
    expect(img('sif/small:v2s2')?.mediaType).toBe(MEDIA.dockerManifest);
    expect(img('sif/multi:latest')?.mediaType).toBe(MEDIA.ociIndex);
    expect(img('sif/python:latest')?.mediaType).toBe(MEDIA.ociManifest);
    // distribution 2.8 stores zstd layers like any other blob.
    expect(img('sif/small:zstd')?.mediaType).toBe(MEDIA.ociManifest);
  });
});

describe('OCI fixtures', () => {
  let images: TestImages;
  beforeAll(() => {
    images = testImages();
  });
  const blob = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const json = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
  function manifestOf(layout: string, tag: string): { layers: { digest: string; mediaType: string }[] } {
    const index = json<{ manifests: { digest: string; annotations?: Record<string, string> }[] }>(join(layout, 'index.json'));
    const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
    if (!d) throw new Error(`no tag ${tag} in ${layout}`);
    return json(blob(layout, d.digest));
  }
  async function layerListings(): Promise<string[][]> {
    const layers = manifestOf(images.oci, 'small').layers;
    return Promise.all(
      layers.map(async (l) => (await execa('tar', ['-tvzf', blob(images.oci, l.digest)])).stdout.split('\n')),
    );
  }

  it('small has whiteouts, an opaque marker and hard links in its layers', async () => {
    const [l1, l2, , l4, l5] = await layerListings();
    expect(l1!.some((line) => /^h.* hl\/b link to hl\/a$/.test(line))).toBe(true); // within a layer
    expect(l2!.some((line) => line.endsWith(' del/.wh.gone.txt'))).toBe(true);
    expect(l2!.some((line) => line.endsWith(' .wh.gone-dir'))).toBe(true); // a directory
    expect(l4!.some((line) => line.endsWith(' opq/.wh..wh..opq'))).toBe(true);
    // A link to a file that only a lower layer holds.
    expect(l5).toHaveLength(1);
    expect(l5![0]).toMatch(/^h.* hl\/cross link to hl\/lower$/);
  });

  it('the reference tree of small is the flattened result', () => {
    const root = images.unpacked.small;
    expect(readdirSync(join(root, 'opq'))).toEqual(['fresh.txt']);
    expect(readdirSync(join(root, 'del'))).toEqual(['kept.txt']);
    expect(readFileSync(join(root, 'dir2file'), 'utf8')).toBe('was a directory\n');
    expect(statSync(join(root, 'file2dir')).isDirectory()).toBe(true);
    expect(statSync(join(root, 'hl', 'cross')).ino).toBe(statSync(join(root, 'hl', 'lower')).ino);
    expect(statSync(join(root, 'special', 'setuid')).mode & 0o7777).toBe(0o4755);
    const owned = statSync(join(root, 'special', 'owned'));
    expect([owned.uid, owned.gid]).toEqual([1234, 5678]);
    expect(statSync(join(root, 'special', 'null')).isCharacterDevice()).toBe(true);
    expect(readlinkSync(join(root, 'links', 'dangling'))).toBe('/nonexistent/target');
    expect(readFileSync(join(root, 'arch'), 'utf8')).toBe('amd64\n');
    expect(readFileSync(join(images.unpacked['small-arm64'], 'arch'), 'utf8')).toBe('arm64\n');
  });

  it('the zstd and uncompressed layouts and the archives exist', () => {
    expect(manifestOf(images.ociZstd, 'small').layers.map((l) => l.mediaType)).toEqual(
      Array(5).fill(MEDIA.ociLayerZstd),
    );
    expect(manifestOf(images.ociPlain, 'small').layers.map((l) => l.mediaType)).toEqual(
      Array(5).fill(MEDIA.ociLayer),
    );
    for (const f of [...Object.values(images.ociArchive), ...Object.values(images.dockerArchive)]) {
      expect(statSync(f).size).toBeGreaterThan(0);
    }
  });
});
