/**
 * Squashfs 4.0 superblock (96 bytes, little endian) — enough to validate an image
 * before handing it to squashfuse, which reports damage far less clearly.
 */
import { SifError } from '../errors.js';

export const SQUASHFS_SUPERBLOCK_SIZE = 96;
/** "hsqs" read as a little-endian u32. */
export const SQUASHFS_MAGIC = 0x73717368;

export type SquashfsCompression = 'gzip' | 'lzma' | 'lzo' | 'xz' | 'lz4' | 'zstd';

export const SQUASHFS_COMPRESSION: Readonly<Record<number, SquashfsCompression>> = {
  1: 'gzip',
  2: 'lzma',
  3: 'lzo',
  4: 'xz',
  5: 'lz4',
  6: 'zstd',
};

export interface SquashfsSuperblock {
  inodeCount: number;
  /** Unix seconds. */
  modTime: number;
  blockSize: number;
  fragmentCount: number;
  compressionId: number;
  compression: SquashfsCompression;
  blockLog: number;
  flags: number;
  idCount: number;
  versionMajor: number;
  versionMinor: number;
  rootInode: bigint;
  /** Bytes of the filesystem proper; the file or partition may be padded beyond it. */
  bytesUsed: number;
  idTableStart: number;
  xattrIdTableStart: number;
  inodeTableStart: number;
  directoryTableStart: number;
  fragmentTableStart: number;
  exportTableStart: number;
}

export function hasSquashfsMagic(buf: Buffer, at = 0): boolean {
  return buf.length >= at + 4 && buf.readUInt32LE(at) === SQUASHFS_MAGIC;
}

/** Table offsets are u64; 0xffff…ffff means "absent", kept as -1. */
function u64(buf: Buffer, off: number): number {
  const v = buf.readBigUInt64LE(off);
  return v === 0xffffffffffffffffn ? -1 : Number(v);
}

/**
 * Parse and sanity-check a superblock. `file` names the image in messages.
 * Bad magic/version/geometry → SIF_E_IMAGE_CORRUPT; unknown compressor → SIF_E_IMAGE_UNSUPPORTED_FS.
 */
export function parseSquashfsSuperblock(buf: Buffer, file = 'image'): SquashfsSuperblock {
  const corrupt = (why: string): SifError =>
    new SifError('SIF_E_IMAGE_CORRUPT', `${file}: corrupt squashfs superblock (${why})`, {
      hint: 'the image is damaged; rebuild it or fetch it again',
    });
  if (!hasSquashfsMagic(buf)) throw corrupt('no "hsqs" magic');
  if (buf.length < SQUASHFS_SUPERBLOCK_SIZE) {
    throw new SifError('SIF_E_IMAGE_TRUNCATED', `${file}: squashfs superblock is truncated (${buf.length} of ${SQUASHFS_SUPERBLOCK_SIZE} bytes)`, {
      hint: 'the file was probably cut short while copying or downloading; fetch it again',
    });
  }
  const versionMajor = buf.readUInt16LE(28);
  const versionMinor = buf.readUInt16LE(30);
  if (versionMajor !== 4 || versionMinor !== 0) {
    throw corrupt(`version ${versionMajor}.${versionMinor}, only 4.0 is supported`);
  }
  const blockSize = buf.readUInt32LE(12);
  const blockLog = buf.readUInt16LE(22);
  // mksquashfs allows 4 KiB..1 MiB blocks; block_log must agree with block_size.
  if (blockLog < 12 || blockLog > 20 || blockSize !== 2 ** blockLog) {
    throw corrupt(`block size ${blockSize} with block_log ${blockLog}`);
  }
  const compressionId = buf.readUInt16LE(20);
  const compression = SQUASHFS_COMPRESSION[compressionId];
  if (compression === undefined) {
    throw new SifError('SIF_E_IMAGE_UNSUPPORTED_FS', `${file}: squashfs uses unknown compression id ${compressionId}`, {
      hint: 'supported compressors: gzip, lzma, lzo, xz, lz4, zstd',
    });
  }
  const bytesUsed = u64(buf, 40);
  if (bytesUsed < SQUASHFS_SUPERBLOCK_SIZE) throw corrupt(`bytes_used ${bytesUsed}`);
  return {
    inodeCount: buf.readUInt32LE(4),
    modTime: buf.readUInt32LE(8),
    blockSize,
    fragmentCount: buf.readUInt32LE(16),
    compressionId,
    compression,
    blockLog,
    flags: buf.readUInt16LE(24),
    idCount: buf.readUInt16LE(26),
    versionMajor,
    versionMinor,
    rootInode: buf.readBigUInt64LE(32),
    bytesUsed,
    idTableStart: u64(buf, 48),
    xattrIdTableStart: u64(buf, 56),
    inodeTableStart: u64(buf, 64),
    directoryTableStart: u64(buf, 72),
    fragmentTableStart: u64(buf, 80),
    exportTableStart: u64(buf, 88),
  };
}
