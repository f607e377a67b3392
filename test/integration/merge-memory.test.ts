// A 200 MiB file goes from the layer stream into the squashfs writer in bounded
// memory: the process's resident size must grow by far less than the file. The layer
// is generated on the fly (nothing of it is held in memory or on disk), gzip'd with
// data gzip cannot shrink, and zstd'd zeros (which inflate a thousandfold, the case
// where a decompressor without backpressure would balloon).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mergeLayers, type MergeLayer } from '../../src/build/merge/merge-layers.js';
import { SquashfsWriter } from '../../src/image/squashfs-writer.js';
import { fixChecksum, run, tarEntry } from '../unit/build/merge/support.js';

const SIZE = 200 << 20;
const MiB = 1 << 20;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sif-merge-mem-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A tar with one file of SIZE bytes (`block` repeated) and a small one, generated as it is read. */
function bigTar(block: Buffer): Readable {
  const header = tarEntry({ name: 'huge/big.bin', data: Buffer.alloc(0) });
  // the header of a 0-byte file, patched to SIZE bytes (octal), checksum redone
  header.write(SIZE.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  fixChecksum(header);
  async function* gen(): AsyncGenerator<Buffer> {
    yield header;
    for (let n = 0; n < SIZE; n += block.length) yield block.subarray(0, Math.min(block.length, SIZE - n));
    yield tarEntry({ name: 'huge/after', data: 'after\n' });
    yield Buffer.alloc(1024);
  }
  return Readable.from(gen(), { objectMode: false });
}

/** Runs the merge while sampling the resident size; returns the largest growth seen. */
async function peakGrowth(layer: MergeLayer): Promise<{ growth: number; img: string }> {
  const img = join(dir, 'big.sqfs');
  const w = await SquashfsWriter.create(img, { workers: 2 });
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const stats = await mergeLayers([layer], w);
    expect(stats).toMatchObject({ files: 2, bytes: SIZE + 6 });
    await w.finish();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return { growth: peak - base, img };
}

function noise(): Buffer {
  const b = Buffer.alloc(MiB);
  for (let o = 0; o < MiB; o += 16) createHash('md5').update(`${o}`).digest().copy(b, o); // no compressor can shrink this
  return b;
}

describe('mergeLayers: a 200 MiB file in bounded memory', () => {
  it('gzip layer, incompressible data', async () => {
    const layer: MergeLayer = {
      name: 'sha256:big-gzip',
      open: async () => pipeline(bigTar(noise()), createGzip({ level: 1 }), () => undefined),
    };
    const { growth, img } = await peakGrowth(layer);
    expect(growth).toBeLessThan(64 * MiB);
    expect(run('rdsquashfs', ['-s', '/huge/big.bin', img]).toString()).toMatch(new RegExp(`File size: ${SIZE}\\b`));
    expect(run('rdsquashfs', ['-c', '/huge/after', img]).toString()).toBe('after\n');
  }, 180_000);

  // zstd goes through the pure-JS fzstd (on Node without zstd in node:zlib): zeros
  // inflate about 1000:1, the case where a decompressor without backpressure balloons;
  // incompressible data makes the compressed stream itself as big as the file.
  it.each([
    ['zeros', () => Buffer.alloc(MiB)],
    ['incompressible data', noise],
  ])('zstd layer, %s', async (_, block) => {
    let stored = 0;
    const layer: MergeLayer = {
      name: 'sha256:big-zstd',
      open: async () => {
        // compressed on the fly by the zstd tool: fresh chunks, nothing held by the test
        const child = spawn('zstd', ['-q', '-c', '-1'], { stdio: ['pipe', 'pipe', 'inherit'] });
        bigTar(block()).pipe(child.stdin);
        child.stdout.on('data', (c: Buffer) => (stored += c.length));
        return child.stdout;
      },
    };
    const { growth, img } = await peakGrowth(layer);
    expect(growth).toBeLessThan(64 * MiB);
    expect(run('rdsquashfs', ['-s', '/huge/big.bin', img]).toString()).toMatch(new RegExp(`File size: ${SIZE}\\b`));
    if (block === noise) expect(stored).toBeGreaterThan(SIZE);
    else expect(stored).toBeLessThan(SIZE / 500);
  }, 180_000);
});
