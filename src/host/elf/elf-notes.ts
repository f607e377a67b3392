/**
 * ELF notes of an object's SHT_NOTE sections: owner, type and descriptor of each. The
 * CUDA forward-compatibility package's libcuda says there which driver branches it runs
 * on (owner "NVIDIA Corporation", a JSON descriptor).
 */
import type { ByteSource } from './byte-source.js';
import { SHT_NOTE } from './elf-constants.js';
import { readElfHeader } from './elf-header.js';
import { readSections } from './elf-sections.js';

export interface ElfNote {
  owner: string;
  type: number;
  desc: Buffer;
}

/** Notes sections are small; one larger than this is not read. */
const MAX_NOTE_SECTION = 64 * 1024;
/** Bytes of notes read in all: the sections past it are left out (real objects have a few hundred bytes). */
const MAX_NOTES_BYTES = 256 * 1024;

/** Not in 32-bit arithmetic: a size near 2^31 would turn negative and walk backwards. */
const align4 = (n: number) => Math.ceil(n / 4) * 4;

export function readNotes(src: ByteSource): ElfNote[] {
  const h = readElfHeader(src);
  const out: ElfNote[] = [];
  let budget = MAX_NOTES_BYTES;
  for (const s of readSections(src, h)) {
    if (s.type !== SHT_NOTE || s.size > MAX_NOTE_SECTION) continue;
    if ((budget -= s.size) < 0) break;
    const data = src.read(s.offset, s.size, 'a note section');
    // Entries: namesz, descsz, type (4 bytes each), then name and descriptor, each padded to 4.
    for (let at = 0; at + 12 <= data.length; ) {
      const namesz = h.fields.u32(data, at);
      const descsz = h.fields.u32(data, at + 4);
      const type = h.fields.u32(data, at + 8);
      const nameAt = at + 12;
      const descAt = nameAt + align4(namesz);
      if (descAt > data.length || descsz > data.length - descAt) break;
      out.push({ owner: data.toString('latin1', nameAt, nameAt + namesz).replace(/\0+$/, ''), type, desc: data.subarray(descAt, descAt + descsz) });
      at = descAt + align4(descsz);
    }
  }
  return out;
}
