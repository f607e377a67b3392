/**
 * Reads files out of a squashfs 4.0 filesystem (plain, or a SIF partition at an
 * offset) without mounting it: enough for `sif inspect` to read /.singularity.d.
 * Every offset and size read from the image is checked against the filesystem's
 * bounds, and everything read is bounded (maxFileBytes, maxListingBytes, the
 * metadata kept, symlink hops), so a damaged or hostile image gives an error, never a
 * hang or a crash.
 */
import { SifError } from '../errors.js';
import { readAt } from './sif-reader.js';
import { inflaterFor, type Inflate } from './squashfs-blocks.js';
import type { SquashfsSuperblock } from './squashfs-superblock.js';

const METADATA_BLOCK = 8192;
const NO_FRAGMENT = 0xffffffff;
const BLOCK_UNCOMPRESSED = 1 << 24;
const FRAGMENTS_PER_BLOCK = 512;
const MAX_SYMLINK_HOPS = 16;
/** Metadata blocks kept inflated (8 KiB each); past this the cache starts over. */
const MAX_CACHED_BLOCKS = 1024;
/** Data blocks of one fileReader kept inflated (up to 1 MiB each). */
const MAX_CACHED_DATA_BLOCKS = 16;
/** Directory entries kept parsed (a few MiB); past this the cache starts over. */
const MAX_CACHED_ENTRIES = 1 << 18;
/**
 * Listing bytes one lookup may parse (cached listings aside): a directory loop walked
 * through 16 symlinks of 4 KiB is some 12,000 steps, and each could parse a listing of
 * maxListingBytes.
 */
const LOOKUP_LISTING_BUDGET = 32 << 20;
/** Path components one lookup may walk: ".." walks the path again from the root, so a long target of them costs its square. */
const MAX_LOOKUP_STEPS = 1 << 16;

/** Inode types of squashfs 4.0 (basic and extended). */
const DIR = [1, 8];
const FILE = [2, 9];
const SYMLINK = [3, 10];

interface Inode {
  type: number;
  /** Directories: listing position and size; files: data; symlinks: target. */
  dirStart?: number;
  dirOffset?: number;
  dirSize?: number;
  blocksStart?: number;
  fileSize?: number;
  fragment?: number;
  fragmentOffset?: number;
  blockSizes?: number[];
  target?: string;
}

export interface SquashfsLocation {
  fd: number;
  /** Where the filesystem starts in the file (a SIF partition's offset; 0 for plain squashfs). */
  offset: number;
  superblock: SquashfsSuperblock;
  /** Names the image in errors. */
  file: string;
}

export class SquashfsReader {
  private readonly inflate: Inflate;
  private readonly metaCache = new Map<number, { data: Buffer; next: number }>();
  private readonly dirCache = new Map<string, Map<string, bigint>>();
  private cachedEntries = 0;
  /** Listing bytes the current lookup may still parse. */
  private listingBudget = LOOKUP_LISTING_BUDGET;

  /**
   * maxListingBytes: an extended inode may claim a 4 GiB listing, a few bytes a
   * metadata block in a hostile image; real directories of 100,000 entries take 3 MiB.
   */
  constructor(
    private readonly at: SquashfsLocation,
    private readonly maxFileBytes = 16 << 20,
    private readonly maxListingBytes = 16 << 20,
  ) {
    const inflate = inflaterFor(at.superblock.compression);
    if (!inflate) {
      throw new SifError('SIF_E_IMAGE_UNSUPPORTED_FS', `${at.file}: sif reads files out of gzip and zstd squashfs images, not ${at.superblock.compression}`, {
        hint: 'rebuild the image with `sif build` (zstd), or read the file with `sif exec IMAGE cat PATH`',
      });
    }
    this.inflate = inflate;
  }

