import { open } from 'node:fs/promises';
import { describe, it, expect } from '@jest/globals';
import {
  SQUASHFS_SUPERBLOCK_SIZE,
  hasSquashfsMagic,
  parseSquashfsSuperblock,
} from '../../../src/image/squashfs-superblock.js';
import { expectSifErrorSync, fixture } from './support.js';

/** The 96-byte superblock of busybox_amd64.sif's rootfs partition (offset 45056). */
async function busyboxSuperblock(): Promise<Buffer> {
  const fh = await open(fixture('busybox_amd64.sif'));
  try {
    const buf = Buffer.alloc(SQUASHFS_SUPERBLOCK_SIZE);
    await fh.read(buf, 0, buf.length, 45056);
    return buf;
  } finally {
    await fh.close();
  }
}

describe('parseSquashfsSuperblock', () => {
  it('parses the busybox rootfs superblock', async () => {
    const buf = await busyboxSuperblock();
    expect(hasSquashfsMagic(buf)).toBe(true);
    expect(parseSquashfsSuperblock(buf, 'bb')).toMatchObject({
      inodeCount: 55,
      modTime: 0x610842f0,
      blockSize: 131072,
      blockLog: 17,
      compression: 'gzip',
      compressionId: 1,
      versionMajor: 4,
      versionMinor: 0,
      bytesUsed: 0xb5bdc,
    });
  });

  it('rejects a bad magic as corrupt', async () => {
    const buf = await busyboxSuperblock();
    buf.write('xxxx', 0, 'latin1');
    expectSifErrorSync(() => parseSquashfsSuperblock(buf, 'bad.sqfs'), 'SIF_E_IMAGE_CORRUPT', 'bad.sqfs', 'magic');
  });

  it('rejects version 3.1 as corrupt', async () => {
    const buf = await busyboxSuperblock();
    buf.writeUInt16LE(3, 28);
    buf.writeUInt16LE(1, 30);
    expectSifErrorSync(() => parseSquashfsSuperblock(buf, 'old.sqfs'), 'SIF_E_IMAGE_CORRUPT', 'old.sqfs', '3.1');
  });

  it('rejects inconsistent block geometry as corrupt', async () => {
    const buf = await busyboxSuperblock();
    buf.writeUInt16LE(16, 22);
    expectSifErrorSync(() => parseSquashfsSuperblock(buf, 'geo.sqfs'), 'SIF_E_IMAGE_CORRUPT', 'geo.sqfs');
  });

  it('rejects an unknown compressor as unsupported', async () => {
    const buf = await busyboxSuperblock();
    buf.writeUInt16LE(9, 20);
    expectSifErrorSync(() => parseSquashfsSuperblock(buf, 'c9.sqfs'), 'SIF_E_IMAGE_UNSUPPORTED_FS', 'c9.sqfs', '9');
  });

  it('reports a cut superblock as truncated', async () => {
    const buf = (await busyboxSuperblock()).subarray(0, 50);
    expectSifErrorSync(() => parseSquashfsSuperblock(buf, 'cut.sqfs'), 'SIF_E_IMAGE_TRUNCATED', 'cut.sqfs');
  });
});
