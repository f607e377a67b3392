/**
 * A blob read while it is still being downloaded into the cache: readers follow the
 * writer through the temp file (positional reads of the writer's own handle), so a
 * layer is merged while it arrives instead of after. The digest is checked by the
 * writer (BlobCache.ingest) over exactly the bytes written; a reader gets the last
 * HOLD_BACK bytes and its end only once that check passed, and the writer's error (a
 * digest mismatch, an abort) otherwise, so nothing built from bad bytes survives the
 * build. Holding the tail back makes a mismatch show as one: a gzip layer's checksum
 * and a tar's end are in its last bytes, and would otherwise fail first, vaguer.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

const CHUNK = 1 << 20;
const HOLD_BACK = 64 * 1024;

export class GrowingBlob {
  /** Set once a reader was made: from then on the bytes cannot be taken back (no restart). */
  handedOut = false;
  private written = 0;
  private outcome: { error?: unknown } | undefined;
  private waiters: (() => void)[] = [];

  constructor(readonly digest: string, readonly size: number | undefined, private readonly fh: FileHandle) {}

  /** The writer: `n` bytes are in the file now. */
  wrote(n: number): void {
    this.written = n;
    this.wake();
  }

  /** The writer: the blob was verified (no error) or failed (before its handle closes). */
  finished(error?: unknown): void {
    this.outcome = error === undefined ? {} : { error };
    this.wake();
  }

  /** A new stream over the whole blob; it ends when the blob was verified, fails when it was not. */
  stream(): Readable {
    this.handedOut = true;
    const self = this;
    async function* read(): AsyncGenerator<Buffer> {
      let pos = 0;
      for (;;) {
        if (self.outcome?.error !== undefined) throw self.outcome.error;
        const readable = self.outcome ? self.written : Math.max(0, Math.min(self.written, (self.size ?? self.written) - HOLD_BACK));
        if (pos < readable) {
          const buf = Buffer.allocUnsafe(Math.min(CHUNK, readable - pos));
          let got: number;
          try {
            got = (await self.fh.read(buf, 0, buf.length, pos)).bytesRead;
          } catch (e) {
            // The writer closed its handle after a failure: report that, not EBADF.
            throw self.outcome?.error ?? e;
          }
          if (got === 0) throw self.outcome?.error ?? new Error(`blob ${self.digest}: the temp file is shorter than written`);
          pos += got;
          yield buf.subarray(0, got);
          continue;
        }
        if (self.outcome) {
          if (pos >= self.written) return;
          continue;
        }
        await new Promise<void>((resolve) => self.waiters.push(resolve));
      }
    }
    return Readable.from(read(), { objectMode: false });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
