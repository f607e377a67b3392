// A squashfs 4.0 image built byte by byte, every block stored uncompressed, so that a
// test can put any value in any field: directory entries naming any inode (loops), sizes
// and offsets a real writer never writes. Only what SquashfsReader reads is written.
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { SQUASHFS_MAGIC, SQUASHFS_SUPERBLOCK_SIZE } from '../../src/image/squashfs-superblock.js';

export type CraftedNode =
  /** entries: name -> index of the node in the image's list. */
  | { kind: 'dir'; entries: Array<[string, number]>; extended?: boolean }
  /** data: stored in blocks of blockSize, uncompressed, unless `blocks` gives the block list as stored. */
  | { kind: 'file'; data?: Buffer; size?: number; blocks?: number[]; blocksStart?: number; fragment?: number; fragmentOffset?: number; extended?: boolean }
  | { kind: 'symlink'; target: string }
  | { kind: 'fifo' }
  | { kind: 'chardev' };

export interface CraftedImage {
  /** Node 0 is the root directory. */
  nodes: CraftedNode[];
  blockSize?: number;
  /** Fragment table entries: where each fragment block lies (position, stored size with flags). */
  fragments?: Array<{ start: number; size: number }>;
  /** Bytes placed right after the superblock (fragment blocks, say): they start at DATA_START. */
  extraData?: Buffer;
  /** A metadata block of this many bytes, stored uncompressed, as the first block of the inode table (a size no real image has). */
  oversizeFirstInodeBlock?: number;
  /** The whole inode table as one gzip-compressed metadata block, whatever its size. */
  oneDeflatedInodeBlock?: boolean;
}

export const DATA_START = SQUASHFS_SUPERBLOCK_SIZE;
const META = 8192;
const UNCOMPRESSED_META = 0x8000;
export const BLOCK_UNCOMPRESSED = 1 << 24;

/** Splits a metadata stream into uncompressed blocks; a position in the stream maps to (block position << 16 | offset). */
function metadataBlocks(stream: Buffer, first = META): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0, size = first; at < stream.length; at += size, size = META) {
    const chunk = stream.subarray(at, Math.min(at + size, stream.length));
    const head = Buffer.alloc(2);
    head.writeUInt16LE(chunk.length | UNCOMPRESSED_META);
    parts.push(head, chunk);
  }
  return Buffer.concat(parts);
}

function deflatedBlock(stream: Buffer): Buffer {
  const z = deflateSync(stream);
  const head = Buffer.alloc(2);
  head.writeUInt16LE(z.length);
  return Buffer.concat([head, z]);
}

function refOf(pos: number, first = META): { block: number; offset: number } {
  if (pos < first) return { block: 0, offset: pos };
  const k = Math.floor((pos - first) / META);
  return { block: first + 2 + k * (META + 2), offset: (pos - first) % META };
}

function inodeSize(n: CraftedNode, blockSize: number): number {
  switch (n.kind) {
    case 'dir':
      return 16 + (n.extended ? 24 : 16);
    case 'file': {
      const size = n.size ?? n.data?.length ?? 0;
      const count = n.blocks ? n.blocks.length : Math.ceil(size / blockSize);
      return 16 + (n.extended ? 40 : 16) + 4 * count;
    }
    case 'symlink':
      return 16 + 8 + Buffer.byteLength(n.target);
    case 'fifo':
      return 16 + 4;
    case 'chardev':
      return 16 + 8;
  }
}

const TYPES = { dir: [1, 8], file: [2, 9], symlink: [3, 3], chardev: [5, 5], fifo: [6, 6] } as const;

