import { loadBundle } from '../load-bundle.js';

/** Set by scripts/bundle.mjs: the GPU bundle loads the image reader from its own file, dist/sif-gpu-image.cjs. */
declare const __SIF_GPU_IMAGE_BUNDLE__: string | undefined;

type CompatImageModule = typeof import('./compat-image.js');

/**
 * The image reader of --nv-compat (the squashfs reader and its decompressors), loaded
 * only when the planner asks for the image: in the GPU bundle it would add ~40 KB that
 * every --nv start reads and deserialises (~1 ms, measured), for a question most never ask.
 */
export async function loadCompatImage(): Promise<CompatImageModule> {
  if (typeof __SIF_GPU_IMAGE_BUNDLE__ !== 'undefined') {
    return loadBundle<CompatImageModule>(__SIF_GPU_IMAGE_BUNDLE__);
  }
  return import('./compat-image.js');
}
