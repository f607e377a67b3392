// What `sif inspect` reads: a SIF's inspect-metadata.json, or the image's own
// /.singularity.d when there is none (a plain squashfs), with the same result.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { ATTRIBUTE_NAMES, readContainerAttributes } from '../../../src/image/container-attributes.js';
import { openImage } from '../../../src/image/open-image.js';
import { SquashfsWriter } from '../../../src/image/squashfs-writer.js';
import { expectSifErrorSync, fixture, makeTmpDir } from './support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

const BUSYBOX = fixture('busybox_amd64.sif');
const ALL = new Set(ATTRIBUTE_NAMES);
const noWarnings = (m: string) => {
  throw new Error(`unexpected warning: ${m}`);
};

it("reads the busybox SIF's inspect-metadata.json, without trailing newlines", () => {
  const a = readContainerAttributes(BUSYBOX, ALL, noWarnings);
  expect(a.labels?.['org.label-schema.usage.singularity.deffile.from']).toBe('busybox:1.33.1');
  expect(a.deffile).toBe('BootStrap: docker\nFrom: busybox:1.33.1');
  expect(a.startscript).toBe('#!/bin/sh');
  expect(Object.keys(a.environment!)).toEqual(['/.singularity.d/env/10-docker2singularity.sh', '/.singularity.d/env/90-environment.sh']);
  expect(a.test).toBeUndefined();
});

it('reads the same from /.singularity.d of a plain squashfs (the busybox partition alone)', () => {
  const info = openImage(BUSYBOX);
  const plain = join(dir, 'busybox.sqfs');
  writeFileSync(plain, readFileSync(BUSYBOX).subarray(info.rootfsOffset, info.rootfsOffset + info.rootfsSize));
  expect(readContainerAttributes(plain, ALL, noWarnings)).toEqual(readContainerAttributes(BUSYBOX, ALL, noWarnings));
});

it('reads only what is asked for', () => {
  expect(Object.keys(readContainerAttributes(BUSYBOX, new Set(['labels'] as const), noWarnings))).toEqual(['labels']);
});

it('says plainly when a squashfs uses a compressor it cannot read (xz), and what to do', async () => {
  const img = join(dir, 'xz.sqfs');
  const w = await SquashfsWriter.create(img, { compressor: 'xz', workers: 1 });
  await w.addFile('.singularity.d/labels.json', { mode: 0o644, uid: 0, gid: 0, mtime: 0 }, Buffer.from('{}'));
  await w.finish();
  expectSifErrorSync(() => readContainerAttributes(img, ALL, noWarnings), 'SIF_E_IMAGE_UNSUPPORTED_FS', 'gzip and zstd', 'not xz');
});
