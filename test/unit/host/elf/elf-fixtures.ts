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
