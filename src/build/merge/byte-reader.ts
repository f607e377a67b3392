/**
 * Pull-style reading of a byte stream given as an async iterator of chunks: exact
 * reads for headers, and zero-copy pieces (views into the chunks) for file data.
 * Nothing is read ahead beyond the chunk in hand, so the producer's backpressure
 * (a decompressor's buffer) bounds the memory.
 */
import { buildTimings } from '../build-timings.js';

const EMPTY = Buffer.alloc(0);

export class UnexpectedEnd extends Error {}

export class ByteReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private ended = false;
  /** Bytes consumed before this.buf. */
  private base = 0;

  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  /** Bytes consumed so far. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Bytes in hand, readable without waiting. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** Drops what is in hand and fetches the next non-empty chunk; false at the end. */
  private async fetch(): Promise<boolean> {
    this.base += this.buf.length;
    this.buf = EMPTY;
    this.pos = 0;
    while (!this.ended) {
      const t0 = buildTimings.on ? performance.now() : 0;
      const r = await this.it.next();
      if (t0) buildTimings.add('inflate', t0);
      if (r.done) {
        this.ended = true;
        break;
      }
      const v = r.value;
      if (v.length === 0) continue;
      this.buf = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      return true;
    }
    return false;
  }

  /** Up to `max` bytes (at least one) as a view, or null at the end of the stream. */
  async piece(max: number): Promise<Buffer | null> {
    if (this.pos >= this.buf.length && !(await this.fetch())) return null;
    const n = Math.min(max, this.buf.length - this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /**
   * Exactly `n` bytes: a view when they lie in one chunk, else a copy. At the end of
   * the stream: null if nothing at all was read (a clean end), else UnexpectedEnd.
   */
  async exact(n: number): Promise<Buffer | null> {
    if (this.buf.length - this.pos >= n) {
      const out = this.buf.subarray(this.pos, this.pos + n);
      this.pos += n;
      return out;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      const p = await this.piece(n - got);
      if (!p) {
        if (got === 0) return null;
        throw new UnexpectedEnd(`the data ends ${n - got} bytes early`);
      }
      parts.push(p);
      got += p.length;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, n);
  }

  /** The next `n` bytes if they are already in hand (a view), else null; consumes them. */
  take(n: number): Buffer | null {
    if (this.buf.length - this.pos < n) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Discards `n` bytes; false if the stream ended first. */
  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      const have = this.buf.length - this.pos;
      if (have === 0) {
        if (!(await this.fetch())) return false;
        continue;
      }
      const k = Math.min(have, n);
      this.pos += k;
      n -= k;
    }
    return true;
  }

  /** Reads and discards everything left; returns the number of bytes. */
  async drain(): Promise<number> {
    let n = this.buf.length - this.pos;
    this.pos = this.buf.length;
    while (await this.fetch()) {
      n += this.buf.length;
      this.pos = this.buf.length;
    }
    return n;
  }
}
