/**
 * A streaming tar reader for layer archives: ustar, GNU (long names 'L'/'K') and
 * POSIX pax (local 'x' and global 'g' records), V7.
 *
 * Written here rather than using tar-stream because tar-stream decodes pax values
 * as UTF-8 strings: binary xattr values (security.capability) and non-UTF-8 path
 * records would be corrupted. Names are returned as latin1 strings of their raw
 * bytes (see entry-path.ts). Like Go's archive/tar (which made most layers):
 * types 1-6 carry no data whatever their size field says, and an archive that ends
 * at an entry boundary without the two zero blocks is accepted.
 */
import { ByteReader, UnexpectedEnd } from './byte-reader.js';
import { showKey } from './entry-path.js';
import { BLOCK, cString, field, isZeroBlock, numeric, parsePax, TarFormatError, verifyChecksum } from './tar-header.js';

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'unknown';

export interface TarEntry {
  /** Position among the archive's entries (pax and GNU name records not counted). */
  index: number;
  type: TarType;
  /** The typeflag byte, for messages about unknown types. */
  typeflag: string;
  /** Raw name bytes as a latin1 string, not yet normalized. */
  name: string;
  /** Raw link target bytes as a latin1 string ('' when none). */
  linkname: string;
  /** Permission bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch, fractions dropped. */
  mtime: number;
  /** Bytes of data that follow the header. */
  size: number;
  devmajor: number;
  devminor: number;
  /** From pax SCHILY.xattr.* / LIBARCHIVE.xattr.* records. */
  xattrs?: Map<string, Buffer>;
  /** Offset of the entry's (first) header in the uncompressed stream. */
  offset: number;
}

export { TarFormatError };

/** Bound on pax and GNU long-name records: real ones are a few KiB. */
const MAX_META = 1 << 20;

const TYPES: Record<string, TarType> = {
  '0': 'file', '\0': 'file', '7': 'file', '1': 'link', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo',
  D: 'dir', // GNU dumpdir: a directory whose data lists its contents
};
const HEADER_ONLY = new Set<TarType>(['link', 'symlink', 'char', 'block', 'fifo']);

interface Pending {
  offset: number;
  name?: string;
  linkname?: string;
  pax?: Map<string, Buffer>;
}

export class TarReader {
  private index = 0;
  /** Data and padding of the current entry not yet consumed. */
  private left = 0;
  private pad = 0;
  private current: TarEntry | undefined;

  constructor(readonly bytes: ByteReader) {}

  /** Data bytes of the current entry not yet read. */
  get remaining(): number {
    return this.left;
  }

