// The flattened image must equal `umoci unpack` of the same image, whatever the
// source: OCI layout (gzip, zstd, plain layers), OCI and docker archives, registry.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { testImages, testRegistries } from '../support/registry.js';
import { requireHost, userTempDir } from '../support/unprivileged.js';
import { buildAsUser, compareWithReference, unpackImage } from './build-support.js';

const images = testImages();
let out: string;
beforeAll(() => {
  requireHost();
  out = userTempDir('sif-build-flatten-');
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function buildAndCompare(name: string, source: string, reference: string, extra: string[] = [], env: Record<string, string> = {}) {
  const sif = join(out, `${name}.sif`);
  const r = await buildAsUser([...extra, sif, source], { env });
  expect(r.stderr).toMatch(/wrote/);
  expect(r.exitCode).toBe(0);
  const root = await unpackImage(sif);
  try {
    expect(compareWithReference(reference, root)).toEqual([]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

describe('flattening equals umoci unpack', () => {
  it.each([
    ['oci layout, gzip layers', () => `oci:${images.oci}:small`],
    ['oci layout, zstd layers', () => `oci:${images.ociZstd}:small`],
    ['oci layout, uncompressed layers', () => `oci:${images.ociPlain}:small`],
    ['oci-archive', () => `oci-archive:${images.ociArchive.small}:small`],
    ['docker-archive', () => `docker-archive:${images.dockerArchive.small}`],
  ])('small image from %s', async (name, source) => {
    await buildAndCompare(name.replace(/\W+/g, '-'), source(), images.unpacked.small);
  }, 120_000);

  it('small image from the registry, basic auth and the test CA', async () => {
    const reg = await testRegistries();
    await buildAndCompare('registry', `docker://${reg.basic.host}/sif/small:latest`, images.unpacked.small,
      ['--ca-cert', reg.caFile, '--username', reg.basic.user],
      { SIF_PASSWORD: reg.basic.password, SIF_CACHEDIR: join(out, 'cache') });
  }, 120_000);

  it('arm64 image picked from a multi-architecture index', async () => {
    await buildAndCompare('arm64', `oci:${images.oci}:multi`, images.unpacked['small-arm64'], ['--arch', 'arm64']);
  }, 120_000);

  it('the debootstrap python image', async () => {
    await buildAndCompare('python', `oci:${images.oci}:python`, images.unpacked.python);
  }, 300_000);
});
