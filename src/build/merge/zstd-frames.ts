/**
 * Cuts a zstd stream (RFC 8878) at block boundaries into pieces that each inflate
 * to about 1 MiB at most. fzstd inflates synchronously everything it is given, and
 * zstd shrinks runs of zeros several thousandfold (an RLE block of 128 KiB is 4
 * bytes), so feeding it blindly could inflate a whole big file into memory at once.
 * Only the framing is read here (frame headers, block headers, skippable frames);
 * fzstd still checks everything.
 */
const EMPTY = Buffer.alloc(0);
const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE = 0x184d2a50;
/** A compressed block inflates to at most 128 KiB (Block_Maximum_Size). */
const MAX_BLOCK_OUT = 128 * 1024;
const PIECE_OUT = 1 << 20;

type State = 'frame' | 'block' | 'skip' | 'opaque';

export class ZstdSplitter {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Chunks not yet joined to buf: joined once the item waited for is complete (no quadratic copying). */
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes from pos the next item needs. */
  private want = 0;
  private state: State = 'frame';
  private checksum = false;
  private skipLeft = 0;
  /** Output bound of the item itemSize() found. */
  private itemOut = 0;

  /** Complete pieces now available (views). */
  push(chunk: Buffer): Buffer[] {
    this.parts.push(chunk);
    this.partsLen += chunk.length;
    if (this.buf.length - this.pos + this.partsLen < this.want) return [];
    this.buf = this.pos < this.buf.length || this.parts.length > 1 ? Buffer.concat([this.buf.subarray(this.pos), ...this.parts]) : chunk;
    this.pos = 0;
    this.parts = [];
    this.partsLen = 0;
    this.want = 0;
    const out: Buffer[] = [];
    let start = 0;
    let bound = 0;
    for (;;) {
      const n = this.itemSize();
      if (n < 0) break;
      if (bound + this.itemOut > PIECE_OUT && this.pos > start) {
        out.push(this.buf.subarray(start, this.pos));
        start = this.pos;
        bound = 0;
      }
      this.pos += n;
      bound += this.itemOut;
    }
    if (this.pos > start) out.push(this.buf.subarray(start, this.pos));
    return out;
  }

  /** What is left at the end of the stream: an incomplete item (fzstd reports it) or nothing. */
  finish(): Buffer {
    const rest = Buffer.concat([this.buf.subarray(this.pos), ...this.parts]);
    this.parts = [];
    this.buf = EMPTY;
    this.pos = 0;
    return rest;
  }

  /** Bytes of the next complete item at pos (setting itemOut and the next state), or -1 if more data is needed. */
  private itemSize(): number {
    const n = this.item();
    if (n < 0 && this.want === 0) this.want = this.buf.length - this.pos + 1;
    return n;
  }

  private need(n: number): number {
    this.want = n;
    return -1;
  }

  private item(): number {
    const b = this.buf;
    const p = this.pos;
    const have = b.length - p;
    this.itemOut = 0;
    switch (this.state) {
      case 'frame': {
        if (have < 4) return this.need(4);
        const magic = b.readUInt32LE(p);
        if (magic === ZSTD_MAGIC) {
          if (have < 5) return this.need(5);
          const fhd = b[p + 4] as number;
          const single = (fhd >> 5) & 1;
          const fcs = [single ? 1 : 0, 2, 4, 8][fhd >> 6] as number;
          const did = [0, 1, 2, 4][fhd & 3] as number;
          const len = 5 + (single ? 0 : 1) + did + fcs;
          if (have < len) return this.need(len);
          this.checksum = ((fhd >> 2) & 1) === 1;
          this.state = 'block';
          return len;
        }
        if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE) {
          if (have < 8) return this.need(8);
          this.skipLeft = b.readUInt32LE(p + 4);
          this.state = this.skipLeft > 0 ? 'skip' : 'frame';
          return 8;
        }
        this.state = 'opaque'; // not zstd framing: hand everything to fzstd, which will say what is wrong
        return 0;
      }
      case 'skip': {
        if (have === 0) return this.need(1);
        const n = Math.min(have, this.skipLeft);
        this.skipLeft -= n;
        if (this.skipLeft === 0) this.state = 'frame';
        return n;
      }
      case 'block': {
        if (have < 3) return this.need(3);
        const h = (b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16);
        const last = (h & 1) === 1;
        const type = (h >> 1) & 3;
        const size = h >>> 3;
        const len = 3 + (type === 1 ? 1 : size) + (last && this.checksum ? 4 : 0);
        if (have < len) return this.need(len);
        this.itemOut = type === 2 ? MAX_BLOCK_OUT : size;
        if (last) this.state = 'frame';
        return len;
      }
      case 'opaque':
        return have > 0 ? have : this.need(1);
    }
  }
}
