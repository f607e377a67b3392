import { randomBytes } from 'node:crypto';
import { chmod, copyFile, open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { checkArch, goArchFromNodeArch, openImage } from '../../../src/image/open-image.js';
import { SIF_DESCRIPTOR_SIZE } from '../../../src/image/sif-format.js';
import { SquashfsWriter, type SquashfsCompressor } from '../../../src/image/squashfs-writer.js';
import { expectSifErrorSync, fixture, makeTmpDir } from './support.js';

let tmp: Awaited<ReturnType<typeof makeTmpDir>>;
beforeAll(async () => {
  tmp = await makeTmpDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** File offset of the Extra field of descriptor `id` in a SIF whose table is at 4096. */
const extraAt = (id: number): number => 4096 + (id - 1) * SIF_DESCRIPTOR_SIZE + 201;

/** Copy a fixture into the temp dir and overwrite bytes at `pos`. */
async function patched(name: string, out: string, pos: number, bytes: Buffer): Promise<string> {
  const p = join(tmp.dir, out);
  await copyFile(fixture(name), p);
  await chmod(p, 0o644); // fixtures may be read-only
  const fh = await open(p, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, pos);
  } finally {
    await fh.close();
  }
  return p;
}

async function truncatedCopy(src: string, out: string, len: number): Promise<string> {
  const p = join(tmp.dir, out);
  await copyFile(src, p);
  await chmod(p, 0o644);
  await truncate(p, len);
  return p;
}

/** A plain squashfs written by sif's own writer (the unit tier runs no external tool). */
async function squashfs(out: string, compressor: SquashfsCompressor, files: Record<string, Buffer | string>): Promise<string> {
  const p = join(tmp.dir, out);
  const w = await SquashfsWriter.create(p, { compressor });
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: 0 };
  await w.addDirectory('/', { ...meta, mode: 0o755 });
  for (const [name, data] of Object.entries(files)) await w.addFile(name, meta, Buffer.from(data));
  await w.finish();
  return p;
}

const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};

describe('openImage on SIF files', () => {
  it('locates the busybox rootfs', async () => {
    const info = await openImage(fixture('busybox_amd64.sif'));
    expect(info).toMatchObject({
      path: fixture('busybox_amd64.sif'),
      format: 'sif',
      rootfsOffset: 45056,
      rootfsSize: 745472,
      arch: 'amd64',
      compression: 'gzip',
    });
    expect(info.superblock.bytesUsed).toBeLessThanOrEqual(info.rootfsSize);
    expect(info.sif?.descriptors).toHaveLength(5);
    const head = Buffer.alloc(4);
    const fh = await open(info.path);
    await fh.read(head, 0, 4, info.rootfsOffset);
    await fh.close();
    expect(head.toString('latin1')).toBe('hsqs');
  });

  it('picks the primary partition among several', async () => {
    for (const name of ['one-group.sif', 'two-groups.sif', 'one-group-signed-pgp.sif']) {
      const info = await openImage(fixture(name));
      expect(info).toMatchObject({ format: 'sif', rootfsOffset: 36864, rootfsSize: 4096, arch: '386' });
    }
  });

  it('reports a SIF without objects as having no rootfs', async () => {
    const p = fixture('empty.sif');
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NO_ROOTFS', p, 'no objects');
  });

  it('lists the objects of a SIF without partitions', async () => {
    const p = fixture('one-object-generic-json.sif');
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NO_ROOTFS', p, 'JSON.Generic');
  });

  it('lists the partitions of a SIF without a primary one', async () => {
    const p = await patched('one-group.sif', 'no-prim.sif', extraAt(2) + 4, i32(1));
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NO_ROOTFS', p, 'FS (Raw/System/386)', 'FS (Squashfs/System/386)');
  });

  it('refuses a primary partition that is not squashfs', async () => {
    const p = await patched('busybox_amd64.sif', 'ext3.sif', extraAt(4), i32(2));
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_UNSUPPORTED_FS', p, 'Ext3');
  });

  it('reports a SIF cut in the middle of the squashfs as truncated', async () => {
    const p = await truncatedCopy(fixture('busybox_amd64.sif'), 'cut-data.sif', 400000);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p);
  });

  it('reports a SIF cut in the descriptor table as truncated', async () => {
    const p = await truncatedCopy(fixture('busybox_amd64.sif'), 'cut-table.sif', 10000);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p, 'descriptor table');
  });

  it('reports a SIF cut in the header as truncated', async () => {
    const p = await truncatedCopy(fixture('busybox_amd64.sif'), 'cut-header.sif', 100);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p);
  });

  it('reports a wrong SIF version as truncated/damaged', async () => {
    const p = await patched('busybox_amd64.sif', 'v9.sif', 42, Buffer.from('09'));
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p);
  });

  it('reports a squashfs larger than its partition as truncated', async () => {
    const size = Buffer.alloc(8);
    size.writeBigInt64LE(4096n);
    const p = await patched('busybox_amd64.sif', 'small-part.sif', 4096 + 3 * SIF_DESCRIPTOR_SIZE + 25, size);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p, '4096');
  });

  it('reports a partition without squashfs magic as corrupt', async () => {
    const p = await patched('busybox_amd64.sif', 'nomagic.sif', 45056, Buffer.from('xxxx'));
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_CORRUPT', p, 'hsqs');
  });
});

