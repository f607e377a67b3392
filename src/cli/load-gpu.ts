/** Set by scripts/bundle.mjs: the bundles load the GPU code from their own file, dist/sif-gpu.cjs. */
declare const __SIF_GPU_BUNDLE__: string | undefined;
declare const __dirname: string;
declare const require: (id: string) => unknown;

type GpuModule = typeof import('../gpu/nvidia-launch.js');

/**
 * The --nv code, loaded only when asked for: `sif exec` without --nv reads, compiles
 * and runs none of it (its start-up is measured).
 */
export async function loadGpu(): Promise<GpuModule> {
  if (typeof __SIF_GPU_BUNDLE__ !== 'undefined') {
    // bin/sif.cjs's loader runs it with its V8 code cache (scripts/bundle.mjs makes it).
    const load = (globalThis as Record<symbol, unknown>)[Symbol.for('sif.loadBundle')] as ((name: string) => unknown) | undefined;
    return (load ? load(__SIF_GPU_BUNDLE__) : require(`${__dirname}/${__SIF_GPU_BUNDLE__}`)) as GpuModule;
  }
  return import('../gpu/nvidia-launch.js');
}
