/**
 * Inflating one squashfs block (metadata or data) in TypeScript, for the compressors
 * Node can inflate: gzip (zlib) and zstd (node:zlib where it has it, else the squashfs
 * addon's libzstd, else fzstd). The
 * output is bounded by what the format allows, so a hostile image cannot make a block
 * inflate to more than `max` bytes.
 */
import { Decompress } from 'fzstd';
import { loadAddon, nativePath } from '../native-addons.js';
import type { SquashfsCompression } from './squashfs-superblock.js';

export type Inflate = (data: Buffer, max: number) => Buffer;

/** Bytes a zstd frame says it holds (its Frame_Content_Size), or undefined when it does not say. */
export function zstdContentSize(frame: Buffer): number | undefined {
  if (frame.length < 6 || frame.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const fhd = frame[4]!;
  const singleSegment = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  const size = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag]!;
  if (size === 0 || frame.length < at + size) return undefined;
  if (size === 1) return frame[at]!;
  if (size === 2) return frame.readUInt16LE(at) + 256;
  if (size === 4) return frame.readUInt32LE(at);
  const big = frame.readBigUInt64LE(at);
  return big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big);
}

type Zlib = typeof import('node:zlib');
/**
 * node:zlib at the first block, not when the module loads: it brings Node's streams,
 * ~5 ms that a start of `--mpi` whose plan is cached (src/mpi/plan-cache.ts) need not pay.
 */
const zlib = (): Zlib => process.getBuiltinModule('node:zlib') as Zlib;
let zstdNativeFn: ((b: Buffer, o?: { maxOutputLength?: number }) => Buffer) | null | undefined;
/** zlib's zstd where Node has it (22.15+), else null: looked up once either way. */
const zstdNative = () => {
  if (zstdNativeFn === undefined) zstdNativeFn = (zlib() as { zstdDecompressSync?: typeof zstdNativeFn }).zstdDecompressSync ?? null;
  return zstdNativeFn;
};

type AddonZstd = (data: Buffer, max: number) => Buffer;
let addonZstd: AddonZstd | null | undefined;

/**
 * libzstd through the squashfs addon, loaded at the first zstd block: fzstd inflates
 * a 128 KiB block in about 10 ms, libzstd in well under 1 (--mpi reads a few blocks
 * of the image's libc at every start). Null where the addon is not built.
 */
function addonInflater(): AddonZstd | null {
  if (addonZstd === undefined) {
    try {
      addonZstd = loadAddon<{ zstdDecompress?: AddonZstd }>(nativePath('squashfs', 'build', 'Release', 'sqfs_writer.node'), 'SIF_E_IMAGE_UNSUPPORTED_FS').zstdDecompress ?? null;
    } catch {
      addonZstd = null;
    }
  }
  return addonZstd;
}

function inflateZstd(data: Buffer, max: number): Buffer {
  const native = zstdNative();
  if (native) return native(data, { maxOutputLength: max });
  const addon = addonInflater();
  if (addon) {
    try {
      return addon(data, max);
    } catch (e) {
      throw new RangeError(`zstd data does not inflate into ${max} bytes: ${(e as Error).message}`);
    }
  }
  const declared = zstdContentSize(data);
  if (declared !== undefined && declared > max) throw new RangeError(`zstd frame holds ${declared} bytes, more than ${max}`);
  // Block by block, counting: a frame that does not declare its size can hold
  // gigabytes in a few bytes a block, and must not be inflated whole to be measured.
  const parts: Uint8Array[] = [];
  let total = 0;
  const stream = new Decompress((chunk) => {
    total += chunk.length;
    if (total > max) throw new RangeError(`zstd data holds more than ${max} bytes`);
    parts.push(chunk);
  });
  stream.push(data, true);
  return Buffer.concat(parts, total);
}

/** The inflater for `compression`, or undefined when Node cannot inflate it (xz, lzma, lzo, lz4). */
export function inflaterFor(compression: SquashfsCompression): Inflate | undefined {
  if (compression === 'gzip') return (data, max) => zlib().inflateSync(data, { maxOutputLength: max });
  if (compression === 'zstd') return inflateZstd;
  return undefined;
}
