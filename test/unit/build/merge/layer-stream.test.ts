// A layer's stored bytes to tar bytes: compression told by magic bytes, gzip via
// node:zlib, zstd via fzstd (or node:zlib where it has zstd), errors for truncated,
// corrupt and foreign data, the source's own errors passed through.
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { LayerDataError, detectCompression, openLayerData } from '../../../../src/build/merge/layer-stream.js';
import { HAVE_ZSTD, fixChecksum, gzip, tarball, zstd, zstdRows } from './support.js';

const tar = tarball([{ name: 'a', data: 'hello' }, { name: 'b', data: 'x'.repeat(100_000) }]);

function source(data: Buffer, chunk = 1000, fail?: Error): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (let o = 0; o < data.length; o += chunk) yield data.subarray(o, o + chunk);
    if (fail) throw fail;
  }
  return Readable.from(gen(), { objectMode: false });
}

async function inflate(data: Buffer, chunk = 1000, fail?: Error): Promise<{ bytes: Buffer; raw: number[]; compression: string }> {
  const raw: number[] = [];
  const d = await openLayerData(source(data, chunk, fail), (n) => raw.push(n));
  const parts: Buffer[] = [];
  for (let r = await d.chunks.next(); !r.done; r = await d.chunks.next()) parts.push(Buffer.from(r.value));
  return { bytes: Buffer.concat(parts), raw, compression: d.compression };
}

describe('detectCompression', () => {
  it('tells gzip, zstd and tar apart by their first bytes', () => {
    expect(detectCompression(gzip(tar).subarray(0, 512))).toBe('gzip');
    expect(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0, 0, 0]))).toBe('zstd'); // the frame magic
    expect(detectCompression(tar.subarray(0, 512))).toBe('tar');
    expect(detectCompression(Buffer.alloc(512))).toBe('tar'); // an empty archive: two zero blocks
    expect(detectCompression(Buffer.alloc(0))).toBe('tar'); // an empty stream
    const v7 = Buffer.from(tar.subarray(0, 512));
    v7.fill(0, 257, 265); // no magic, as pre-POSIX tar writes; the checksum must still add up
    fixChecksum(v7);
    expect(detectCompression(v7)).toBe('tar');
    expect(detectCompression(Buffer.from('PK\x03\x04 a zip file, not a layer'.padEnd(600, ' ')))).toBeUndefined();
    expect(detectCompression(Buffer.from('BZh91AY&SY'))).toBeUndefined();
  });
});

describe('openLayerData', () => {
  it.each([
    ['gzip', gzip(tar)],
    ...zstdRows((): [string, Buffer][] => [['zstd', zstd(tar)]]),
    ['tar', tar],
  ])('%s: the tar bytes, and the stored bytes read as progress', async (kind, stored) => {
    for (const chunk of [1, 333, 1 << 20]) {
      const { bytes, raw, compression } = await inflate(stored, chunk);
      expect(compression).toBe(kind);
      expect(bytes.equals(tar)).toBe(true);
      expect(raw.at(-1)).toBe(stored.length);
      expect(raw).toEqual([...raw].sort((a, b) => a - b));
    }
  });

  it('gzip with several members', async () => {
    const [a, b] = [tar.subarray(0, 1000), tar.subarray(1000)];
    expect((await inflate(Buffer.concat([gzip(a), gzip(b)]))).bytes.equals(tar)).toBe(true);
  });

  (HAVE_ZSTD ? it : it.skip)('zstd with several frames (needs the zstd command)', async () => {
    const [a, b] = [tar.subarray(0, 1000), tar.subarray(1000)];
    expect((await inflate(Buffer.concat([zstd(a), zstd(b)]))).bytes.equals(tar)).toBe(true);
  });

  it('refuses bytes that are no layer, showing how they start', async () => {
    const junk = Buffer.from('this is not a layer at all, just some text that goes on'.repeat(20));
    await expect(inflate(junk)).rejects.toThrow(LayerDataError);
    await expect(inflate(junk)).rejects.toThrow(`it is not a gzip, zstd or tar stream (it starts with ${junk.subarray(0, 8).toString('hex')})`);
  });

  it.each([
    ['gzip', gzip(tar)],
    ...zstdRows((): [string, Buffer][] => [['zstd', zstd(tar)]]),
  ])('%s: truncated and corrupt data', async (kind, stored) => {
    await expect(inflate(stored.subarray(0, stored.length - 20))).rejects.toThrow(`the ${kind} data is truncated`);
    await expect(inflate(stored.subarray(0, 40))).rejects.toThrow(`the ${kind} data is truncated`);
    const corrupt = Buffer.from(stored);
    for (let i = 20; i < 200; i++) corrupt[i] = (corrupt[i] as number) ^ 0x5a;
    await expect(inflate(corrupt)).rejects.toThrow(LayerDataError);
    await expect(inflate(corrupt)).rejects.toThrow(new RegExp(`the ${kind} data is (corrupt|truncated)`));
  });

  it.each([
    ['gzip', gzip(tar)],
    ...zstdRows((): [string, Buffer][] => [['zstd', zstd(tar)]]),
    ['tar', tar],
  ])("%s: the source's own error comes through unchanged", async (_kind, stored) => {
    const digest = new Error('digest mismatch');
    await expect(inflate(stored, 1000, digest)).rejects.toBe(digest);
  });
});
