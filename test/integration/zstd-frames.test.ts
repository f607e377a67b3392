// Cutting a zstd stream at block boundaries so that fzstd never inflates more than
// about 1 MiB at once: the pieces are the stream itself, cut; each inflates to a
// bounded size; several frames, skippable frames and odd chunkings work.
import { describe, expect, it } from '@jest/globals';
import { Decompress } from 'fzstd';
import { ZstdSplitter } from '../../src/build/merge/zstd-frames.js';
import { run, tarball, zstd } from '../unit/build/merge/support.js';

const tar = tarball([{ name: 'a', data: 'hello' }, { name: 'b', data: 'x'.repeat(100_000) }]);

describe('ZstdSplitter', () => {
  /** Splits `stored` (fed in `chunk`-byte parts), inflates piece by piece; returns the output and the largest piece output. */
  function split(stored: Buffer, chunk: number): { out: Buffer; largest: number; pieces: number } {
    const splitter = new ZstdSplitter();
    const outs: Uint8Array[] = [];
    const d = new Decompress((b) => outs.push(b));
    let largest = 0;
    let pieces = 0;
    const feed = (piece: Buffer, final: boolean): void => {
      const before = outs.reduce((n, b) => n + b.length, 0);
      d.push(piece, final);
      largest = Math.max(largest, outs.reduce((n, b) => n + b.length, 0) - before);
      pieces++;
    };
    const seen: Buffer[] = [];
    for (let o = 0; o < stored.length; o += chunk) for (const p of splitter.push(stored.subarray(o, o + chunk))) (seen.push(p), feed(p, false));
    const rest = splitter.finish();
    seen.push(rest);
    feed(rest, true);
    expect(Buffer.concat(seen).equals(stored)).toBe(true); // pieces are the stream, cut, nothing else
    return { out: Buffer.concat(outs), largest, pieces };
  }

  it('cuts zeros, random data, several frames and skippable frames into pieces of about 1 MiB of output', () => {
    const zeros = Buffer.alloc(32 << 20);
    const random = Buffer.concat(Array.from({ length: 64 }, (_, i) => tarball([{ name: `f${i}`, data: String(i).repeat(40_000) }])));
    const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from([5, 0, 0, 0]), Buffer.from('skip!')]);
    const stored = Buffer.concat([zstd(zeros), skippable, zstd(random), run('zstd', ['-q', '-c', '--no-check', '-19'], tar)]);
    for (const chunk of [1, 4099, 1 << 20]) {
      const { out, largest, pieces } = split(stored, chunk);
      expect(out.equals(Buffer.concat([zeros, random, tar]))).toBe(true);
      expect(largest).toBeLessThanOrEqual(2 << 20);
      expect(pieces).toBeGreaterThan(32);
    }
  });

  it('leaves an incomplete block for fzstd to report', () => {
    const stored = zstd(tar);
    const splitter = new ZstdSplitter();
    const pieces = splitter.push(stored.subarray(0, stored.length - 7));
    expect(Buffer.concat([...pieces, splitter.finish()]).equals(stored.subarray(0, stored.length - 7))).toBe(true);
  });
});
