/**
 * The dynamic section's entries (d_tag, d_val) up to DT_NULL. The entries are read once,
 * bounded by the segment's size; string values are resolved later through DT_STRTAB.
 */
import { type ByteSource, invalidElf } from './byte-source.js';
import { DT_NULL } from './elf-constants.js';
import type { ElfFields } from './elf-fields.js';

export interface DynamicEntry {
  tag: number;
  value: number;
}

/** The most entries read; real objects have well under a hundred. */
const MAX_DYNAMIC = 65536;

export function readDynamic(src: ByteSource, f: ElfFields, offset: number, size: number): DynamicEntry[] {
  const entsize = 2 * f.wordSize;
  const count = Math.min(Math.floor(size / entsize), MAX_DYNAMIC);
  const bytes = src.read(offset, count * entsize, 'the dynamic section');
  const out: DynamicEntry[] = [];
  for (let i = 0; i < count; i++) {
    const tag = f.tag(bytes, i * entsize);
    if (tag === DT_NULL) return out;
    out.push({ tag, value: f.word(bytes, i * entsize + f.wordSize, `dynamic entry ${i}`) });
  }
  if (count === MAX_DYNAMIC) throw invalidElf(src.name, `the dynamic section has more than ${MAX_DYNAMIC} entries`);
  // The loader stops at DT_NULL; a section without one is cut short.
  throw invalidElf(src.name, 'the dynamic section has no DT_NULL terminator');
}

export function dynamicValue(entries: readonly DynamicEntry[], tag: number): number | undefined {
  return entries.find((e) => e.tag === tag)?.value;
}
