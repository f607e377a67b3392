// Hostile and broken files: each must give a SifError that names the file and says
// what is wrong, never another exception, a hang or a huge allocation.
import { SifError } from '../../../../src/errors.js';
import { DT_NEEDED, DT_NULL, DT_STRSZ, DT_STRTAB, DT_VERDEF, DT_VERNEED, DT_VERNEEDNUM } from '../../../../src/host/elf/elf-constants.js';
import { readElfBuffer } from '../../../../src/host/elf/read-elf.js';
import { dynamicEntry, dynamicValue, fixture, header, programHeader, setDynamicValue } from './elf-fixtures.js';

const NAME = '/hostile/libbase.so.1';
const base = (): Buffer => fixture('libbase.so.1');

/** The file offset of the DT_VERNEED table (the fixture's addresses equal offsets). */
const verneed = (b: Buffer): number => dynamicValue(b, DT_VERNEED);

const noSections = (b: Buffer): Buffer => {
  b.writeUInt16LE(0, header.SHNUM);
  return b;
};

/** The linker pads the dynamic segment with DT_NULLs: turn them all into DT_DEBUG. */
const withoutNull = (b: Buffer): Buffer => {
  const dyn = programHeader(b, 2);
  const start = Number(b.readBigUInt64LE(dyn + 8));
  const end = start + Number(b.readBigUInt64LE(dyn + 32));
  for (let at = dynamicEntry(b, DT_NULL); at < end; at += 16) b.writeBigInt64LE(21n, at);
  return b;
};

const cases: Array<[string, () => Buffer, RegExp]> = [
  ['an empty file', () => Buffer.alloc(0), /the file is 0 bytes, too short for an ELF header/],
  ['a file cut inside the header', () => base().subarray(0, 40), /the ELF header \(offset 0, 64 bytes\) runs past the end of the file \(40 bytes\)/],
  ['a file cut inside the program headers', () => base().subarray(0, 100), /the program header table .* runs past the end of the file \(100 bytes\)/],
  ['a file cut before its dynamic segment', () => base().subarray(0, 0xe00), /program header \d+ \(offset \d+, \d+ bytes\) runs past the end of the file \(3584 bytes\)/],
  ['no ELF magic', () => Buffer.from('#!/bin/sh\necho not a library at all\n'.padEnd(80)), /no ELF magic number/],
  ['an unknown class', () => { const b = base(); b[4] = 7; return b; }, /unknown ELF class 7/],
  ['an unknown byte order', () => { const b = base(); b[5] = 0; return b; }, /unknown byte order 0/],
  ['program headers past the end', () => { const b = base(); b.writeBigUInt64LE(0x7fffffffn, header.PHOFF); return b; }, /the program header table \(offset 2147483647, \d+ bytes\) runs past the end/],
  ['a 64-bit offset beyond 2^53', () => { const b = base(); b.writeBigUInt64LE(0xffffffffffffffffn, header.PHOFF); return b; }, /e_phoff is too large/],
  ['a huge program header count', () => { const b = base(); b.writeUInt16LE(0xffff, header.PHNUM); return b; }, /the program header table \(offset 64, 3669960 bytes\) runs past the end/],
  ['a wrong program header size', () => { const b = base(); b.writeUInt16LE(12, header.PHENTSIZE); return b; }, /program header entries are 12 bytes, not 56/],
  ['a dynamic segment past the end', () => { const b = base(); b.writeBigUInt64LE(0x100000n, programHeader(b, 2) + 8); return b; }, /program header \d+ \(offset 1048576, \d+ bytes\) runs past the end/],
  ['a dynamic segment with a huge size', () => { const b = base(); b.writeBigUInt64LE(0xffffffffffn, programHeader(b, 2) + 32); return b; }, /runs past the end of the file/],
  ['a dynamic section without DT_NULL', () => withoutNull(base()), /the dynamic section has no DT_NULL terminator/],
  ['a string table past the end', () => setDynamicValue(base(), DT_STRSZ, 0x7fffffff), /the dynamic string table \(DT_STRTAB, DT_STRSZ\) .* runs past the end/],
  ['a name outside the string table', () => setDynamicValue(base(), DT_NEEDED, 5000), /DT_NEEDED: string offset 5000 is outside the string table/],
  ['a string table with no terminator', () => { const b = setDynamicValue(base(), DT_STRSZ, 3); return setDynamicValue(b, DT_NEEDED, 1); }, /DT_NEEDED: string at offset 1 has no terminator within 2 bytes/],
  ['a string table that no segment maps, and no sections', () => noSections(setDynamicValue(base(), DT_STRTAB, 0x7000000)), /DT_STRTAB address 0x7000000 is in no PT_LOAD segment/],
  ['names without DT_STRTAB', () => { const b = base(); b.writeBigInt64LE(21n, dynamicEntry(b, DT_STRTAB)); return b; }, /DT_NEEDED is set but the object has no dynamic string table/],
  ['a huge version count', () => setDynamicValue(base(), DT_VERNEEDNUM, 0x7fffffff), /the version needs claims 2147483647 entries, more than sif reads \(4096\)/],
  ['a version chain that runs off the end', () => { const b = setDynamicValue(base(), DT_VERNEEDNUM, 4096); b.writeUInt32LE(0x100000, verneed(b) + 12); return b; }, /version need 1 \(offset \d+, 16 bytes\) runs past the end/],
  ['a version need with a huge count', () => { const b = base(); b.writeUInt16LE(0xffff, verneed(b) + 2); return b; }, /version need 0 claims 65535 versions/],
  ['a version name outside the strings', () => { const b = base(); b.writeUInt32LE(0xfffffff0, verneed(b) + 16 + 8); return b; }, /version need 0, version 0: string offset 4294967280 is outside the string table/],
  ['version definitions that no segment maps, and no sections', () => noSections(setDynamicValue(base(), DT_VERDEF, 0xfff8)), /DT_VERDEF address 0xfff8 is in no PT_LOAD segment/],
  ['version definitions past the end', () => { const b = base(); b.writeUInt32LE(0x100000, dynamicValue(b, DT_VERDEF) + 16); return b; }, /version definition 1 \(offset \d+, 20 bytes\) runs past the end/],
];

