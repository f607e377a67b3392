import { isAbsolute, normalize } from 'node:path';

/**
 * The PMIx server's directories a rank must see at the same path: under srun
 * --mpi=pmix, slurmstepd's PMIx server keeps its shared-memory data store (dstore) in
 * PMIX_SERVER_TMPDIR (<SlurmdSpoolDir>/pmix.<job>.<step>) and tells the client where in
 * PMIX_DSTORE_*_BASE_PATH. A client that cannot open them prints "PMIX ERROR ...
 * gds_ds12_lock_pthread.c" and falls back to slower messaging, so these are bound
 * (read-write, same path) whenever the variables say so. Outside PMIx, nothing.
 */
export function pmixServerDirs(env: Readonly<Record<string, string>>): string[] {
  const dirs: string[] = [];
  for (const name of ['PMIX_SERVER_TMPDIR', 'PMIX_DSTORE_ESH_BASE_PATH', 'PMIX_DSTORE_21_BASE_PATH']) {
    const value = env[name];
    if (!value || !isAbsolute(value)) continue;
    const dir = normalize(value).replace(/(.)\/+$/, '$1');
    if (dir === '/' || dirs.some((d) => dir === d || dir.startsWith(`${d}/`))) continue;
    dirs.push(dir);
  }
  return dirs;
}
