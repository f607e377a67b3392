/* Inflates one zstd-compressed squashfs block for the TypeScript reader (inspect,
 * --mpi): Node 20 has no zstd, and fzstd in JavaScript was where --mpi's time went
 * (about 0.3 s a start to read an image's libc). Bounded: the output never exceeds
 * the caller's limit, which squashfs fixes (a block, or 8 KiB of metadata). */
#include "zstd-block.h"

#include <stdlib.h>
#include <zstd.h>

/* The largest squashfs block is 1 MiB; a little room above it, never more. */
#define MAX_OUTPUT (16u << 20)

static napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, "EZSTD", message);
  return NULL;
}

napi_value js_zstd_decompress(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2];
  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 2) return fail(env, "zstdDecompress(data, max)");
  bool is_buffer = false;
  void *in = NULL;
  size_t in_len = 0;
  if (napi_is_buffer(env, args[0], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, args[0], &in, &in_len) != napi_ok)
    return fail(env, "zstdDecompress: data must be a Buffer");
  double max_d = 0;
  if (napi_get_value_double(env, args[1], &max_d) != napi_ok || !(max_d >= 0) || max_d > MAX_OUTPUT)
    return fail(env, "zstdDecompress: max must be a number of bytes up to 16 MiB");
  size_t max = (size_t)max_d;
  /* One spare byte: output that fills it is more than max. */
  void *out = malloc(max + 1);
  if (!out) return fail(env, "zstdDecompress: out of memory");
  size_t n = ZSTD_decompress(out, max + 1, in, in_len);
  if (ZSTD_isError(n)) {
    free(out);
    return fail(env, ZSTD_getErrorName(n));
  }
  if (n > max) {
    free(out);
    return fail(env, "the data holds more than the limit");
  }
  napi_value result;
  napi_status st = napi_create_buffer_copy(env, n, out, NULL, &result);
  free(out);
  if (st != napi_ok) return fail(env, "zstdDecompress: cannot make the result buffer");
  return result;
}
