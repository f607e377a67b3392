/**
 * The loader's built-in directories and token values per architecture: upstream glibc
 * uses /lib64 and /usr/lib64 on 64-bit machines, Debian and Ubuntu the multiarch
 * directories. Pure: the host edge says which layout the host has.
 */
import { EM_386, EM_AARCH64, EM_PPC64, EM_RISCV, EM_X86_64 } from './elf-constants.js';
import type { SearchTokens } from './search-path.js';

const TRIPLETS: Record<string, string> = {
  [`${EM_X86_64}/64`]: 'x86_64-linux-gnu',
  [`${EM_386}/32`]: 'i386-linux-gnu',
  [`${EM_AARCH64}/64`]: 'aarch64-linux-gnu',
  [`${EM_PPC64}/64`]: 'powerpc64le-linux-gnu',
  [`${EM_RISCV}/64`]: 'riscv64-linux-gnu',
};

const PLATFORMS: Record<string, string> = {
  [`${EM_X86_64}/64`]: 'x86_64',
  [`${EM_386}/32`]: 'i686',
  [`${EM_AARCH64}/64`]: 'aarch64',
  [`${EM_PPC64}/64`]: 'ppc64le',
};

export interface SearchDefaults {
  defaultDirs: string[];
  tokens: SearchTokens;
}

/** The multiarch tuple of an ABI ("x86_64-linux-gnu"), or undefined. */
export function multiarchTriplet(machine: number, elfClass: 32 | 64): string | undefined {
  return TRIPLETS[`${machine}/${elfClass}`];
}

export function searchDefaults(machine: number, elfClass: 32 | 64, multiarch: boolean): SearchDefaults {
  const platform = PLATFORMS[`${machine}/${elfClass}`];
  const triplet = multiarchTriplet(machine, elfClass);
  if (multiarch && triplet) {
    return { defaultDirs: [`/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib', '/usr/lib'], tokens: { lib: `lib/${triplet}`, platform } };
  }
  const lib = elfClass === 64 ? 'lib64' : 'lib';
  return { defaultDirs: [`/${lib}`, `/usr/${lib}`], tokens: { lib, platform } };
}
