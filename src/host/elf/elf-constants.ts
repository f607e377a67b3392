/**
 * ELF numbers the reader uses (glibc elf/elf.h), and names for the machines sif meets.
 */
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;

export const SHT_STRTAB = 3;
export const SHT_DYNAMIC = 6;
export const SHT_NOTE = 7;
export const SHT_GNU_VERDEF = 0x6ffffffd;
export const SHT_GNU_VERNEED = 0x6ffffffe;

export const DT_NULL = 0;
export const DT_NEEDED = 1;
export const DT_STRTAB = 5;
export const DT_STRSZ = 10;
export const DT_SONAME = 14;
export const DT_RPATH = 15;
export const DT_RUNPATH = 29;
export const DT_FLAGS = 30;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DT_VERDEF = 0x6ffffffc;
export const DT_VERDEFNUM = 0x6ffffffd;
export const DT_VERNEED = 0x6ffffffe;
export const DT_VERNEEDNUM = 0x6fffffff;

export const DF_ORIGIN = 0x1;
export const DF_1_NODEFLIB = 0x800;
export const DF_1_PIE = 0x08000000;

export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;

export const EM_386 = 3;
export const EM_PPC64 = 21;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;

const MACHINE_NAMES: Record<number, string> = {
  [EM_386]: 'i386',
  [EM_PPC64]: 'ppc64',
  [EM_X86_64]: 'x86-64',
  [EM_AARCH64]: 'aarch64',
  [EM_RISCV]: 'riscv',
};

/** A readable name: ppc64le and riscv64 need the byte order and class as well. */
export function machineName(machine: number, elfClass: 32 | 64, byteOrder: 'little' | 'big'): string {
  if (machine === EM_PPC64) return byteOrder === 'little' ? 'ppc64le' : 'ppc64';
  if (machine === EM_RISCV) return elfClass === 64 ? 'riscv64' : 'riscv32';
  return MACHINE_NAMES[machine] ?? `machine ${machine}`;
}

export const ELF_TYPES: Record<number, ElfType> = { 1: 'relocatable', 2: 'executable', 3: 'shared', 4: 'core' };
export type ElfType = 'relocatable' | 'executable' | 'shared' | 'core' | 'other';
