/**
 * Tar header fields (ustar, GNU, pax), for the layer reader (tar-reader.ts), the
 * archive index (sources/tar-index.ts) and compression sniffing (layer-stream.ts).
 * Text comes back as latin1 strings of the raw bytes; pax values as bytes.
 */

/** A malformed archive; the caller adds which one. */
export class TarFormatError extends Error {}

export const BLOCK = 512;

/** An all-zero block: the end of the archive. */
export function isZeroBlock(h: Buffer): boolean {
  if (h[0] !== 0 || h[148] !== 0) return false;
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/** Whether the header's checksum adds up, as an unsigned or (old writers) signed sum. */
export function checksumMatches(h: Buffer): boolean {
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = h[i] as number;
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  let stored: number;
  try {
    stored = numeric(h, 148, 8, 0, 'checksum');
  } catch {
    return false;
  }
  return stored === unsigned || stored === signed;
}

export function verifyChecksum(h: Buffer, offset: number): void {
  if (!checksumMatches(h))
    throw new TarFormatError(`not a valid tar header at byte ${offset} (checksum mismatch): the data is corrupt or not a tar archive`);
}

/** A NUL-terminated header field as raw bytes (latin1). */
export function field(h: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && h[end] !== 0) end++;
  return h.toString('latin1', off, end);
}

/** An octal field (spaces and NULs around it allowed) or a GNU base-256 one. */
export function numeric(h: Buffer, off: number, len: number, offset: number, what: string): number {
  const first = h[off] as number;
  if (first & 0x80) {
    // GNU base-256, big-endian; 0xff starts a negative number (two's complement)
    const neg = first === 0xff;
    let v = neg ? 0 : first & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + (neg ? 255 - (h[off + i] as number) : (h[off + i] as number));
    if (neg) v = -(v + 1);
    if (!Number.isSafeInteger(v)) throw new TarFormatError(`the ${what} field of the tar header at byte ${offset} is out of range`);
    return v;
  }
  let i = off;
  const end = off + len;
  while (i < end && (h[i] === 0x20 || h[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = h[i] as number;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) throw new TarFormatError(`the ${what} field of the tar header at byte ${offset} is not a number`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++)
    if (h[i] !== 0x20 && h[i] !== 0) throw new TarFormatError(`the ${what} field of the tar header at byte ${offset} is not a number`);
  return digits ? v : 0;
}

/** A NUL-terminated string (GNU long-name records). */
export function cString(data: Buffer): string {
  const nul = data.indexOf(0);
  return data.toString('latin1', 0, nul < 0 ? data.length : nul);
}

/**
 * Pax records "LEN KEY=VALUE\n", LEN counting the whole record in bytes. Values are
 * kept as bytes (they may be binary).
 */
export function parsePax(data: Buffer, offset: number, into?: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map(into ?? []);
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding some writers leave
    const sp = data.indexOf(0x20, pos);
    const len = sp > pos ? Number(data.toString('latin1', pos, sp)) : NaN;
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a)
      throw new TarFormatError(`malformed pax record in the extended header at byte ${offset}`);
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError(`malformed pax record in the extended header at byte ${offset}`);
    const key = rec.toString('utf8', 0, eq);
    const value = rec.subarray(eq + 1);
    out.set(key, value);
    pos += len;
  }
  return out;
}