export function craftSquashfs(path: string, img: CraftedImage): void {
  const bs = img.blockSize ?? 4096;
  const first = img.oneDeflatedInodeBlock ? Infinity : (img.oversizeFirstInodeBlock ?? META);
  const extra = img.extraData ?? Buffer.alloc(0);
  // File data: each file's blocks, stored uncompressed, after the extra bytes.
  const dataParts: Buffer[] = [extra];
  let dataPos = DATA_START + extra.length;
  const fileData = img.nodes.map((n) => {
    if (n.kind !== 'file' || n.blocks || !n.data) return undefined;
    const start = dataPos;
    const blocks: number[] = [];
    for (let at = 0; at < n.data.length; at += bs) {
      const chunk = n.data.subarray(at, at + bs);
      dataParts.push(chunk);
      blocks.push(chunk.length | BLOCK_UNCOMPRESSED);
      dataPos += chunk.length;
    }
    return { start, blocks };
  });
  // Inode positions in the inode stream.
  const inodePos: number[] = [];
  let total = 0;
  for (const n of img.nodes) {
    inodePos.push(total);
    total += inodeSize(n, bs);
  }
  const ref = (i: number) => refOf(inodePos[i]!, first);
  // Directory listings: one header per run of entries in the same inode block (at most 256).
  const dirStream: Buffer[] = [];
  let dirTotal = 0;
  const listing = img.nodes.map((n) => {
    if (n.kind !== 'dir') return undefined;
    const at = dirTotal;
    const parts: Buffer[] = [];
    let run: Array<[string, number]> = [];
    const flush = () => {
      if (!run.length) return;
      const h = Buffer.alloc(12);
      h.writeUInt32LE(run.length - 1, 0);
      h.writeUInt32LE(ref(run[0]![1]).block, 4);
      h.writeUInt32LE(run[0]![1] + 1, 8);
      parts.push(h);
      for (const [name, i] of run) {
        const e = Buffer.alloc(8);
        e.writeUInt16LE(ref(i).offset, 0);
        e.writeUInt16LE(TYPES[img.nodes[i]!.kind][0], 4);
        const nb = Buffer.from(name);
        e.writeUInt16LE(nb.length - 1, 6);
        parts.push(e, nb);
      }
      run = [];
    };
    for (const entry of n.entries) {
      if (run.length === 256 || (run.length && ref(run[0]![1]).block !== ref(entry[1]).block)) flush();
      run.push(entry);
    }
    flush();
    const bytes = Buffer.concat(parts);
    dirStream.push(bytes);
    dirTotal += bytes.length;
    return { ...refOf(at), size: bytes.length + 3 };
  });
  // The inodes themselves.
  const inodes = img.nodes.map((n, i) => {
    const b = Buffer.alloc(inodeSize(n, bs));
    b.writeUInt16LE(TYPES[n.kind][n.kind === 'dir' || n.kind === 'file' ? (n.extended ? 1 : 0) : 0], 0);
    b.writeUInt16LE(n.kind === 'dir' ? 0o755 : 0o644, 2);
    b.writeUInt32LE(i + 1, 12);
    if (n.kind === 'dir') {
      const l = listing[i]!;
      if (n.extended) {
        b.writeUInt32LE(2, 16);
        b.writeUInt32LE(l.size, 20);
        b.writeUInt32LE(l.block, 24);
        b.writeUInt16LE(l.offset, 34);
      } else {
        b.writeUInt32LE(l.block, 16);
        b.writeUInt32LE(2, 20);
        b.writeUInt16LE(Math.min(l.size, 0xffff), 24);
        b.writeUInt16LE(l.offset, 26);
      }
    } else if (n.kind === 'file') {
      const d = fileData[i];
      const size = n.size ?? n.data?.length ?? 0;
      const blocks = n.blocks ?? d?.blocks ?? [];
      const start = n.blocksStart ?? d?.start ?? 0;
      const fragment = n.fragment ?? 0xffffffff;
      let at: number;
      if (n.extended) {
        b.writeBigUInt64LE(BigInt(start), 16);
        b.writeBigUInt64LE(BigInt(size), 24);
        b.writeUInt32LE(1, 40);
        b.writeUInt32LE(fragment, 44);
        b.writeUInt32LE(n.fragmentOffset ?? 0, 48);
        b.writeUInt32LE(0xffffffff, 52);
        at = 56;
      } else {
        b.writeUInt32LE(start, 16);
        b.writeUInt32LE(fragment, 20);
        b.writeUInt32LE(n.fragmentOffset ?? 0, 24);
        b.writeUInt32LE(size, 28);
        at = 32;
      }
      for (const s of blocks) (b.writeUInt32LE(s, at), (at += 4));
    } else if (n.kind === 'symlink') {
      b.writeUInt32LE(1, 16);
      b.writeUInt32LE(Buffer.byteLength(n.target), 20);
      b.write(n.target, 24);
    } else {
      b.writeUInt32LE(1, 16);
    }
    return b;
  });
  const data = Buffer.concat(dataParts);
  const inodeTable = img.oneDeflatedInodeBlock ? deflatedBlock(Buffer.concat(inodes)) : metadataBlocks(Buffer.concat(inodes), first);
  const dirTable = metadataBlocks(Buffer.concat(dirStream));
  const inodeTableStart = DATA_START + data.length;
  const dirTableStart = inodeTableStart + inodeTable.length;
  // Fragment entries in one metadata block, then the index of that block.
  const frags = img.fragments ?? [];
  const fragEntries = Buffer.alloc(16 * frags.length);
  frags.forEach((f, k) => {
    fragEntries.writeBigUInt64LE(BigInt(f.start), 16 * k);
    fragEntries.writeUInt32LE(f.size, 16 * k + 8);
  });
  const fragBlock = frags.length ? metadataBlocks(fragEntries) : Buffer.alloc(0);
  const fragBlockPos = dirTableStart + dirTable.length;
  const fragIndex = Buffer.alloc(8);
  fragIndex.writeBigUInt64LE(BigInt(fragBlockPos));
  const fragTableStart = fragBlockPos + fragBlock.length;
  const end = fragTableStart + 8;
  const sb = Buffer.alloc(DATA_START);
  sb.writeUInt32LE(SQUASHFS_MAGIC, 0);
  sb.writeUInt32LE(img.nodes.length, 4);
  sb.writeUInt32LE(bs, 12);
  sb.writeUInt32LE(frags.length, 16);
  sb.writeUInt16LE(1, 20); // gzip (every block here is stored uncompressed)
  sb.writeUInt16LE(Math.log2(bs), 22);
  sb.writeUInt16LE(1, 26);
  sb.writeUInt16LE(4, 28);
  const root = ref(0);
  sb.writeBigUInt64LE((BigInt(root.block) << 16n) | BigInt(root.offset), 32);
  sb.writeBigUInt64LE(BigInt(end), 40);
  sb.writeBigInt64LE(-1n, 48);
  sb.writeBigInt64LE(-1n, 56);
  sb.writeBigUInt64LE(BigInt(inodeTableStart), 64);
  sb.writeBigUInt64LE(BigInt(dirTableStart), 72);
  sb.writeBigUInt64LE(BigInt(fragTableStart), 80);
  sb.writeBigInt64LE(-1n, 88);
  writeFileSync(path, Buffer.concat([sb, data, inodeTable, dirTable, fragBlock, fragIndex]));
}
