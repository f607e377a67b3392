/**
 * The one error type of sif. The core throws it; only src/cli catches and prints it.
 * Codes are stable (scripts may match on them): SIF_E_<AREA>_<CONDITION>.
 */
export type SifErrorCode =
  | 'SIF_E_IMAGE_NOT_FOUND'
  | 'SIF_E_IMAGE_UNREADABLE'
  | 'SIF_E_IMAGE_NOT_AN_IMAGE'
  | 'SIF_E_IMAGE_TRUNCATED'
  | 'SIF_E_IMAGE_NO_ROOTFS'
  | 'SIF_E_IMAGE_UNSUPPORTED_FS'
  | 'SIF_E_IMAGE_ARCH'
  | 'SIF_E_IMAGE_CORRUPT'
  | 'SIF_E_IMAGE_NO_OBJECT'
  | 'SIF_E_IMAGE_BAD_OBJECT'
  | 'SIF_E_IMAGE_WRITE'
  | 'SIF_E_BUILD_REFERENCE'
  | 'SIF_E_BUILD_SOURCE'
  | 'SIF_E_BUILD_PLATFORM'
  | 'SIF_E_BUILD_DIGEST'
  | 'SIF_E_BUILD_LAYER'
  | 'SIF_E_BUILD_NO_SPACE'
  | 'SIF_E_BUILD_INTERRUPTED'
  | 'SIF_E_REGISTRY_AUTH'
  | 'SIF_E_REGISTRY_NOT_FOUND'
  | 'SIF_E_REGISTRY_TLS'
  | 'SIF_E_REGISTRY_NETWORK'
  | 'SIF_E_REGISTRY_HTTP'
  | 'SIF_E_CACHE'
  | 'SIF_E_USAGE'
  | 'SIF_E_BIND_SPEC'
  | 'SIF_E_BIND_SOURCE'
  | 'SIF_E_ENV_FILE'
  | 'SIF_E_HOST'
  | 'SIF_E_ELF_INVALID'
  | 'SIF_E_ELF_UNREADABLE'
  | 'SIF_E_LD_CACHE_INVALID'
  | 'SIF_E_STARTER_MISSING'
  | 'SIF_E_INTERNAL';

export interface SifErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class SifError extends Error {
  readonly code: SifErrorCode;
  readonly hint?: string;

  constructor(code: SifErrorCode, message: string, options: SifErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SifError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }
}

/**
 * Whether e is a SifError. By name and code too: the GPU bundle (dist/sif-gpu.cjs) holds
 * its own copy of this class, so its errors are not instances of the CLI bundle's.
 */
export function isSifError(e: unknown): e is SifError {
  return e instanceof SifError || (e instanceof Error && e.name === 'SifError' && typeof (e as { code?: unknown }).code === 'string');
}
