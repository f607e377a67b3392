// The exec path reads images synchronously (src/exec/read-image.ts) and leaves anything
// unusual to src/image: both must agree on every image the fast reader accepts, and
// users must see src/image's errors for everything else.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openForLaunch } from '../../../src/exec/launch.js';
import { readImageSync } from '../../../src/exec/read-image.js';
import { openImage } from '../../../src/image/open-image.js';
import { SIF_DESCRIPTOR_SIZE } from '../../../src/image/sif-format.js';
import { findJsonObject, OCI_CONFIG_NAME, readSifJson } from '../../../src/image/sif-objects.js';
import { openSif } from '../../../src/image/sif-reader.js';

const run = promisify(execFile);
const fixtureDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/fixtures/sif');
const fixture = (name: string): string => join(fixtureDir, name);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sif-read-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What openForLaunch returned before the fast reader: src/image's answer. */
async function viaSrcImage(path: string): Promise<unknown> {
  const info = await openImage(path);
  return { info, ociConfig: info.sif ? await readSifJson(info.path, info.sif, OCI_CONFIG_NAME) : null };
}

async function copy(name: string, out: string): Promise<string> {
  const p = join(dir, out);
  await copyFile(fixture(name), p);
  await chmod(p, 0o644); // fixtures are read-only
  return p;
}

async function patched(name: string, out: string, pos: number, bytes: Buffer): Promise<string> {
  const p = await copy(name, out);
  const fh = await open(p, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, pos);
  } finally {
    await fh.close();
  }
  return p;
}

async function cut(name: string, out: string, len: number): Promise<string> {
  const p = await copy(name, out);
  await truncate(p, len);
  return p;
}

async function mksquashfs(out: string, comp: string, files: Record<string, Buffer | string>): Promise<string> {
  const src = join(dir, `${out}.d`);
  await mkdir(src);
  for (const [name, data] of Object.entries(files)) await writeFile(join(src, name), data);
  const p = join(dir, out);
  await run('mksquashfs', [src, p, '-noappend', '-quiet', '-no-progress', '-comp', comp]);
  return p;
}

const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
};
/** File offset of the Extra field of descriptor `id` (tables at 4096). */
const extraAt = (id: number): number => 4096 + (id - 1) * SIF_DESCRIPTOR_SIZE + 201;

async function ociConfigOf(name: string): Promise<{ offset: number; size: number }> {
  const desc = findJsonObject(await openSif(fixture(name)), OCI_CONFIG_NAME);
  if (!desc) throw new Error(`${name} has no ${OCI_CONFIG_NAME}`);
  return desc;
}

/** The error (code, message, hint) src/image reports for p, or null when it reports none. */
async function srcImageError(p: string): Promise<unknown> {
  return viaSrcImage(p).then(
    () => null,
    (e: { code?: string; message?: string; hint?: string }) => ({ code: e.code, message: e.message, hint: e.hint }),
  );
}

describe('readImageSync', () => {
  it('agrees with src/image on well-formed SIF and squashfs images', async () => {
    const images = [
      fixture('busybox_amd64.sif'),
      fixture('one-group.sif'),
      fixture('two-groups.sif'),
      fixture('one-group-signed-pgp.sif'),
      await mksquashfs('gzip.sqfs', 'gzip', { 'hello.txt': 'hello\n' }),
      await mksquashfs('xz.sqfs', 'xz', { 'random.bin': randomBytes(200_000) }),
    ];
    for (const p of images) {
      const fast = readImageSync(p);
      expect(fast).toBeDefined();
      expect(fast).toEqual(await viaSrcImage(p));
    }
    expect(readImageSync(fixture('busybox_amd64.sif'))?.ociConfig?.Cmd).toEqual(['sh']);
  });

  it('leaves every other file to src/image, which reports it', async () => {
    const sqfs = await mksquashfs('v3.sqfs', 'gzip', { a: 'a' });
    const v3 = await readFile(sqfs);
    v3.writeUInt16LE(3, 28);
    await writeFile(sqfs, v3);
    const big = await mksquashfs('big.sqfs', 'gzip', { 'random.bin': randomBytes(256 * 1024) });
    await truncate(big, 100_000);
    await writeFile(join(dir, 'notes.txt'), 'just some text, long enough to cover the SIF header '.repeat(4));
    await writeFile(join(dir, 'empty.img'), '');
    const oci = await ociConfigOf('busybox_amd64.sif');
    const size = Buffer.alloc(8);
    size.writeBigInt64LE(4096n);
    const others = [
      join(dir, 'missing.sif'),
      dir,
      join(dir, 'notes.txt'),
      join(dir, 'empty.img'),
      fixture('empty.sif'),
      fixture('one-object-generic-json.sif'),
      await patched('one-group.sif', 'no-prim.sif', extraAt(2) + 4, i32(1)),
      await patched('busybox_amd64.sif', 'ext3.sif', extraAt(4), i32(2)),
      await patched('busybox_amd64.sif', 'v9.sif', 42, Buffer.from('09')),
      await patched('busybox_amd64.sif', 'small-part.sif', 4096 + 3 * SIF_DESCRIPTOR_SIZE + 25, size),
      await patched('busybox_amd64.sif', 'nomagic.sif', 45056, Buffer.from('xxxx')),
      await patched('busybox_amd64.sif', 'bad-json.sif', oci.offset, Buffer.from('{x')),
      await patched('busybox_amd64.sif', 'array-json.sif', oci.offset, Buffer.from('[1]'.padEnd(oci.size))),
      await cut('busybox_amd64.sif', 'cut-data.sif', 400_000),
      await cut('busybox_amd64.sif', 'cut-table.sif', 10_000),
      await cut('busybox_amd64.sif', 'cut-header.sif', 100),
      sqfs,
      big,
    ];
    for (const p of others) {
      expect(readImageSync(p)).toBeUndefined();
      const expected = await srcImageError(p);
      expect(expected).not.toBeNull();
      const got = await openForLaunch(p).then(
        () => null,
        (e: { code?: string; message?: string; hint?: string }) => ({ code: e.code, message: e.message, hint: e.hint }),
      );
      expect(got).toEqual(expected);
    }
  });
});
