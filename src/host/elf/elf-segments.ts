/**
 * Program headers: the PT_LOAD segments (to turn the dynamic section's addresses into
 * file offsets, as the loader sees them), PT_DYNAMIC and PT_INTERP.
 */
import { type ByteSource, invalidElf } from './byte-source.js';
import { PT_DYNAMIC, PT_INTERP, PT_LOAD } from './elf-constants.js';
import type { ElfHeader } from './elf-header.js';

export interface Segment {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface Segments {
  loads: Segment[];
  dynamic?: Segment;
  interp?: Segment;
}

export function readSegments(src: ByteSource, h: ElfHeader): Segments {
  if (h.phnum === 0 || h.phoff === 0) return { loads: [] };
  const entsize = h.fields.elfClass === 64 ? 56 : 32;
  if (h.phentsize !== entsize) throw invalidElf(src.name, `program header entries are ${h.phentsize} bytes, not ${entsize}`);
  const table = src.read(h.phoff, h.phnum * entsize, 'the program header table');
  const f = h.fields;
  const out: Segments = { loads: [] };
  for (let i = 0; i < h.phnum; i++) {
    const at = i * entsize;
    const what = `program header ${i}`;
    const type = f.u32(table, at);
    if (type !== PT_LOAD && type !== PT_DYNAMIC && type !== PT_INTERP) continue;
    const seg: Segment =
      f.elfClass === 64
        ? { type, offset: f.word(table, at + 8, what), vaddr: f.word(table, at + 16, what), filesz: f.word(table, at + 32, what) }
        : { type, offset: f.word(table, at + 4, what), vaddr: f.word(table, at + 8, what), filesz: f.word(table, at + 16, what) };
    if (seg.offset > src.size || seg.filesz > src.size - seg.offset) {
      throw invalidElf(src.name, `${what} (offset ${seg.offset}, ${seg.filesz} bytes) runs past the end of the file (${src.size} bytes)`);
    }
    if (type === PT_LOAD) out.loads.push(seg);
    else if (type === PT_DYNAMIC) out.dynamic ??= seg;
    else out.interp ??= seg;
  }
  return out;
}

/** The file offset of a virtual address, through the PT_LOAD that holds it, or undefined. */
export function addressToOffset(loads: readonly Segment[], addr: number): number | undefined {
  for (const l of loads) {
    if (addr >= l.vaddr && addr - l.vaddr < l.filesz) return l.offset + (addr - l.vaddr);
  }
  return undefined;
}

export function readInterpreter(src: ByteSource, interp: Segment): string {
  const bytes = src.read(interp.offset, Math.min(interp.filesz, 4096), 'PT_INTERP');
  const end = bytes.indexOf(0);
  if (end <= 0) throw invalidElf(src.name, 'PT_INTERP holds no NUL-terminated path');
  return bytes.toString('utf8', 0, end);
}
