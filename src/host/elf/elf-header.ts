/**
 * The ELF file header (e_ident and the fields that locate the other tables).
 */
import { type ByteSource, invalidElf } from './byte-source.js';
import { ELF_TYPES, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, type ElfType, machineName } from './elf-constants.js';
import { type ElfFields, elfFields } from './elf-fields.js';

export interface ElfHeader {
  fields: ElfFields;
  type: ElfType;
  machine: number;
  machineName: string;
  phoff: number;
  phentsize: number;
  phnum: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

const IDENT = 16;

export function readElfHeader(src: ByteSource): ElfHeader {
  if (src.size < IDENT) throw invalidElf(src.name, `the file is ${src.size} bytes, too short for an ELF header`);
  const ident = src.read(0, IDENT, 'the ELF identification');
  if (ident[0] !== 0x7f || ident.toString('latin1', 1, 4) !== 'ELF') throw invalidElf(src.name, 'no ELF magic number');
  const cls = ident[4];
  if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw invalidElf(src.name, `unknown ELF class ${cls}`);
  const data = ident[5];
  if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw invalidElf(src.name, `unknown byte order ${data}`);
  const elfClass = cls === ELFCLASS64 ? 64 : 32;
  const fields = elfFields(src.name, elfClass, data === ELFDATA2LSB);
  const size = elfClass === 64 ? 64 : 52;
  const h = src.read(0, size, 'the ELF header');
  const w = fields.wordSize;
  // e_entry, e_phoff, e_shoff follow e_type (16), e_machine (18), e_version (20).
  const phoff = fields.word(h, 24 + w, 'e_phoff');
  const shoff = fields.word(h, 24 + 2 * w, 'e_shoff');
  const rest = 24 + 3 * w + 4; // after e_flags
  const machine = fields.u16(h, 18);
  const type = fields.u16(h, 16);
  return {
    fields,
    type: ELF_TYPES[type] ?? 'other',
    machine,
    machineName: machineName(machine, elfClass, fields.little ? 'little' : 'big'),
    phoff,
    phentsize: fields.u16(h, rest + 2),
    phnum: fields.u16(h, rest + 4),
    shoff,
    shentsize: fields.u16(h, rest + 6),
    shnum: fields.u16(h, rest + 8),
    shstrndx: fields.u16(h, rest + 10),
  };
}
