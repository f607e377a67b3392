/** Set by scripts/bundle.mjs: the bundles load the MPI code from their own file, dist/sif-mpi.cjs. */
declare const __SIF_MPI_BUNDLE__: string | undefined;
declare const __dirname: string;
declare const require: (id: string) => unknown;

type MpiModule = typeof import('../mpi/mpi-launch.js');

/**
 * The --mpi code, loaded only when asked for: `sif exec` without --mpi reads, compiles
 * and runs none of it (its start-up is measured).
 */
export async function loadMpi(): Promise<MpiModule> {
  if (typeof __SIF_MPI_BUNDLE__ !== 'undefined') {
    // bin/sif.cjs's loader runs it with its V8 code cache (scripts/bundle.mjs makes it).
    const load = (globalThis as Record<symbol, unknown>)[Symbol.for('sif.loadBundle')] as ((name: string) => unknown) | undefined;
    return (load ? load(__SIF_MPI_BUNDLE__) : require(`${__dirname}/${__SIF_MPI_BUNDLE__}`)) as MpiModule;
  }
  return import('../mpi/mpi-launch.js');
}
