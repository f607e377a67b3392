/**
 * Symbol versions: what an object defines (SHT_GNU_verdef, e.g. a libc defining
 * GLIBC_2.34) and what it needs from each library (SHT_GNU_verneed). The chains are
 * walked with vd_next/vn_next, whose offsets only move forward, and every count is
 * capped, so a hostile table ends the walk after a bounded number of reads.
 */
import { type ByteSource, invalidElf } from './byte-source.js';
import { VER_FLG_BASE, VER_FLG_WEAK } from './elf-constants.js';
import type { ElfFields } from './elf-fields.js';
import type { VersionNeed } from './elf-info.js';
import { readString, type StringTable } from './elf-strings.js';

/** The most entries of either kind (and auxiliaries per entry); glibc's libc defines ~50. */
export const MAX_VERSION_ENTRIES = 4096;

export interface VersionTable {
  offset: number;
  /** From DT_VERDEFNUM/DT_VERNEEDNUM or sh_info; undefined walks to the chain's end. */
  count?: number;
}

function checkCount(src: ByteSource, count: number | undefined, what: string): number {
  if (count === undefined) return MAX_VERSION_ENTRIES;
  if (count > MAX_VERSION_ENTRIES) throw invalidElf(src.name, `${what} claims ${count} entries, more than sif reads (${MAX_VERSION_ENTRIES})`);
  return count;
}

export function readVersionsDefined(src: ByteSource, f: ElfFields, table: VersionTable, strings: StringTable): string[] {
  const out: string[] = [];
  const count = checkCount(src, table.count, 'the version definitions');
  let at = table.offset;
  for (let i = 0; i < count; i++) {
    const d = src.read(at, 20, `version definition ${i}`);
    const flags = f.u16(d, 2);
    const auxCount = f.u16(d, 6);
    if (!(flags & VER_FLG_BASE) && auxCount > 0) {
      const aux = src.read(at + f.u32(d, 12), 8, `version definition ${i} name`);
      out.push(readString(src, strings, f.u32(aux, 0), `version definition ${i}`));
    }
    const next = f.u32(d, 16);
    if (next === 0) break;
    at += next;
  }
  return out;
}

export function readVersionsNeeded(src: ByteSource, f: ElfFields, table: VersionTable, strings: StringTable): VersionNeed[] {
  const out: VersionNeed[] = [];
  const count = checkCount(src, table.count, 'the version needs');
  // Every need may point at one shared chain: the versions are counted in all, not per need.
  let versions = 0;
  let at = table.offset;
  for (let i = 0; i < count; i++) {
    const n = src.read(at, 16, `version need ${i}`);
    const auxCount = f.u16(n, 2);
    if (auxCount > MAX_VERSION_ENTRIES) throw invalidElf(src.name, `version need ${i} claims ${auxCount} versions, more than sif reads`);
    const need: VersionNeed = { file: readString(src, strings, f.u32(n, 4), `version need ${i} file`), versions: [], weak: [] };
    let auxAt = at + f.u32(n, 8);
    for (let j = 0; j < auxCount; j++) {
      if (++versions > MAX_VERSION_ENTRIES) throw invalidElf(src.name, `the version needs name more than ${MAX_VERSION_ENTRIES} versions in all, more than sif reads`);
      const a = src.read(auxAt, 16, `version need ${i}, version ${j}`);
      const name = readString(src, strings, f.u32(a, 8), `version need ${i}, version ${j}`);
      need.versions.push(name);
      if (f.u16(a, 4) & VER_FLG_WEAK) need.weak.push(name);
      const next = f.u32(a, 12);
      if (next === 0) break;
      auxAt += next;
    }
    out.push(need);
    const next = f.u32(n, 12);
    if (next === 0) break;
    at += next;
  }
  return out;
}
