// OCI layouts, OCI archives and docker archives made here with the real tar, read
// back through the sources; every blob is checked against its digest.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Descriptor } from '../../../src/build/image-source.js';
import { openDockerArchive } from '../../../src/build/sources/docker-archive-source.js';
import { directoryTree, tarTree } from '../../../src/build/sources/file-tree.js';
import { openOciLayout, type PlatformChooser } from '../../../src/build/sources/oci-layout-source.js';
import { expectSifError, makeTmpDir } from '../image/support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const firstAmd64: PlatformChooser = (ms) => ms.find((m) => m.platform?.architecture === 'amd64')!;

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** A layer tar holding one file, made by tar. */
async function layerTar(name: string, text: string): Promise<Buffer> {
  const src = join(dir, `src-${name}`);
  await mkdir(src, { recursive: true });
  await writeFile(join(src, name), text);
  return execFileSync('tar', ['-C', src, '-cf', '-', name]);
}

async function writeBlob(layout: string, bytes: Buffer): Promise<Descriptor> {
  const digest = sha(bytes);
  await mkdir(join(layout, 'blobs/sha256'), { recursive: true });
  await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
  return { mediaType: '', digest, size: bytes.length };
}

/** An OCI layout with tag `v1` (one image) and tag `multi` (an index of amd64 and arm64). */
async function makeLayout(layout: string): Promise<{ layer: Buffer }> {
  await mkdir(layout, { recursive: true });
  await writeFile(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layer = gzipSync(await layerTar('hello.txt', 'hello\n'));
  const image = async (arch: string) => {
    const l = { ...(await writeBlob(layout, layer)), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
    const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [] } }));
    const c = { ...(await writeBlob(layout, config)), mediaType: 'application/vnd.oci.image.config.v1+json' };
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: c, layers: [l] }));
    return { ...(await writeBlob(layout, m)), mediaType: 'application/vnd.oci.image.manifest.v1+json', platform: { os: 'linux', architecture: arch } };
  };
  const amd = await image('amd64');
  const arm = await image('arm64');
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [arm, amd] }));
  const nested = { ...(await writeBlob(layout, idx)), mediaType: 'application/vnd.oci.image.index.v1+json' };
  const tagged = (d: Descriptor, tag: string) => ({ ...d, annotations: { 'org.opencontainers.image.ref.name': tag } });
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [tagged(amd, 'v1'), tagged(nested, 'multi')] }));
  return { layer };
}

