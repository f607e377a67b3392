/**
 * The flags of an ld.so.cache entry (glibc sysdeps/generic/ldconfig.h): the library type
 * in the low byte, the architecture in the next. The loader takes an entry only when
 * the flags are those of its own ABI (_DL_CACHE_DEFAULT_ID); this maps both ways.
 */
import { EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_X86_64 } from './elf-constants.js';

export const FLAG_TYPE_MASK = 0x00ff;
export const FLAG_ELF = 0x0001;
export const FLAG_ELF_LIBC6 = 0x0003;
export const FLAG_ARCH_MASK = 0xff00;

const EM_S390 = 22;
const EM_ARM = 40;

interface Arch {
  flag: number;
  elfClass: 32 | 64;
  machine: number;
  name: string;
}

/** Architectures by their cache flag; 0x0000 is the 32-bit ABI of x86 hosts. */
const ARCHES: readonly Arch[] = [
  { flag: 0x0000, elfClass: 32, machine: EM_386, name: 'i386' },
  { flag: 0x0300, elfClass: 64, machine: EM_X86_64, name: 'x86-64' },
  { flag: 0x0400, elfClass: 64, machine: EM_S390, name: 's390x' },
  { flag: 0x0500, elfClass: 64, machine: EM_PPC64, name: 'ppc64' },
  { flag: 0x0800, elfClass: 32, machine: EM_X86_64, name: 'x32' },
  { flag: 0x0900, elfClass: 32, machine: EM_ARM, name: 'armhf' },
  { flag: 0x0a00, elfClass: 64, machine: EM_AARCH64, name: 'aarch64' },
  // riscv64 with the double-float ABI (lp64d), the one distributions ship.
  { flag: 0x1000, elfClass: 64, machine: EM_RISCV, name: 'riscv64' },
];

/** What an entry's flags say about the library's class and machine, when sif knows them. */
export function cacheFlagsArch(flags: number): { elfClass: 32 | 64; machine: number; name: string } | undefined {
  const a = ARCHES.find((x) => x.flag === (flags & FLAG_ARCH_MASK));
  return a && { elfClass: a.elfClass, machine: a.machine, name: a.name };
}

/**
 * Whether the loader of an object of this class and machine takes an entry with these
 * flags: a glibc (libc6) library of its own architecture; i386 loaders also take plain
 * ELF entries (flag 1), as glibc's sysdeps/unix/sysv/linux/i386 does.
 */
export function cacheFlagsMatch(flags: number, elfClass: 32 | 64, machine: number): boolean {
  const a = ARCHES.find((x) => x.elfClass === elfClass && x.machine === machine);
  if (!a) return false;
  if (flags === (a.flag | FLAG_ELF_LIBC6)) return true;
  return a.flag === 0x0000 && flags === FLAG_ELF;
}