describe('readElf on corrupt input', () => {
  it.each(cases)('%s', (_what, make, message) => {
    let thrown: unknown;
    try {
      readElfBuffer(make(), NAME);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(SifError);
    expect((thrown as SifError).code).toBe('SIF_E_ELF_INVALID');
    expect((thrown as SifError).message).toMatch(new RegExp(`^${NAME}: not a usable ELF object: `));
    expect((thrown as SifError).message).toMatch(message);
  });

  it('a version chain cannot loop: a zero next ends it, other links only move forward', () => {
    // Count says 4096 but the chain ends at the first entry (vn_next 0): one entry read.
    const b = setDynamicValue(base(), DT_VERNEEDNUM, 4096);
    expect(readElfBuffer(b, NAME).versionsNeeded).toHaveLength(1);
  });
});

describe('version needs that share one long chain', () => {
  it('stop after a bounded number of entries in all, not 4,096 x 4,096', async () => {
    const { readVersionsNeeded, MAX_VERSION_ENTRIES } = await import('../../../../src/host/elf/elf-versions.js');
    const { elfFields } = await import('../../../../src/host/elf/elf-fields.js');
    const { bufferSource } = await import('../../../../src/host/elf/byte-source.js');
    const n = MAX_VERSION_ENTRIES;
    // Strings: "\0x\0"; needs at 16*i, every vn_aux pointing at one shared chain of n aux entries.
    const needs = 16 * n;
    const buf = Buffer.alloc(needs + 16 * n + 3);
    const strings = needs + 16 * n;
    buf.write('\0x\0', strings, 'latin1');
    for (let i = 0; i < n; i++) {
      const at = 16 * i;
      buf.writeUInt16LE(1, at);
      buf.writeUInt16LE(n, at + 2);
      buf.writeUInt32LE(1, at + 4);
      buf.writeUInt32LE(needs - at, at + 8);
      buf.writeUInt32LE(i === n - 1 ? 0 : 16, at + 12);
      const aux = needs + 16 * i;
      buf.writeUInt32LE(1, aux + 8);
      buf.writeUInt32LE(i === n - 1 ? 0 : 16, aux + 12);
    }
    const src = bufferSource(buf, 'lib');
    const t0 = performance.now();
    let out: unknown;
    try {
      out = readVersionsNeeded(src, elfFields('lib', 64, true), { offset: 0, count: n }, { offset: strings, size: 3 });
    } catch (e) {
      out = e;
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(out).toBeInstanceOf(Error);
    expect((out as Error).message).toMatch(/versions in all, more than sif reads/);
  });
});
