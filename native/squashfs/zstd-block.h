#ifndef SIF_ZSTD_BLOCK_H
#define SIF_ZSTD_BLOCK_H

#include <node_api.h>

/* zstdDecompress(data: Buffer, max: number): Buffer -- one zstd frame (a squashfs block),
 * inflated into at most max bytes; more, or a bad frame, throws. */
napi_value js_zstd_decompress(napi_env env, napi_callback_info info);

#endif
