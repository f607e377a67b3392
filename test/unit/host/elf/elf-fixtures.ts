// Fixture files (test/fixtures/elf, see its README) and byte-level edits of 64-bit
// little-endian ones, for the reader's tests.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../fixtures/elf');
export const fixturePath = (name: string): string => join(FIXTURES, name);
export const fixture = (name: string): Buffer => Buffer.from(readFileSync(fixturePath(name)));

const PHOFF = 32;
const SHOFF = 40;
const PHNUM = 56;
const SHNUM = 60;
const PHENT = 56;

export const header = { PHOFF, SHOFF, PHENTSIZE: 54, PHNUM, SHENTSIZE: 58, SHNUM, MACHINE: 18 };

/** The byte offset of the first program header of type. */
export function programHeader(buf: Buffer, type: number): number {
  const phoff = Number(buf.readBigUInt64LE(PHOFF));
  for (let i = 0; i < buf.readUInt16LE(PHNUM); i++) {
    const at = phoff + i * PHENT;
    if (buf.readUInt32LE(at) === type) return at;
  }
  throw new Error(`no program header of type ${type}`);
}

/** The byte offset of the dynamic entry with tag (its d_val is 8 bytes further). */
export function dynamicEntry(buf: Buffer, tag: number): number {
  const dyn = programHeader(buf, 2);
  const offset = Number(buf.readBigUInt64LE(dyn + 8));
  for (let at = offset; ; at += 16) {
    const t = Number(buf.readBigInt64LE(at));
    if (t === tag) return at;
    if (t === 0) throw new Error(`no dynamic entry ${tag}`);
  }
}

export function dynamicValue(buf: Buffer, tag: number): number {
  return Number(buf.readBigUInt64LE(dynamicEntry(buf, tag) + 8));
}

export function setDynamicValue(buf: Buffer, tag: number, value: number | bigint): Buffer {
  buf.writeBigUInt64LE(BigInt(value), dynamicEntry(buf, tag) + 8);
  return buf;
}

/** A deterministic generator, so a fuzz failure can be replayed from its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/**
 * The same 64-bit object in big-endian byte order: every field the reader reads is
 * swapped (headers, program and section headers, dynamic entries, version tables).
 */
export function toBigEndian(le: Buffer): Buffer {
  const b = Buffer.from(le);
  const s16 = (at: number) => b.writeUInt16BE(le.readUInt16LE(at), at);
  const s32 = (at: number) => b.writeUInt32BE(le.readUInt32LE(at), at);
  const s64 = (at: number) => b.writeBigUInt64BE(le.readBigUInt64LE(at), at);
  b[5] = 2;
  [16, 18, 52, 54, 56, 58, 60, 62].forEach(s16);
  [20, 48].forEach(s32);
  [24, 32, 40].forEach(s64);
  const phoff = Number(le.readBigUInt64LE(32));
  for (let i = 0; i < le.readUInt16LE(56); i++) {
    const at = phoff + i * 56;
    [at, at + 4].forEach(s32);
    for (let f = 8; f < 56; f += 8) s64(at + f);
  }
  const shoff = Number(le.readBigUInt64LE(40));
  for (let i = 0; i < le.readUInt16LE(60); i++) {
    const at = shoff + i * 64;
    const type = le.readUInt32LE(at + 4);
    const offset = Number(le.readBigUInt64LE(at + 24));
    const size = Number(le.readBigUInt64LE(at + 32));
    [at, at + 4, at + 40, at + 44].forEach(s32);
    [8, 16, 24, 32, 48, 56].forEach((f) => s64(at + f));
    if (type === 6) for (let d = offset; d < offset + size; d += 8) s64(d);
    if (type === 0x6ffffffd) {
      for (let v = offset; ; ) {
        [v, v + 2, v + 4, v + 6].forEach(s16);
        [v + 8, v + 12, v + 16].forEach(s32);
        for (let a = v + le.readUInt32LE(v + 12), n = 0; n < le.readUInt16LE(v + 6); n++) {
          [a, a + 4].forEach(s32);
          if (le.readUInt32LE(a + 4) === 0) break;
          a += le.readUInt32LE(a + 4);
        }
        if (le.readUInt32LE(v + 16) === 0) break;
        v += le.readUInt32LE(v + 16);
      }
    }
    if (type === 0x6ffffffe) {
      for (let v = offset; ; ) {
        [v, v + 2].forEach(s16);
        [v + 4, v + 8, v + 12].forEach(s32);
        for (let a = v + le.readUInt32LE(v + 8), n = 0; n < le.readUInt16LE(v + 2); n++) {
          [a + 4, a + 6].forEach(s16);
          [a, a + 8, a + 12].forEach(s32);
          if (le.readUInt32LE(a + 12) === 0) break;
          a += le.readUInt32LE(a + 12);
        }
        if (le.readUInt32LE(v + 12) === 0) break;
        v += le.readUInt32LE(v + 12);
      }
    }
  }
  return b;
}
