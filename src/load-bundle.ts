declare const __dirname: string;
declare const require: (id: string) => unknown;

/**
 * Another of dist/'s bundles, by file name, from within a bundle: through bin/sif.cjs's
 * loader, which runs it with its V8 code cache (scripts/bundle.mjs makes both), or
 * where there is none, required from beside the calling bundle. The lazy loaders
 * (src/cli/load-gpu.ts, load-mpi.ts, src/gpu/load-compat-image.ts) call it only when
 * bundled; unbundled, each imports its module.
 */
export function loadBundle<T>(name: string): T {
  const load = (globalThis as Record<symbol, unknown>)[Symbol.for('sif.loadBundle')] as ((file: string) => unknown) | undefined;
  return (load ? load(name) : require(`${__dirname}/${name}`)) as T;
}
