/**
 * The ELF reader: the facts of one object (class, machine, interpreter, soname, needs,
 * search paths, versions) read from its headers, without running it (ldd would).
 * The dynamic segment is found as the loader finds it, through the program headers, and
 * its addresses mapped through PT_LOAD; section headers are the fallback. Anything wrong
 * in the file is a SifError naming the file and the problem.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { SifError } from '../../errors.js';
import { type ByteSource, bufferSource, fdSource, invalidElf } from './byte-source.js';
import {
  DT_FLAGS_1,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  DT_VERDEF,
  DT_VERDEFNUM,
  DT_VERNEED,
  DT_VERNEEDNUM,
} from './elf-constants.js';
import { type DynamicEntry, dynamicValue, readDynamic } from './elf-dynamic.js';
import { readElfHeader } from './elf-header.js';
import type { ElfInfo, VersionNeed } from './elf-info.js';
import { findSections, linkedSection, readSections } from './elf-sections.js';
import { addressToOffset, readInterpreter, readSegments, type Segment } from './elf-segments.js';
import { readString, type StringTable, stringTable } from './elf-strings.js';
import { readVersionsDefined, readVersionsNeeded } from './elf-versions.js';

interface DynamicView {
  entries: DynamicEntry[];
  strings?: StringTable;
  verdef?: { offset: number; count?: number };
  verneed?: { offset: number; count?: number };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * The loader's route: PT_DYNAMIC, then DT_STRTAB/DT_VERDEF/DT_VERNEED through PT_LOAD.
 * A string when an address maps to no part of the file: the problem, for the fallback.
 */
function viaSegments(src: ByteSource, loads: readonly Segment[], entries: DynamicEntry[]): DynamicView | string {
  const strtab = dynamicValue(entries, DT_STRTAB);
  if (strtab === undefined) return { entries };
  const strOffset = addressToOffset(loads, strtab);
  if (strOffset === undefined) return `DT_STRTAB address ${hex(strtab)} is in no PT_LOAD segment`;
  // Without DT_STRSZ the table may reach the end of the file; reads stay bounded anyway.
  const strSize = dynamicValue(entries, DT_STRSZ) ?? src.size - strOffset;
  const view: DynamicView = { entries, strings: stringTable(src, strOffset, strSize, 'the dynamic string table (DT_STRTAB, DT_STRSZ)') };
  for (const [addrTag, numTag, key] of [
    [DT_VERDEF, DT_VERDEFNUM, 'verdef'],
    [DT_VERNEED, DT_VERNEEDNUM, 'verneed'],
  ] as const) {
    const addr = dynamicValue(entries, addrTag);
    if (addr === undefined) continue;
    const offset = addressToOffset(loads, addr);
    if (offset === undefined) return `${key === 'verdef' ? 'DT_VERDEF' : 'DT_VERNEED'} address ${hex(addr)} is in no PT_LOAD segment`;
    view[key] = { offset, count: dynamicValue(entries, numTag) };
  }
  return view;
}

/** The fallback: SHT_DYNAMIC and the version sections, each with its linked string table. */
function viaSections(src: ByteSource, h: ReturnType<typeof readElfHeader>): DynamicView {
  const sections = readSections(src, h);
  const route = findSections(sections);
  const view: DynamicView = { entries: [] };
  if (route.dynamic) {
    view.entries = readDynamic(src, h.fields, route.dynamic.offset, route.dynamic.size);
    const str = linkedSection(src, sections, route.dynamic, 'the dynamic section');
    view.strings = stringTable(src, str.offset, str.size, 'the dynamic string table section');
  }
  for (const key of ['verdef', 'verneed'] as const) {
    const s = route[key];
    if (!s) continue;
    const str = linkedSection(src, sections, s, `the ${key} section`);
    const strings = stringTable(src, str.offset, str.size, `the ${key} string table section`);
    if (view.strings && (strings.offset !== view.strings.offset || strings.size !== view.strings.size)) {
      throw invalidElf(src.name, `the ${key} section uses a different string table than the dynamic section`);
    }
    view.strings = strings;
    view[key] = { offset: s.offset, count: s.info };
  }
  return view;
}

/** Reads the ELF facts from a source (a buffer or an open file). */
export function readElf(src: ByteSource): ElfInfo {
  const h = readElfHeader(src);
  const segs = readSegments(src, h);
  const info: ElfInfo = {
    elfClass: h.fields.elfClass,
    byteOrder: h.fields.little ? 'little' : 'big',
    machine: h.machine,
    machineName: h.machineName,
    type: h.type,
    needed: [],
    flags1: 0,
    versionsDefined: [],
    versionsNeeded: [],
  };
  if (segs.interp) info.interpreter = readInterpreter(src, segs.interp);
  let view: DynamicView;
  if (segs.dynamic) {
    const entries = readDynamic(src, h.fields, segs.dynamic.offset, segs.dynamic.filesz);
    const found = viaSegments(src, segs.loads, entries);
    if (typeof found === 'string') {
      // Section headers may still say where the tables are; without them, the fault stands.
      view = viaSections(src, h);
      if (!view.strings) throw invalidElf(src.name, found);
    } else {
      view = found;
    }
  } else {
    view = viaSections(src, h);
  }
  const strings = view.strings;
  const str = (index: number, what: string): string => {
    if (!strings) throw invalidElf(src.name, `${what} is set but the object has no dynamic string table`);
    return readString(src, strings, index, what);
  };
  for (const e of view.entries) {
    if (e.tag === DT_NEEDED) info.needed.push(str(e.value, 'DT_NEEDED'));
    else if (e.tag === DT_SONAME) info.soname = str(e.value, 'DT_SONAME');
    else if (e.tag === DT_RPATH) info.rpath = str(e.value, 'DT_RPATH');
    else if (e.tag === DT_RUNPATH) info.runpath = str(e.value, 'DT_RUNPATH');
    else if (e.tag === DT_FLAGS_1) info.flags1 = e.value;
  }
  if (strings && view.verdef) info.versionsDefined = readVersionsDefined(src, h.fields, view.verdef, strings);
  if (strings && view.verneed) info.versionsNeeded = readVersionsNeeded(src, h.fields, view.verneed, strings) satisfies VersionNeed[];
  return info;
}

export function readElfBuffer(buffer: Buffer, name: string): ElfInfo {
  return readElf(bufferSource(buffer, name));
}

/**
 * Opens path (symlinks followed, as the loader does) and reads only the parts it needs.
 * A missing or unreadable file is SIF_E_ELF_UNREADABLE; anything but a regular file,
 * or a malformed one, SIF_E_ELF_INVALID.
 */
export function readElfFile(path: string): ElfInfo {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted where a library should be must not hang the reader.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new SifError('SIF_E_ELF_UNREADABLE', `${path}: cannot open: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalidElf(path, 'not a regular file');
    return readElf(fdSource(fd, path, st.size));
  } catch (e) {
    if (e instanceof SifError) throw e;
    throw new SifError('SIF_E_ELF_UNREADABLE', `${path}: cannot read: ${(e as Error).message}`, { cause: e });
  } finally {
    closeSync(fd);
  }
}
