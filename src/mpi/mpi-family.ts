/**
 * MPI ABI families, told apart by library soname. Libraries of one family can replace
 * each other at run time; of two families, never (a program built against Open MPI's
 * libmpi.so.40 calls into structures MPICH lays out otherwise).
 *   Open MPI 3.0 and later (3.x, 4.x, 5.x): libmpi.so.40, Fortran and C++ bindings .so.40
 *   the MPICH ABI (MPICH >= 3.1, Intel MPI, MVAPICH2, Cray MPICH): libmpi.so.12, and
 *     Debian's MPICH under its own names, libmpich.so.12 and friends
 *   the MPI-5 standard ABI: libmpi_abi.so.1
 * Open MPI 1.10 also used libmpi.so.12, with another ABI: its library needs
 * libopen-pal.so.13, which tells it apart (refineFamily).
 */

export type MpiFamily = 'openmpi' | 'mpich' | 'mpi-abi' | 'openmpi-1.10' | 'openmpi-2';

export const FAMILY_NAMES: Record<MpiFamily, string> = {
  openmpi: 'Open MPI 3.0 or later',
  mpich: 'the MPICH ABI: MPICH, Intel MPI, MVAPICH2, Cray MPICH',
  'mpi-abi': 'the MPI-5 standard ABI',
  'openmpi-1.10': 'Open MPI 1.10, not the MPICH ABI',
  'openmpi-2': 'Open MPI 2.x',
};

const SONAMES: Array<[RegExp, MpiFamily]> = [
  [/^libmpi(_mpifh|_usempif08|_usempi_ignore_tkr|_cxx|_java)?\.so\.40$/, 'openmpi'],
  [/^libmpi(_mpifh|_usempif08|_usempi_ignore_tkr|_cxx)?\.so\.20$/, 'openmpi-2'],
  [/^lib(mpi|mpich|mpicxx|mpifort|mpichcxx|mpichfort|mpif77|mpif90)\.so\.12$/, 'mpich'],
  [/^libmpi_abi(_f08|_fortran)?\.so\.\d+$/, 'mpi-abi'],
];

/** The family a soname (or DT_NEEDED name) belongs to, if it is an MPI library's. */
export function familyOf(soname: string): MpiFamily | undefined {
  return SONAMES.find(([re]) => re.test(soname))?.[1];
}

/** The main C library of each family, searched for on the host in this order. */
export const MAIN_SONAMES: readonly string[] = ['libmpi.so.40', 'libmpi.so.12', 'libmpich.so.12', 'libmpi_abi.so.1'];

/** A libmpi.so.12 that needs Open MPI's libopen-pal.so.13 is Open MPI 1.10, not MPICH. */
export function refineFamily(family: MpiFamily, needed: readonly string[]): MpiFamily {
  return family === 'mpich' && needed.some((n) => /^libopen-(pal|rte)\.so\.1[23]$/.test(n)) ? 'openmpi-1.10' : family;
}

/** Debian renames MPICH's libraries: the same ABI under another name. */
const MPICH_TWINS: Record<string, string> = {
  'libmpich.so.12': 'libmpi.so.12',
  'libmpi.so.12': 'libmpich.so.12',
  'libmpichfort.so.12': 'libmpifort.so.12',
  'libmpifort.so.12': 'libmpichfort.so.12',
  'libmpichcxx.so.12': 'libmpicxx.so.12',
  'libmpicxx.so.12': 'libmpichcxx.so.12',
};

/** The other name a library of the MPICH family goes by, if any. */
export function twinName(soname: string): string | undefined {
  return MPICH_TWINS[soname];
}
