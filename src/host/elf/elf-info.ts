/**
 * What the ELF reader reports about one object: the facts the library resolver and the
 * ABI checks (--mpi, --nv) decide on. Plain data, so tests can build it by hand.
 */
import type { ElfType } from './elf-constants.js';

export interface VersionNeed {
  /** The library the versions are needed from (vn_file), e.g. "libc.so.6". */
  file: string;
  /** Version names needed from it (vna_name), e.g. ["GLIBC_2.14", "GLIBC_2.34"]. */
  versions: string[];
  /** Those marked VER_FLG_WEAK: the loader only warns when they are missing. */
  weak: string[];
}

export interface ElfInfo {
  elfClass: 32 | 64;
  byteOrder: 'little' | 'big';
  /** e_machine, and a name for it (e.g. 62, "x86-64"). */
  machine: number;
  machineName: string;
  type: ElfType;
  /** PT_INTERP: the program's dynamic loader, for executables. */
  interpreter?: string;
  soname?: string;
  /** DT_NEEDED, in the order the loader processes them. */
  needed: string[];
  /** DT_RPATH and DT_RUNPATH, unexpanded (colon-separated lists, $ORIGIN left as is). */
  rpath?: string;
  runpath?: string;
  /** DT_FLAGS_1 (0 when absent): DF_1_NODEFLIB matters to the search. */
  flags1: number;
  /** Version names the object defines (SHT_GNU_verdef), its own base name excluded. */
  versionsDefined: string[];
  /** Versions needed per library (SHT_GNU_verneed). */
  versionsNeeded: VersionNeed[];
}
