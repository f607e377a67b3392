import { chmod, copyFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { openSif } from '../../../src/image/sif-reader.js';
import { readSifDeffile, readSifJson, readSifMetadata } from '../../../src/image/sif-objects.js';
import { expectSifErrorSync, fixture, makeTmpDir } from './support.js';

let tmp: Awaited<ReturnType<typeof makeTmpDir>>;
beforeAll(async () => {
  tmp = await makeTmpDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('SIF metadata objects', () => {
  it('reads the deffile, inspect metadata and OCI config of busybox_amd64.sif', async () => {
    const meta = await readSifMetadata(fixture('busybox_amd64.sif'));
    expect(meta.deffile).toBe('BootStrap: docker\nFrom: busybox:1.33.1\n');
    expect(meta.ociConfig).toEqual({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['sh'],
    });
    expect(meta.inspectMetadata?.type).toBe('container');
    expect(meta.inspectMetadata?.data?.attributes?.labels?.['org.label-schema.build-arch']).toBe('amd64');
    expect(Object.keys(meta.inspectMetadata?.data?.attributes?.environment ?? {})).toContain(
      '/.singularity.d/env/90-environment.sh',
    );
  });

  it('returns null for absent objects', async () => {
    expect(await readSifMetadata(fixture('empty.sif'))).toEqual({ deffile: null, inspectMetadata: null, ociConfig: null });
    const sif = await openSif(fixture('one-group.sif'));
    expect(await readSifDeffile(fixture('one-group.sif'), sif)).toBeNull();
  });

  it('reads a JSON.Generic object by name through a FileHandle', async () => {
    const fh = await open(fixture('one-object-generic-json.sif'));
    try {
      const sif = await openSif(fh, 'gj.sif');
      expect(await readSifJson(fh, sif, 'data.json')).toEqual({});
      expect(await readSifJson(fh, sif, 'other.json')).toBeNull();
    } finally {
      await fh.close();
    }
  });

  it('reports invalid JSON as corrupt, naming the file and the object', async () => {
    const bad = join(tmp.dir, 'bad-json.sif');
    await copyFile(fixture('one-object-generic-json.sif'), bad);
    await chmod(bad, 0o644); // fixtures may be read-only
    const fh = await open(bad, 'r+');
    await fh.write(Buffer.from('{x'), 0, 2, 32176);
    await fh.close();
    const sif = await openSif(bad);
    expectSifErrorSync(() => readSifJson(bad, sif, 'data.json'), 'SIF_E_IMAGE_CORRUPT', bad, 'data.json');
  });

  it('reports a non-object JSON value as corrupt', async () => {
    const bad = join(tmp.dir, 'array-json.sif');
    await copyFile(fixture('one-object-generic-json.sif'), bad);
    await chmod(bad, 0o644); // fixtures may be read-only
    const fh = await open(bad, 'r+');
    await fh.write(Buffer.from('[]'), 0, 2, 32176);
    await fh.close();
    expectSifErrorSync(() => readSifJson(bad, openSif(bad), 'data.json'), 'SIF_E_IMAGE_CORRUPT', bad, 'data.json');
  });
});