describe('openImage on other files', () => {
  it('reports a missing file as not found, with a hint', async () => {
    const p = join(tmp.dir, 'nope.sif');
    const e = expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NOT_FOUND', p);
    expect(e.hint).toMatch(/check the path/);
    const under = join(tmp.dir, 'file.txt', 'x.sif');
    await writeFile(join(tmp.dir, 'file.txt'), 'x');
    expectSifErrorSync(() => openImage(under), 'SIF_E_IMAGE_NOT_FOUND', under);
  });

  it('reports a directory as unreadable', async () => {
    expectSifErrorSync(() => openImage(tmp.dir), 'SIF_E_IMAGE_UNREADABLE', tmp.dir, 'directory');
  });

  const asRoot = process.getuid?.() === 0;
  (asRoot ? it.skip : it)('reports a file without read permission as unreadable', async () => {
    const p = join(tmp.dir, 'noperm.sif');
    await copyFile(fixture('empty.sif'), p);
    await chmod(p, 0o000);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_UNREADABLE', p);
  });

  it('reports a text file as not an image, saying what it looked for', async () => {
    const p = join(tmp.dir, 'notes.txt');
    await writeFile(p, 'just some text, long enough to cover the SIF header '.repeat(4));
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NOT_AN_IMAGE', p, 'SIF_MAGIC', 'hsqs');
  });

  it('reports an empty file as not an image', async () => {
    const p = join(tmp.dir, 'empty.img');
    await writeFile(p, '');
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_NOT_AN_IMAGE', p, 'empty');
  });

  it('opens a plain squashfs', async () => {
    const p = await squashfs('plain.sqfs', 'xz', { 'hello.txt': 'hello\n' });
    const info = await openImage(p);
    expect(info).toMatchObject({ path: p, format: 'squashfs', rootfsOffset: 0, arch: null, compression: 'xz' });
    expect(info.rootfsSize).toBe((await stat(p)).size);
    expect(info.sif).toBeUndefined();
    expect(() => checkArch(info, 'x64')).not.toThrow();
    expect(() => checkArch(info, 'arm64')).not.toThrow();
  });

  it('reports a truncated squashfs as truncated', async () => {
    const src = await squashfs('big.sqfs', 'gzip', { 'random.bin': randomBytes(256 * 1024) });
    const len = Math.floor((await stat(src)).size / 2);
    const p = await truncatedCopy(src, 'big-cut.sqfs', len);
    expectSifErrorSync(() => openImage(p), 'SIF_E_IMAGE_TRUNCATED', p);
  });

  it('reports a squashfs with a bad version as corrupt', async () => {
    const src = await squashfs('v3.sqfs', 'gzip', { a: 'a' });
    const buf = await readFile(src);
    buf.writeUInt16LE(3, 28);
    await writeFile(src, buf);
    expectSifErrorSync(() => openImage(src), 'SIF_E_IMAGE_CORRUPT', src, 'version');
  });

  it('reports an unknown squashfs compressor as unsupported', async () => {
    const src = await squashfs('c7.sqfs', 'gzip', { a: 'a' });
    const buf = await readFile(src);
    buf.writeUInt16LE(7, 20);
    await writeFile(src, buf);
    expectSifErrorSync(() => openImage(src), 'SIF_E_IMAGE_UNSUPPORTED_FS', src, 'compression');
  });
});

describe('checkArch', () => {
  it('refuses an arm64 partition on an amd64 host', async () => {
    const p = await patched('busybox_amd64.sif', 'arm64.sif', extraAt(4) + 8, Buffer.from('04'));
    const info = await openImage(p);
    expect(info.arch).toBe('arm64');
    const e = expectSifErrorSync(() => checkArch(info, 'x64'), 'SIF_E_IMAGE_ARCH', p, 'arm64', 'amd64');
    expect(e.hint).toContain('--arch');
    expect(() => checkArch(info, 'arm64')).not.toThrow();
  });

  it('passes a matching or unknown host', async () => {
    const info = await openImage(fixture('busybox_amd64.sif'));
    expect(() => checkArch(info, 'x64')).not.toThrow();
    expect(() => checkArch(info, 'amd64')).not.toThrow();
    expect(() => checkArch(info, 'sparc')).not.toThrow();
    expectSifErrorSync(() => checkArch(info, 'arm64'), 'SIF_E_IMAGE_ARCH');
  });

  it('maps node arch names to Go names', () => {
    expect(goArchFromNodeArch('x64')).toBe('amd64');
    expect(goArchFromNodeArch('ia32')).toBe('386');
    expect(goArchFromNodeArch('arm64')).toBe('arm64');
    expect(goArchFromNodeArch('ppc64', 'LE')).toBe('ppc64le');
    expect(goArchFromNodeArch('ppc64', 'BE')).toBe('ppc64');
    expect(goArchFromNodeArch('mipsel')).toBe('mipsle');
    expect(goArchFromNodeArch('sparc')).toBeNull();
  });
});
