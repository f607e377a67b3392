/**
 * Reads ELF header fields in the object's class and byte order. 64-bit values beyond
 * 2^53 cannot be file offsets or user-space addresses: they are reported as invalid.
 */
import { invalidElf } from './byte-source.js';

export interface ElfFields {
  readonly elfClass: 32 | 64;
  readonly little: boolean;
  u16(buf: Buffer, at: number): number;
  u32(buf: Buffer, at: number): number;
  /** An address, offset or size: 4 bytes in ELFCLASS32, 8 in ELFCLASS64. */
  word(buf: Buffer, at: number, what: string): number;
  /** A signed dynamic tag (d_tag) as a number; the tags sif reads all fit. */
  tag(buf: Buffer, at: number): number;
  readonly wordSize: number;
}

export function elfFields(name: string, elfClass: 32 | 64, little: boolean): ElfFields {
  const wordSize = elfClass === 64 ? 8 : 4;
  const u16 = (b: Buffer, at: number) => (little ? b.readUInt16LE(at) : b.readUInt16BE(at));
  const u32 = (b: Buffer, at: number) => (little ? b.readUInt32LE(at) : b.readUInt32BE(at));
  return {
    elfClass,
    little,
    wordSize,
    u16,
    u32,
    word(b, at, what) {
      if (elfClass === 32) return u32(b, at);
      const v = little ? b.readBigUInt64LE(at) : b.readBigUInt64BE(at);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidElf(name, `${what} is too large (${v})`);
      return Number(v);
    },
    tag(b, at) {
      if (elfClass === 32) return little ? b.readInt32LE(at) : b.readInt32BE(at);
      const v = little ? b.readBigInt64LE(at) : b.readBigInt64BE(at);
      // Tags outside the 32-bit range are none that sif reads: map them to an unused value.
      return v >= -0x80000000n && v <= 0xffffffffn ? Number(v) : -1;
    },
  };
}
