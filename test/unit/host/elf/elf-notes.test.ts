import { bufferSource } from '../../../../src/host/elf/byte-source.js';
import { readNotes } from '../../../../src/host/elf/elf-notes.js';

/** A 64-bit little-endian ELF with one SHT_NOTE section holding `notes` (bytes as written). */
function elfWithNotes(notes: Buffer, sectionSize = notes.length): Buffer {
  const shoff = 64 + ((notes.length + 7) & ~7);
  const buf = Buffer.alloc(shoff + 2 * 64);
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = 2; // ELFCLASS64
  buf[5] = 1; // little-endian
  buf[6] = 1;
  buf.writeUInt16LE(3, 16); // ET_DYN
  buf.writeUInt16LE(62, 18); // x86-64
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(BigInt(shoff), 40);
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(64, 58);
  buf.writeUInt16LE(2, 60);
  notes.copy(buf, 64);
  const sh = shoff + 64; // section 1 (section 0 is the null one)
  buf.writeUInt32LE(7, sh + 4); // SHT_NOTE
  buf.writeBigUInt64LE(64n, sh + 24);
  buf.writeBigUInt64LE(BigInt(sectionSize), sh + 32);
  return buf;
}

function note(owner: string, type: number, desc: string): Buffer {
  const name = Buffer.from(`${owner}\0`, 'latin1');
  const d = Buffer.from(desc, 'utf8');
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const head = Buffer.alloc(12);
  head.writeUInt32LE(name.length, 0);
  head.writeUInt32LE(d.length, 4);
  head.writeUInt32LE(type, 8);
  return Buffer.concat([head, pad(name), pad(d)]);
}

describe('readNotes', () => {
  it("reads each note's owner, type and descriptor (the cuda-compat libcuda's JSON among them)", () => {
    const json = '{"Format":1,"CUDA Version":"12.8","Driver":[535,550],"Device":[1]}';
    const notes = readNotes(bufferSource(elfWithNotes(Buffer.concat([note('GNU', 3, 'abcd'), note('NVIDIA Corporation', 1, json)])), 'lib'));
    expect(notes.map((n) => [n.owner, n.type, n.desc.toString()])).toEqual([
      ['GNU', 3, 'abcd'],
      ['NVIDIA Corporation', 1, json],
    ]);
  });

  it('stops at a note that runs past its section, and refuses a section past the file', () => {
    const n = note('NVIDIA Corporation', 1, '{"Driver":[550]}');
    expect(readNotes(bufferSource(elfWithNotes(n, n.length - 4), 'lib'))).toEqual([]);
    expect(() => readNotes(bufferSource(elfWithNotes(n, 60000), 'lib'))).toThrow(/runs past the end of the file/);
  });
});

describe('readNotes on hostile notes', () => {
  it('a name size near 2^31 or 2^32 ends the walk: the notes before it are kept, nothing else is thrown', () => {
    for (const namesz of [0x7ffffffd, 0x7fffffff, 0xfffffffd, 0xffffffff]) {
      const bad = Buffer.alloc(16);
      bad.writeUInt32LE(namesz, 0);
      const notes = readNotes(bufferSource(elfWithNotes(Buffer.concat([note('GNU', 3, 'abcd'), bad])), 'lib'));
      expect(notes.map((n) => n.owner)).toEqual(['GNU']);
    }
  });

  it('reads a bounded number of bytes however many note sections there are', () => {
    // 4,000 SHT_NOTE sections, each naming the same 60 KiB: 240 MB if each were read.
    const elf = elfWithNotes(Buffer.alloc(60_000));
    const sections = 4000;
    const shoff = elf.length;
    const buf = Buffer.concat([elf, Buffer.alloc(sections * 64)]);
    buf.writeBigUInt64LE(BigInt(shoff), 40);
    buf.writeUInt16LE(sections, 60);
    for (let i = 1; i < sections; i++) {
      buf.writeUInt32LE(7, shoff + i * 64 + 4);
      buf.writeBigUInt64LE(64n, shoff + i * 64 + 24);
      buf.writeBigUInt64LE(60_000n, shoff + i * 64 + 32);
    }
    const src = bufferSource(buf, 'lib');
    let read = 0;
    const counting = { ...src, read: (o: number, l: number, w: string) => ((read += l), src.read(o, l, w)) };
    readNotes(counting);
    expect(read).toBeLessThan(1 << 20);
  });
});
