/**
 * Section headers: the second route to the dynamic section and the version tables, for
 * objects whose program headers do not lead there (no PT_DYNAMIC, or addresses that no
 * PT_LOAD maps). The loader never reads these, so they are only a fallback.
 */
import { type ByteSource, invalidElf } from './byte-source.js';
import { SHT_DYNAMIC, SHT_GNU_VERDEF, SHT_GNU_VERNEED } from './elf-constants.js';
import type { ElfHeader } from './elf-header.js';

export interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

/** The most section headers read; real objects have a few dozen. */
const MAX_SECTIONS = 4096;

export function readSections(src: ByteSource, h: ElfHeader): Section[] {
  if (h.shnum === 0 || h.shoff === 0) return [];
  const entsize = h.fields.elfClass === 64 ? 64 : 40;
  if (h.shentsize !== entsize) throw invalidElf(src.name, `section header entries are ${h.shentsize} bytes, not ${entsize}`);
  if (h.shnum > MAX_SECTIONS) throw invalidElf(src.name, `${h.shnum} section headers, more than sif reads (${MAX_SECTIONS})`);
  const table = src.read(h.shoff, h.shnum * entsize, 'the section header table');
  const f = h.fields;
  const out: Section[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const at = i * entsize;
    const what = `section header ${i}`;
    const type = f.u32(table, at + 4);
    out.push(
      f.elfClass === 64
        ? { type, offset: f.word(table, at + 24, what), size: f.word(table, at + 32, what), link: f.u32(table, at + 40), info: f.u32(table, at + 44) }
        : { type, offset: f.word(table, at + 16, what), size: f.word(table, at + 20, what), link: f.u32(table, at + 24), info: f.u32(table, at + 28) },
    );
  }
  return out;
}

export interface SectionRoute {
  dynamic?: Section;
  verdef?: Section;
  verneed?: Section;
}

export function findSections(sections: readonly Section[]): SectionRoute {
  const first = (type: number) => sections.find((s) => s.type === type);
  return { dynamic: first(SHT_DYNAMIC), verdef: first(SHT_GNU_VERDEF), verneed: first(SHT_GNU_VERNEED) };
}

/** The section a link field names, checked to exist. */
export function linkedSection(src: ByteSource, sections: readonly Section[], from: Section, what: string): Section {
  const s = sections[from.link];
  if (!s) throw invalidElf(src.name, `${what} links to section ${from.link}, which does not exist`);
  return s;
}
