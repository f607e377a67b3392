import { loadBundle } from '../load-bundle.js';

/** Set by scripts/bundle.mjs: the bundles load the MPI code from their own file, dist/sif-mpi.cjs. */
declare const __SIF_MPI_BUNDLE__: string | undefined;

type MpiModule = typeof import('../mpi/mpi-launch.js');

/**
 * The --mpi code, loaded only when asked for: `sif exec` without --mpi reads, compiles
 * and runs none of it (its start-up is measured).
 */
export async function loadMpi(): Promise<MpiModule> {
  if (typeof __SIF_MPI_BUNDLE__ !== 'undefined') {
    return loadBundle<MpiModule>(__SIF_MPI_BUNDLE__);
  }
  return import('../mpi/mpi-launch.js');
}
