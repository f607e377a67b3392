// Reading files out of squashfs without mounting it: an Apptainer-built gzip image (the
// busybox fixture's partition), zstd and gzip images from sif's own writer, and damaged
// copies, which must give SIF_E_IMAGE_CORRUPT (or a result), never a crash or a hang.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { SifError } from '../../../src/errors.js';
import { imageInfo, openImage } from '../../../src/image/open-image.js';
import { withImageFd } from '../../../src/image/sif-reader.js';
import { inflaterFor, zstdContentSize } from '../../../src/image/squashfs-blocks.js';
import { SquashfsReader } from '../../../src/image/squashfs-reader.js';
import { parseSquashfsSuperblock } from '../../../src/image/squashfs-superblock.js';
import { SquashfsWriter, type SquashfsCompressor } from '../../../src/image/squashfs-writer.js';
import { expectSifErrorSync, fixture, makeTmpDir, withReader } from './support.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTmpDir()));
afterEach(() => cleanup());

const sha = (b: Buffer | null) => (b ? createHash('sha256').update(b).digest('hex') : null);
const BUSYBOX = fixture('busybox_amd64.sif');

describe('SquashfsReader on the Apptainer-built busybox image (gzip, inside a SIF)', () => {
  it('lists directories and reads /.singularity.d', () => {
    withReader(BUSYBOX, (r) => {
      expect(r.list('/.singularity.d')).toEqual(['Singularity', 'actions', 'env', 'labels.json', 'libs', 'runscript', 'startscript']);
      expect(r.readFile('/.singularity.d/Singularity')?.toString()).toBe('BootStrap: docker\nFrom: busybox:1.33.1\n');
      expect(JSON.parse(r.readFile('/.singularity.d/labels.json')!.toString())['org.label-schema.usage.singularity.version']).toBe('3.8.1');
    });
  });

  it('reads a file of many blocks as unsquashfs does (sha256 of /bin/busybox)', () => {
    withReader(BUSYBOX, (r) => {
      const b = r.readFile('/bin/busybox')!;
      expect(b.length).toBe(1149184);
      expect(sha(b)).toBe('495a05eb2c12ed3e75a73c971b1646e9936aa30e111bdeff1328e2aa341f0e01');
    });
  });

  it('follows symlinks, absolute and relative, and .. ; gives null for what is not there', () => {
    withReader(BUSYBOX, (r) => {
      const env = r.readFile('/.singularity.d/env/90-environment.sh');
      expect(r.readFile('/environment')).toEqual(env); // -> .singularity.d/env/90-environment.sh
      expect(r.readFile('/bin/../.singularity.d/startscript')?.toString()).toBe('#!/bin/sh\n');
      expect(r.readFile('/nonexistent')).toBeNull();
      expect(r.readFile('/.singularity.d')).toBeNull(); // a directory
      expect(r.list('/.singularity.d/runscript')).toBeNull(); // a file
    });
  });

  it('refuses a file over its limit', () => {
    withReader(BUSYBOX, (r) => expectSifErrorSync(() => r.readFile('/bin/busybox'), 'SIF_E_IMAGE_BAD_OBJECT', '/bin/busybox', '1149184'), 1 << 20);
  });
});

async function writeImage(path: string, compressor: SquashfsCompressor, files: Record<string, Buffer>): Promise<void> {
  const w = await SquashfsWriter.create(path, { compressor, workers: 1 });
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
  for (const [name, data] of Object.entries(files)) await w.addFile(name, meta, data);
  await w.addSymlink('d/link', '../a/big.bin', { ...meta, mode: 0o777 });
  await w.finish();
}

describe.each(['zstd', 'gzip'] as const)("SquashfsReader on sif's writer's %s images", (compressor) => {
  it('reads back every file: several blocks with a fragment tail, a fragment only, empty, incompressible', async () => {
    const files = {
      'a/big.bin': Buffer.concat([Buffer.alloc(300_000, 7), randomBytes(1000)]),
      'a/small.txt': Buffer.from('small\n'),
      'b/empty': Buffer.alloc(0),
      'b/random': randomBytes(200_000),
    };
    const img = join(dir, `t.${compressor}.sqfs`);
    await writeImage(img, compressor, files);
    withReader(img, (r) => {
      for (const [name, data] of Object.entries(files)) expect(sha(r.readFile(`/${name}`))).toBe(sha(data));
      expect(sha(r.readFile('/d/link'))).toBe(sha(files['a/big.bin']));
      expect(r.list('/')).toEqual(['a', 'b', 'd']);
    });
  });
});

