import { loadBundle } from '../load-bundle.js';

/** Set by scripts/bundle.mjs: the bundles load the GPU code from their own file, dist/sif-gpu.cjs. */
declare const __SIF_GPU_BUNDLE__: string | undefined;

type GpuModule = typeof import('../gpu/nvidia-launch.js');

/**
 * The --nv code, loaded only when asked for: `sif exec` without --nv reads, compiles
 * and runs none of it (its start-up is measured).
 */
export async function loadGpu(): Promise<GpuModule> {
  if (typeof __SIF_GPU_BUNDLE__ !== 'undefined') {
    return loadBundle<GpuModule>(__SIF_GPU_BUNDLE__);
  }
  return import('../gpu/nvidia-launch.js');
}
