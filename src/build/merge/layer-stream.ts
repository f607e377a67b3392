/**
 * A layer's bytes as stored (gzip, zstd or plain tar, told apart by their magic
 * bytes, not by the media type, which registries get wrong) turned into a stream
 * of tar bytes.
 *
 * gzip: node:zlib, which inflates on the libuv pool and honours backpressure.
 * zstd: node:zlib where the runtime has it (Node >= 22.15), else the pure-JS fzstd
 * on the main thread, fed block by block (zstd-frames.ts) so that a highly
 * compressed stretch (a file of zeros) cannot inflate into memory all at once.
 */
import { Readable, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { checksumMatches } from './tar-header.js';
import { ZstdSplitter } from './zstd-frames.js';
import { chunksOf } from '../chunks-of.js';

export type Compression = 'gzip' | 'zstd' | 'tar';

/** Bad or truncated compressed data, or bytes that are no layer at all; the caller adds the layer. */
export class LayerDataError extends Error {}

export interface LayerData {
  compression: Compression;
  /** Uncompressed tar bytes. */
  chunks: AsyncIterator<Buffer>;
  /** Stops reading and releases the source (after an error elsewhere). */
  destroy(): void;
}

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const SNIFF = 512;
/** Output chunk of the inflaters: big chunks mean fewer trips through the tar reader. */
const CHUNK = 256 * 1024;
const READ_AHEAD = 4 << 20;

const startsWith = (b: Buffer, magic: number[]): boolean => magic.every((m, i) => b[i] === m);

/** What the first bytes (up to 512) of a layer are, or undefined when none of the three. */
export function detectCompression(head: Buffer): Compression | undefined {
  if (head.length === 0) return 'tar'; // an empty stream: an empty layer, as Go's tar reader sees it
  if (startsWith(head, GZIP)) return 'gzip';
  if (startsWith(head, ZSTD)) return 'zstd';
  if (head.length >= 263 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  // A pre-POSIX header has no magic; its checksum still has to add up.
  if (head.length >= SNIFF && (head.subarray(0, SNIFF).every((b) => b === 0) || checksumMatches(head))) return 'tar';
  return undefined;
}

/** Reads the stored bytes of a layer; `onRaw` gets the running total of stored bytes read. */
export async function openLayerData(raw: Readable, onRaw?: (total: number) => void): Promise<LayerData> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let total = 0;
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  while (headLen < SNIFF) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    head.push(b);
    headLen += b.length;
    total += b.length;
  }
  if (total > 0) onRaw?.(total);
  const first = Buffer.concat(head);
  const compression = detectCompression(first.subarray(0, SNIFF));
  if (!compression) {
    raw.destroy();
    throw new LayerDataError(`it is not a gzip, zstd or tar stream (it starts with ${first.subarray(0, 8).toString('hex') || 'nothing'})`);
  }

  const failed: { error?: unknown } = {};
  async function* stored(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    if (ended) return;
    for (;;) {
      let r: IteratorResult<Buffer>;
      try {
        r = await it.next();
      } catch (e) {
        failed.error = e; // the source's own error (I/O, digest): passed through untouched
        throw e;
      }
      if (r.done) return;
      const b = r.value;
      total += b.length;
      onRaw?.(total);
      yield b;
    }
  }

  const destroy = (): void => {
    raw.destroy();
  };
  if (compression === 'tar') return { compression, chunks: stored(), destroy };

  const zstdNative = (zlib as { createZstdDecompress?: (o?: zlib.ZlibOptions) => zlib.Gunzip }).createZstdDecompress;
  if (compression === 'gzip' || zstdNative) {
    // A read-ahead of a few MiB lets the inflater run on the libuv pool while the merge
    // waits for the writer (a big file is handed over piece by piece).
    const opts = { chunkSize: CHUNK, readableHighWaterMark: CHUNK };
    const inflater = compression === 'gzip' ? zlib.createGunzip(opts) : (zstdNative as NonNullable<typeof zstdNative>)(opts);
    const out = pipeline(Readable.from(stored(), { objectMode: false }), inflater, () => undefined);
    return {
      compression,
      chunks: inflated(chunksOf(out, READ_AHEAD), compression, failed),
      destroy: () => {
        out.destroy();
        destroy();
      },
    };
  }
  return { compression, chunks: fzstd(stored()), destroy };
}

/** The inflater's output; its errors become LayerDataErrors, the source's pass through. */
async function* inflated(out: AsyncIterable<Buffer>, what: Compression, source: { error?: unknown }): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of out) yield chunk;
  } catch (e) {
    if (source.error !== undefined && e === source.error) throw e;
    const code = (e as { code?: unknown }).code;
    const truncated = code === 'Z_BUF_ERROR' || /unexpected end/i.test(String((e as Error).message));
    throw new LayerDataError(truncated ? `the ${what} data is truncated` : `the ${what} data is corrupt (${(e as Error).message})`);
  }
}

const ZSTD_TRUNCATED = 5; // fzstd's ZstdErrorCode.UnexpectedEOF

async function* fzstd(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let out: Uint8Array[] = [];
  const d = new Decompress((data) => {
    if (data.length > 0) out.push(data);
  });
  const push = (piece: Uint8Array, final: boolean): Buffer[] => {
    try {
      d.push(piece, final);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new LayerDataError(code === ZSTD_TRUNCATED ? 'the zstd data is truncated' : `the zstd data is corrupt (${(e as Error).message})`);
    }
    // fzstd 0.1.1 keeps the empty tail of a push that ends on a block boundary (as the
    // splitter's pieces do) in its list of pending input, never cleared while that list
    // holds no bytes: each tail pins its whole input buffer. Clear it (a leak of the
    // entire compressed layer otherwise; merge-memory.test.ts watches it).
    const pending = d as unknown as { c?: unknown; l?: unknown };
    if (pending.l === 0 && Array.isArray(pending.c) && pending.c.length > 0) pending.c = [];
    const batch = out.map((o) => Buffer.from(o.buffer, o.byteOffset, o.byteLength));
    out = [];
    return batch;
  };
  const splitter = new ZstdSplitter();
  for await (const chunk of source) for (const piece of splitter.push(chunk)) for (const b of push(piece, false)) yield b;
  for (const b of push(splitter.finish(), true)) yield b;
}
