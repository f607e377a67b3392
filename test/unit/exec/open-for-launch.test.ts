import { copyFile, chmod, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openForLaunch } from '../../../src/exec/launch.js';
import { expectSifErrorSync, fixture, makeTmpDir } from '../image/support.js';

let dir: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  dir = await makeTmpDir();
});
afterAll(async () => {
  await dir.cleanup();
});

describe('openForLaunch', () => {
  it('finds the root filesystem of a real SIF and reads its OCI config', () => {
    const { info, ociConfig } = openForLaunch(fixture('busybox_amd64.sif'));
    expect(info.format).toBe('sif');
    expect(info.rootfsOffset % 4096).toBe(0);
    expect(info.rootfsOffset).toBeGreaterThan(0);
    expect(ociConfig?.Cmd).toEqual(['sh']);
  });

  it('reports a truncated image with src/image error codes', async () => {
    const p = join(dir.dir, 'cut.sif');
    await copyFile(fixture('busybox_amd64.sif'), p);
    await chmod(p, 0o644);
    await truncate(p, 400_000);
    expectSifErrorSync(() => openForLaunch(p), 'SIF_E_IMAGE_TRUNCATED', p);
    expectSifErrorSync(() => openForLaunch(join(dir.dir, 'missing.sif')), 'SIF_E_IMAGE_NOT_FOUND', 'missing.sif');
  });
});