describe('OCI layout and archive', () => {
  it('reads a tagged image from a directory, layers verified', async () => {
    const layout = join(dir, 'layout');
    const { layer } = await makeLayout(layout);
    const img = await openOciLayout(directoryTree(layout), 'oci:layout:v1', 'v1', firstAmd64);
    expect(img.config.architecture).toBe('amd64');
    expect(img.layers).toHaveLength(1);
    expect(await readAll(await img.layers[0]!.open())).toEqual(layer);
    await img.close();
  });

  it('follows a nested index to the chosen platform', async () => {
    const layout = join(dir, 'layout');
    await makeLayout(layout);
    const armFirst: PlatformChooser = (ms) => ms[0]!;
    expect((await openOciLayout(directoryTree(layout), 'x', 'multi', firstAmd64)).config.architecture).toBe('amd64');
    expect((await openOciLayout(directoryTree(layout), 'x', 'multi', armFirst)).config.architecture).toBe('arm64');
  });

  it('lists the tags when the one asked for is missing or none is given', async () => {
    const layout = join(dir, 'layout');
    await makeLayout(layout);
    const e = await expectSifError(openOciLayout(directoryTree(layout), 'oci:layout:nope', 'nope', firstAmd64), 'SIF_E_BUILD_SOURCE', '"nope"');
    expect(e.hint).toContain('v1, multi');
    await expectSifError(openOciLayout(directoryTree(layout), 'oci:layout', undefined, firstAmd64), 'SIF_E_BUILD_SOURCE', 'several images');
  });

  it('reads the same image in place from an uncompressed archive', async () => {
    const layout = join(dir, 'layout');
    const { layer } = await makeLayout(layout);
    const archive = join(dir, 'image.tar');
    execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
    const img = await openOciLayout(await tarTree(archive), 'oci-archive:image.tar', 'v1', firstAmd64);
    expect(await readAll(await img.layers[0]!.open())).toEqual(layer);
    await img.close();
  });

  it('fails the layer stream when a blob was changed', async () => {
    const layout = join(dir, 'layout');
    const { layer } = await makeLayout(layout);
    const bad = Buffer.from(layer);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    await writeFile(join(layout, 'blobs/sha256', sha(layer).slice(7)), bad);
    const img = await openOciLayout(directoryTree(layout), 'oci:layout:v1', 'v1', firstAmd64);
    await expectSifError(readAll(await img.layers[0]!.open()), 'SIF_E_BUILD_DIGEST', sha(layer));
  });

  it('says a directory without oci-layout is not a layout, and refuses a gzipped archive with a hint', async () => {
    await expectSifError(openOciLayout(directoryTree(dir), 'oci:x', undefined, firstAmd64), 'SIF_E_BUILD_SOURCE', 'not an OCI image layout');
    const gz = join(dir, 'image.tar.gz');
    await writeFile(gz, gzipSync(Buffer.alloc(1024)));
    expect((await expectSifError(tarTree(gz), 'SIF_E_BUILD_SOURCE', 'gzip-compressed')).hint).toContain('gunzip');
  });

  it('reports a truncated archive', async () => {
    const layout = join(dir, 'layout');
    await makeLayout(layout);
    const archive = join(dir, 'image.tar');
    execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
    execFileSync('truncate', ['-s', '2000', archive]);
    await expectSifError(tarTree(archive), 'SIF_E_BUILD_SOURCE', 'truncated');
  });
});

describe('docker archive', () => {
  async function makeDockerArchive(): Promise<{ archive: string; layers: Buffer[] }> {
    const root = join(dir, 'docker');
    await mkdir(root, { recursive: true });
    const layers = [await layerTar('a.txt', 'a'), await layerTar('b.txt', 'b')];
    const diffIds = layers.map(sha);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
    const configName = `${sha(config).slice(7)}.json`;
    await writeFile(join(root, configName), config);
    const names = [];
    for (const [i, l] of layers.entries()) {
      const name = `${diffIds[i]!.slice(7)}/layer.tar`;
      await mkdir(join(root, diffIds[i]!.slice(7)), { recursive: true });
      await writeFile(join(root, name), l);
      names.push(name);
    }
    await writeFile(join(root, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: ['sif/small:latest'], Layers: names }]));
    const archive = join(dir, 'docker.tar');
    execFileSync('tar', ['-C', root, '-cf', archive, '.']);
    return { archive, layers };
  }

  it('reads config and layers, by tag or alone', async () => {
    const { archive, layers } = await makeDockerArchive();
    for (const ref of [undefined, 'sif/small:latest', 'sif/small']) {
      const img = await openDockerArchive(await tarTree(archive), 'docker-archive:docker.tar', ref);
      expect(img.layers).toHaveLength(2);
      expect(await readAll(await img.layers[1]!.open())).toEqual(layers[1]);
      await img.close();
    }
  });

  it('names the images it has when asked for another', async () => {
    const { archive } = await makeDockerArchive();
    const e = await expectSifError(openDockerArchive(await tarTree(archive), 'docker-archive:docker.tar:other', 'other'), 'SIF_E_BUILD_SOURCE', '"other"');
    expect(e.hint).toContain('sif/small:latest');
  });

  it('says an OCI archive is not a docker archive', async () => {
    const layout = join(dir, 'layout');
    await makeLayout(layout);
    const archive = join(dir, 'oci.tar');
    execFileSync('tar', ['-C', layout, '-cf', archive, '.']);
    const e = await expectSifError(openDockerArchive(await tarTree(archive), 'docker-archive:oci.tar', undefined), 'SIF_E_BUILD_SOURCE', 'not a docker-archive');
    expect(e.hint).toContain('oci-archive');
  });
});
