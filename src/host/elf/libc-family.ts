/**
 * The C library family: glibc's libraries and its dynamic loader. They are built as one
 * (GLIBC_PRIVATE couples them), so under --mpi and --nv they always come from the image
 * and are never bound from the host (issue 11, "What --mpi does", point 2).
 */
import { posix } from 'node:path';

// libc, libm, libpthread, libdl, librt, libresolv (issue 11), and glibc's other
// version-coupled libraries: libutil, libanl, libmvec.
const LIBRARIES = /^lib(c|m|pthread|dl|rt|resolv|util|anl|mvec)\.so(\.\d+)*$/;
// ld-linux.so.2, ld-linux-x86-64.so.2, ld-linux-aarch64.so.1, ld-linux-riscv64-lp64d.so.1,
// ld64.so.2 (ppc64le), ld64.so.1 (s390x).
const LOADERS = /^(ld-linux[\w.-]*|ld64)\.so\.\d+$/;

/** Whether a DT_NEEDED name or a path names a C library family member. */
export function isLibcFamily(nameOrPath: string): boolean {
  const base = posix.basename(nameOrPath);
  return LIBRARIES.test(base) || LOADERS.test(base);
}