  /** The next entry, or null at the end of the archive. Skips what is left of the current one. */
  async next(): Promise<TarEntry | null> {
    await this.finishEntry();
    const pending: Pending = { offset: this.bytes.offset };
    for (;;) {
      const offset = this.bytes.offset;
      const h = await this.bytes.exact(BLOCK).catch((e: unknown) => {
        throw e instanceof UnexpectedEnd ? new TarFormatError(`the data ends inside a tar header at byte ${offset}`) : e;
      });
      if (!h || isZeroBlock(h)) {
        if (pending.name !== undefined || pending.linkname !== undefined || pending.pax)
          throw new TarFormatError(`the data ends after an extended header at byte ${pending.offset}, before its entry`);
        return null;
      }
      verifyChecksum(h, offset);
      const flag = String.fromCharCode(h[156] as number);
      const size = numeric(h, 124, 12, offset, 'size');
      if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
        if (size > MAX_META) throw new TarFormatError(`extended header of ${size} bytes at byte ${offset}`);
        const data = await this.readMeta(size, offset);
        // Global pax headers ('g') are read and ignored, as Docker does (git archive writes one).
        if (flag === 'x') pending.pax = parsePax(data, offset, pending.pax);
        else if (flag === 'L') pending.name = cString(data);
        else pending.linkname = cString(data);
        continue;
      }
      const entry = this.decode(h, flag, size, pending);
      this.current = entry;
      if (HEADER_ONLY.has(entry.type) || (entry.type === 'dir' && flag !== 'D')) entry.size = 0;
      if (!Number.isSafeInteger(entry.size) || entry.size < 0)
        throw new TarFormatError(`the size of the entry ${showKey(entry.name)} is invalid`);
      this.left = entry.size;
      this.pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      return entry;
    }
  }

  /** The whole remaining data of the current entry if it is already in hand (a view), else null. */
  takeBody(): Buffer | null {
    const b = this.bytes.take(this.left);
    if (b) this.left = 0;
    return b;
  }

  /** The whole remaining data of the current entry (a view or one copy). */
  async readBody(): Promise<Buffer> {
    const n = this.left;
    const b = n === 0 ? Buffer.alloc(0) : await this.bytes.exact(n).catch(onlyEnd);
    if (!b) throw this.truncated();
    this.left = 0;
    return b;
  }

  /** The remaining data of the current entry, in pieces of at most `max` bytes (views). */
  async *body(max = 1 << 20): AsyncGenerator<Buffer> {
    while (this.left > 0) {
      const p = await this.bytes.piece(Math.min(max, this.left));
      if (!p) throw this.truncated();
      this.left -= p.length;
      yield p;
    }
  }

  private truncated(): TarFormatError {
    const e = this.current;
    return new TarFormatError(`the data ends inside the entry ${e ? showKey(e.name) : ''} (${this.left} of its bytes missing)`);
  }

  private async finishEntry(): Promise<void> {
    if (this.left > 0 || this.pad > 0) {
      if (!(await this.bytes.skip(this.left))) throw this.truncated();
      this.left = 0;
      if (!(await this.bytes.skip(this.pad))) throw this.truncated();
      this.pad = 0;
    }
  }

  private async readMeta(size: number, offset: number): Promise<Buffer> {
    const total = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    const data = total === 0 ? Buffer.alloc(0) : await this.bytes.exact(total).catch(onlyEnd);
    if (!data) throw new TarFormatError(`the data ends inside an extended header at byte ${offset}`);
    return Buffer.from(data.subarray(0, size)); // a copy: small, and it must not pin a whole chunk
  }

  private decode(h: Buffer, flag: string, size: number, p: Pending): TarEntry {
    const offset = p.offset;
    const ustar = h.toString('latin1', 257, 263) === 'ustar\0';
    let name = field(h, 0, 100);
    if (ustar && h[345] !== 0) name = `${field(h, 345, 155)}/${name}`;
    const type: TarType = TYPES[flag] ?? 'unknown';
    if (flag === 'S') throw new TarFormatError(`entry ${showKey(name)} is a GNU sparse file, which is not supported`);
    const entry: TarEntry = {
      index: this.index++,
      type,
      typeflag: flag,
      name,
      linkname: field(h, 157, 100),
      mode: numeric(h, 100, 8, offset, 'mode') & 0o7777,
      uid: numeric(h, 108, 8, offset, 'uid'),
      gid: numeric(h, 116, 8, offset, 'gid'),
      mtime: numeric(h, 136, 12, offset, 'mtime'),
      size,
      devmajor: type === 'char' || type === 'block' ? numeric(h, 329, 8, offset, 'devmajor') : 0,
      devminor: type === 'char' || type === 'block' ? numeric(h, 337, 8, offset, 'devminor') : 0,
      offset,
    };
    if (p.name !== undefined) entry.name = p.name;
    if (p.linkname !== undefined) entry.linkname = p.linkname;
    if (p.pax) applyPax(entry, p.pax);
    // Pre-POSIX archives mark a directory by a trailing slash on a '\0' entry (so does Go's reader).
    if (flag === '\0' && entry.name.endsWith('/')) entry.type = 'dir';
    return entry;
  }
}

/** An early end becomes null (the caller says what was cut); other errors (the source's) pass. */
function onlyEnd(e: unknown): null {
  if (e instanceof UnexpectedEnd) return null;
  throw e;
}

function paxNumber(v: Buffer, key: string, entry: TarEntry): number {
  const s = v.toString('latin1');
  const n = Number(s);
  if (!/^-?\d+(\.\d*)?$/.test(s) || !Number.isFinite(n))
    throw new TarFormatError(`the pax ${key} record of ${showKey(entry.name)} is not a number: ${JSON.stringify(s)}`);
  return Math.floor(n);
}

function applyPax(entry: TarEntry, pax: Map<string, Buffer>): void {
  for (const [key, v] of pax) {
    switch (key) {
      case 'path':
        if (v.length) entry.name = v.toString('latin1');
        break;
      case 'linkpath':
        if (v.length) entry.linkname = v.toString('latin1');
        break;
      case 'size':
      case 'uid':
      case 'gid':
      case 'mtime':
        if (v.length) entry[key] = paxNumber(v, key, entry);
        break;
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          (entry.xattrs ??= new Map()).set(key.slice('SCHILY.xattr.'.length), Buffer.from(v));
        } else if (key.startsWith('LIBARCHIVE.xattr.')) {
          // libarchive: the name URL-encoded, the value base64; SCHILY wins when both are present
          let name: string;
          try {
            name = decodeURIComponent(key.slice('LIBARCHIVE.xattr.'.length));
          } catch {
            throw new TarFormatError(`the pax record ${key} of ${showKey(entry.name)} is malformed`);
          }
          if (!pax.has(`SCHILY.xattr.${name}`)) (entry.xattrs ??= new Map()).set(name, Buffer.from(v.toString('latin1'), 'base64'));
        } else if (key.startsWith('GNU.sparse.')) {
          throw new TarFormatError(`entry ${showKey(entry.name)} is a sparse file (pax GNU.sparse), which is not supported`);
        }
    }
  }
}