it('reads the size a zstd frame declares', () => {
  // Frame header: single segment, 2-byte content size (value + 256): 0x0100 + 256 = 512.
  expect(zstdContentSize(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x60, 0x00, 0x01, 0, 0]))).toBe(512);
  expect(zstdContentSize(Buffer.from('not zstd'))).toBeUndefined();
});

it('stops inflating a zstd frame at the bound, before the rest of it', () => {
  // A frame that does not declare its size: 128 KiB RLE blocks, then a block of the
  // reserved type. Bounded as it goes, the inflater stops at the first block past the
  // bound; inflating the whole frame first would reach the bad block (or, with more
  // RLE blocks, gigabytes: a few bytes each).
  const rle = (last: number) => [...[(128 << 10 << 3) | (1 << 1) | last].flatMap((h) => [h & 0xff, (h >> 8) & 0xff, h >> 16]), 0x61];
  const reserved = [(3 << 1) | 1, 0, 0];
  const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38, ...rle(0), ...rle(0), ...reserved]);
  expect(zstdContentSize(frame)).toBeUndefined();
  expect(() => inflaterFor('zstd')!(frame, 8192)).toThrow(/8192/);
});

it('refuses a directory listing over its limit, whatever size the inode claims', async () => {
  // A listing's size is up to 4 GiB in an extended inode, and a hostile image can make
  // it so in a few KiB of metadata blocks: it is bounded before anything is read.
  const img = join(dir, 'wide.sqfs');
  const files = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`many/entry-${String(i).padStart(4, '0')}`, Buffer.from(`${i}`)]));
  await writeImage(img, 'zstd', files);
  expect(withImageFd(img, (fd, size) => {
    const info = imageInfo(fd, size, img);
    return new SquashfsReader({ fd, offset: info.rootfsOffset, superblock: info.superblock, file: img }).list('/many')?.length;
  })).toBe(600);
  withImageFd(img, (fd, size) => {
    const info = imageInfo(fd, size, img);
    const r = new SquashfsReader({ fd, offset: info.rootfsOffset, superblock: info.superblock, file: img }, undefined, 4096);
    expectSifErrorSync(() => r.list('/many'), 'SIF_E_IMAGE_BAD_OBJECT', '/many', 'listing', '4096');
    expect(r.list('/')).toEqual(['d', 'many']); // a small one still reads
  });
});

describe('damaged images', () => {
  /** The busybox partition as a plain squashfs. */
  function plainBusybox(): Buffer {
    const info = openImage(BUSYBOX);
    return readFileSync(BUSYBOX).subarray(info.rootfsOffset, info.rootfsOffset + info.superblock.bytesUsed);
  }

  it('gives SIF_E_IMAGE_CORRUPT when a table offset points outside the filesystem', () => {
    const img = Buffer.from(plainBusybox());
    img.writeBigUInt64LE(BigInt(img.length + 4096), 72); // directory table start
    const path = join(dir, 'bad-dir-table.sqfs');
    writeFileSync(path, img);
    withReader(path, (r) => expectSifErrorSync(() => r.readFile('/.singularity.d/labels.json'), 'SIF_E_IMAGE_CORRUPT', 'outside'));
  });

  it('never crashes or hangs on 300 randomly damaged copies: a result or a SifError', () => {
    const good = plainBusybox();
    const sb = parseSquashfsSuperblock(good);
    const path = join(dir, 'fuzzed.sqfs');
    let errors = 0;
    let seed = 12345; // a fixed sequence (an LCG), so that a failure can be replayed
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const img = Buffer.from(good);
      // Damage the metadata (inode, directory, fragment tables: everything after the data).
      for (let k = 0; k < 1 + (i % 8); k++) {
        const at = sb.inodeTableStart + Math.floor(random() * (img.length - sb.inodeTableStart));
        img[at] = Math.floor(random() * 256);
      }
      writeFileSync(path, img);
      const fd = openSync(path, 'r');
      try {
        const r = new SquashfsReader({ fd, offset: 0, superblock: sb, file: path });
        for (const f of ['/.singularity.d/labels.json', '/environment', '/bin/busybox']) r.readFile(f);
        r.list('/.singularity.d/env');
      } catch (e) {
        if (!(e instanceof SifError)) throw new Error(`damaged copy ${i}: ${String(e)}`);
        errors++;
      } finally {
        closeSync(fd);
      }
    }
    expect(errors).toBeGreaterThan(0);
  });
});
