/**
 * Bounded reads from a file descriptor or a buffer, for the ELF and ld.so.cache readers.
 * Every read is checked against the source's size before any memory is allocated, and
 * no single read may exceed MAX_READ: a hostile header cannot make sif allocate much.
 */
import { fstatSync, readSync } from 'node:fs';
import { SifError } from '../../errors.js';

/** The most bytes one read may take: above the largest table read (65535 program headers). */
export const MAX_READ = 4 * 1024 * 1024;

export interface ByteSource {
  /** Named in every error, so the user knows which file is at fault. */
  readonly name: string;
  readonly size: number;
  /** Exactly length bytes at offset; a SifError when they are not all in the source. */
  read(offset: number, length: number, what: string): Buffer;
}

export function invalidElf(name: string, problem: string): SifError {
  return new SifError('SIF_E_ELF_INVALID', `${name}: not a usable ELF object: ${problem}`);
}

function checkRange(name: string, size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw invalidElf(name, `${what} has an impossible offset or size`);
  }
  if (length > MAX_READ) throw invalidElf(name, `${what} claims ${length} bytes, more than sif reads (${MAX_READ})`);
  if (offset > size || length > size - offset) {
    throw invalidElf(name, `${what} (offset ${offset}, ${length} bytes) runs past the end of the file (${size} bytes)`);
  }
}

export function bufferSource(buffer: Buffer, name: string): ByteSource {
  return {
    name,
    size: buffer.length,
    read(offset, length, what) {
      checkRange(name, buffer.length, offset, length, what);
      return buffer.subarray(offset, offset + length);
    },
  };
}

/** Reads through `readAt` (a file inside an image, say), every read checked first. */
export function rangeSource(name: string, size: number, readAt: (offset: number, length: number) => Buffer): ByteSource {
  return {
    name,
    size,
    read(offset, length, what) {
      checkRange(name, size, offset, length, what);
      return readAt(offset, length);
    },
  };
}

/** Reads through fd as needed (pread); the caller owns fd and closes it. */
export function fdSource(fd: number, name: string, size = fstatSync(fd).size): ByteSource {
  return {
    name,
    size,
    read(offset, length, what) {
      checkRange(name, size, offset, length, what);
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        // The file shrank under us: say so rather than return zeros.
        if (n === 0) throw invalidElf(name, `${what} was cut short while reading (the file changed?)`);
        done += n;
      }
      return out;
    },
  };
}