  private corrupt(why: string, cause?: unknown): SifError {
    return new SifError('SIF_E_IMAGE_CORRUPT', `${this.at.file}: corrupt squashfs (${why})`, {
      hint: 'the image is damaged; rebuild it or fetch it again',
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** `len` bytes at filesystem position `pos`, all inside the filesystem. */
  private raw(pos: number, len: number, what: string): Buffer {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.at.superblock.bytesUsed) {
      throw this.corrupt(`${what} at ${pos} (+${len}) lies outside the filesystem's ${this.at.superblock.bytesUsed} bytes`);
    }
    const buf = readAt(this.at.fd, this.at.offset + pos, len, this.at.file);
    if (buf.length < len) throw this.corrupt(`${what} at ${pos} runs past the end of the file`);
    return buf;
  }

  private inflated(data: Buffer, max: number, what: string): Buffer {
    try {
      return this.inflate(data, max);
    } catch (e) {
      throw this.corrupt(`${what} does not inflate: ${(e as Error).message}`, e);
    }
  }

  /** The metadata block at filesystem position `pos`: its content and where the next one starts. */
  private metadataBlock(pos: number): { data: Buffer; next: number } {
    const cached = this.metaCache.get(pos);
    if (cached) return cached;
    const header = this.raw(pos, 2, 'metadata block header').readUInt16LE(0);
    const size = header & 0x7fff;
    if (size === 0) throw this.corrupt(`empty metadata block at ${pos}`);
    if (header & 0x8000 && size > METADATA_BLOCK) throw this.corrupt(`metadata block at ${pos} holds ${size} bytes, more than ${METADATA_BLOCK}`);
    const stored = this.raw(pos + 2, size, 'metadata block');
    const data = header & 0x8000 ? stored : this.inflated(stored, METADATA_BLOCK, `metadata block at ${pos}`);
    const block = { data, next: pos + 2 + size };
    if (this.metaCache.size >= MAX_CACHED_BLOCKS) this.metaCache.clear();
    this.metaCache.set(pos, block);
    return block;
  }

  /** `len` bytes of a metadata table, from block `pos`, byte `offset` on, across blocks. */
  private metadata(pos: number, offset: number, len: number): { bytes: Buffer; pos: number; offset: number } {
    const parts: Buffer[] = [];
    let need = len;
    while (need > 0) {
      const block = this.metadataBlock(pos);
      if (offset > block.data.length) throw this.corrupt(`offset ${offset} in a metadata block of ${block.data.length} bytes`);
      const take = Math.min(need, block.data.length - offset);
      parts.push(block.data.subarray(offset, offset + take));
      need -= take;
      offset += take;
      if (offset === block.data.length && need > 0) {
        pos = block.next;
        offset = 0;
      }
    }
    // Most reads lie in one block: no copy then (directory listings make thousands).
    return { bytes: parts.length === 1 ? parts[0]! : Buffer.concat(parts), pos, offset };
  }

  /** The inode at `ref`; a file's block list is read only up to `maxBytes` of file. */
  private inode(ref: bigint, maxBytes = this.maxFileBytes): Inode {
    const sb = this.at.superblock;
    let pos = sb.inodeTableStart + Number(ref >> 16n);
    let offset = Number(ref & 0xffffn);
    const read = (n: number): Buffer => {
      const r = this.metadata(pos, offset, n);
      pos = r.pos;
      offset = r.offset;
      return r.bytes;
    };
    const type = read(16).readUInt16LE(0);
    if (type === 1) {
      const b = read(16);
      return { type, dirStart: b.readUInt32LE(0), dirSize: b.readUInt16LE(8), dirOffset: b.readUInt16LE(10) };
    }
    if (type === 8) {
      const b = read(24);
      return { type, dirSize: b.readUInt32LE(4), dirStart: b.readUInt32LE(8), dirOffset: b.readUInt16LE(18) };
    }
    if (type === 2 || type === 9) {
      const b = type === 2 ? read(16) : read(40);
      const [blocksStart, fileSize, fragment, fragmentOffset] = type === 2
        ? [b.readUInt32LE(0), b.readUInt32LE(12), b.readUInt32LE(4), b.readUInt32LE(8)]
        : [Number(b.readBigUInt64LE(0)), Number(b.readBigUInt64LE(8)), b.readUInt32LE(28), b.readUInt32LE(32)];
      if (fileSize > maxBytes) return { type, fileSize };
      const full = Math.floor(fileSize / sb.blockSize);
      const count = fragment === NO_FRAGMENT ? Math.ceil(fileSize / sb.blockSize) : full;
      const sizes = read(4 * count);
      const blockSizes = Array.from({ length: count }, (_, i) => sizes.readUInt32LE(4 * i));
      return { type, blocksStart, fileSize, fragment, fragmentOffset, blockSizes };
    }
    if (type === 3 || type === 10) {
      const size = read(8).readUInt32LE(4);
      if (size > 4096) throw this.corrupt(`symlink target of ${size} bytes`);
      return { type, target: read(size).toString('utf8') };
    }
    if (type >= 4 && type <= 14) return { type };
    throw this.corrupt(`inode type ${type}`);
  }

  /** name → inode reference of each entry of the directory `path`. */
  private directory(dir: Inode, path: string): Map<string, bigint> {
    const sb = this.at.superblock;
    if (dir.dirSize! > this.maxListingBytes) {
      throw new SifError('SIF_E_IMAGE_BAD_OBJECT', `${this.at.file}: ${path || '/'} has a directory listing of ${dir.dirSize} bytes, more than the ${this.maxListingBytes} sif reads`);
    }
    const key = `${dir.dirStart}:${dir.dirOffset}:${dir.dirSize}`;
    const cached = this.dirCache.get(key);
    if (cached) return cached;
    this.listingBudget -= dir.dirSize!;
    if (this.listingBudget < 0) throw this.corrupt(`looking up a path parses more than ${LOOKUP_LISTING_BUDGET} bytes of directory listings (a directory loop?)`);
    const entries = new Map<string, bigint>();
    // The listing's size counts 3 bytes for "." and "..", which are not stored.
    let left = dir.dirSize! - 3;
    let pos = sb.directoryTableStart + dir.dirStart!;
    let offset = dir.dirOffset!;
    const read = (n: number): Buffer => {
      if (n > left) throw this.corrupt('a directory listing runs past its size');
      left -= n;
      const r = this.metadata(pos, offset, n);
      pos = r.pos;
      offset = r.offset;
      return r.bytes;
    };
    while (left > 0) {
      const header = read(12);
      const count = header.readUInt32LE(0) + 1;
      const start = BigInt(header.readUInt32LE(4));
      if (count > 256) throw this.corrupt(`a directory header of ${count} entries`);
      for (let i = 0; i < count; i++) {
        const e = read(8);
        const name = read(e.readUInt16LE(6) + 1).toString('utf8');
        entries.set(name, (start << 16n) | BigInt(e.readUInt16LE(0)));
      }
    }
    // Reading n files of one directory parses its listing once, not n times.
    if (this.cachedEntries + entries.size > MAX_CACHED_ENTRIES) {
      this.dirCache.clear();
      this.cachedEntries = 0;
    }
    this.dirCache.set(key, entries);
    this.cachedEntries += entries.size;
    return entries;
  }

  /** Follows `path` (symlinks included, within the image) to an inode; null when it does not exist. */
  private lookup(path: string, maxBytes = this.maxFileBytes): Inode | null {
    const sb = this.at.superblock;
    let todo = path.split('/').filter((c) => c && c !== '.');
    let done: string[] = [];
    let node = this.inode(sb.rootInode);
    let hops = 0;
    let steps = 0;
    this.listingBudget = LOOKUP_LISTING_BUDGET;
    while (todo.length) {
      if (++steps > MAX_LOOKUP_STEPS) throw this.corrupt(`looking up ${path} walks more than ${MAX_LOOKUP_STEPS} path components (a symlink loop?)`);
      const name = todo.shift()!;
      if (name === '..') {
        done.pop();
        todo = [...done, ...todo];
        done = [];
        node = this.inode(sb.rootInode);
        continue;
      }
      if (!DIR.includes(node.type)) return null;
      const ref = this.directory(node, `/${done.join('/')}`).get(name);
      if (ref === undefined) return null;
      const next = this.inode(ref, maxBytes);
      if (SYMLINK.includes(next.type)) {
        if (++hops > MAX_SYMLINK_HOPS) throw this.corrupt(`more than ${MAX_SYMLINK_HOPS} symlinks in ${path}`);
        const target = next.target!;
        todo = [...(target.startsWith('/') ? [] : done), ...target.split('/').filter((c) => c && c !== '.'), ...todo];
        done = [];
        node = this.inode(sb.rootInode);
        continue;
      }
      done.push(name);
      node = next;
    }
    return node;
  }

  /** Names in the directory `path`, sorted; null when it is not a directory. */
  list(path: string): string[] | null {
    return this.guarded(() => {
      const node = this.lookup(path);
      if (!node || !DIR.includes(node.type)) return null;
      return [...this.directory(node, path).keys()].sort();
    });
  }

  /** Contents of the regular file `path`; null when there is none. Over maxFileBytes: SIF_E_IMAGE_BAD_OBJECT. */
  readFile(path: string): Buffer | null {
    return this.guarded(() => this.fileData(path));
  }

  /**
   * The regular file `path` for reading in pieces: only the blocks a read touches are
   * inflated (the ELF reader needs a few of a library's), at most `maxBytes` of file.
   * Null when there is no such file.
   */
  fileReader(path: string, maxBytes = 1 << 30): { size: number; read(offset: number, length: number): Buffer } | null {
    const node = this.guarded(() => this.lookup(path, maxBytes));
    if (!node || !FILE.includes(node.type)) return null;
    const size = node.fileSize!;
    if (size > maxBytes) throw new SifError('SIF_E_IMAGE_BAD_OBJECT', `${this.at.file}: ${path} is ${size} bytes, more than the ${maxBytes} sif reads`);
    const bs = this.at.superblock.blockSize;
    const starts: number[] = [];
    let pos = node.blocksStart!;
    for (const entry of node.blockSizes!) {
      starts.push(pos);
      pos += entry & ~BLOCK_UNCOMPRESSED;
    }
    const blocks = new Map<number, Buffer>();
    const block = (i: number): Buffer => {
      let data = blocks.get(i);
      if (data) return data;
      const want = Math.min(bs, size - i * bs);
      if (i < node.blockSizes!.length) {
        const entry = node.blockSizes![i]!;
        const stored = this.storedSize(entry, path);
        if (stored === 0) data = Buffer.alloc(want);
        else {
          const raw = this.raw(starts[i]!, stored, `a data block of ${path}`);
          data = entry & BLOCK_UNCOMPRESSED ? raw : this.inflated(raw, bs, `a data block of ${path}`);
        }
      } else {
        const tail = this.fragmentBlock(node.fragment!, path);
        const from = node.fragmentOffset!;
        if (from + want > tail.length) throw this.corrupt(`the tail of ${path} lies outside its fragment`);
        data = tail.subarray(from, from + want);
      }
      if (data.length < want) throw this.corrupt(`a data block of ${path} holds ${data.length} bytes, not ${want}`);
      // A few blocks kept (the ELF reader returns to its tables): at most 16 block sizes held, however far reads roam.
      if (blocks.size >= MAX_CACHED_DATA_BLOCKS) blocks.clear();
      blocks.set(i, data);
      return data;
    };
    return {
      size,
      read: (offset, length) =>
        this.guarded(() => {
          const out = Buffer.alloc(length);
          for (let done = 0; done < length; ) {
            const at = offset + done;
            const i = Math.floor(at / bs);
            const data = block(i);
            const n = Math.min(length - done, data.length - (at - i * bs));
            data.copy(out, done, at - i * bs, at - i * bs + n);
            done += n;
          }
          return out;
        }),
    };
  }

  /** Anything but a SifError here is damage the checks above did not name (a bad length, say). */
  private guarded<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SifError) throw e;
      throw this.corrupt((e as Error).message, e);
    }
  }

  private fileData(path: string): Buffer | null {
    const node = this.lookup(path);
    if (!node || !FILE.includes(node.type)) return null;
    const size = node.fileSize!;
    if (size > this.maxFileBytes) {
      throw new SifError('SIF_E_IMAGE_BAD_OBJECT', `${this.at.file}: ${path} is ${size} bytes, more than the ${this.maxFileBytes} sif reads`);
    }
    const bs = this.at.superblock.blockSize;
    const out = Buffer.alloc(size);
    let filled = 0;
    let pos = node.blocksStart!;
    for (const entry of node.blockSizes!) {
      const want = Math.min(bs, size - filled);
      const stored = this.storedSize(entry, path);
      if (stored === 0) {
        filled += want; // a sparse block: zeros
        continue;
      }
      const raw = this.raw(pos, stored, `a data block of ${path}`);
      pos += stored;
      const data = entry & BLOCK_UNCOMPRESSED ? raw : this.inflated(raw, bs, `a data block of ${path}`);
      if (data.length < want) throw this.corrupt(`a data block of ${path} holds ${data.length} bytes, not ${want}`);
      data.copy(out, filled, 0, want);
      filled += want;
    }
    if (filled < size) {
      const tail = this.fragmentBlock(node.fragment!, path);
      const from = node.fragmentOffset!;
      if (from + size - filled > tail.length) throw this.corrupt(`the tail of ${path} lies outside its fragment`);
      tail.copy(out, filled, from, from + size - filled);
    }
    return out;
  }

  /** A data block's stored size: never more than the block size (a writer stores a block that would grow uncompressed). */
  private storedSize(entry: number, path: string): number {
    const stored = entry & ~BLOCK_UNCOMPRESSED;
    if (stored > this.at.superblock.blockSize) throw this.corrupt(`a data block of ${path} claims ${stored} stored bytes, more than the block size ${this.at.superblock.blockSize}`);
    return stored;
  }

  private fragmentBlock(index: number, path: string): Buffer {
    const sb = this.at.superblock;
    if (index === NO_FRAGMENT || index >= sb.fragmentCount) throw this.corrupt(`${path} names fragment ${index} of ${sb.fragmentCount}`);
    const tablePos = Number(this.raw(sb.fragmentTableStart + 8 * Math.floor(index / FRAGMENTS_PER_BLOCK), 8, 'the fragment table').readBigUInt64LE(0));
    const entry = this.metadata(tablePos, (index % FRAGMENTS_PER_BLOCK) * 16, 16).bytes;
    const start = Number(entry.readBigUInt64LE(0));
    const size = entry.readUInt32LE(8);
    const stored = this.storedSize(size, `fragment ${index}`);
    const raw = this.raw(start, stored, `fragment ${index}`);
    return size & BLOCK_UNCOMPRESSED ? raw : this.inflated(raw, sb.blockSize, `fragment ${index}`);
  }
}
