/*
 * compressor-guard: wraps a libsquashfs compressor (see compressor-guard.h).
 */
#include "compressor-guard.h"

#include <stdlib.h>

typedef struct {
  sqfs_compressor_t base;
  sqfs_compressor_t *inner;
} guarded_t;

static void guarded_destroy(sqfs_object_t *obj) {
  guarded_t *g = (guarded_t *)obj;
  sqfs_destroy(g->inner);
  free(g);
}

/* The block processor gives each worker thread its own copy. */
static sqfs_object_t *guarded_copy(const sqfs_object_t *obj) {
  sqfs_compressor_t *inner = sqfs_copy(((const guarded_t *)obj)->inner), *copy;
  if (!inner) return NULL;
  if (!(copy = sqw_guard_compressor(inner))) sqfs_destroy(inner);
  return (sqfs_object_t *)copy;
}

static void guarded_get_configuration(const sqfs_compressor_t *cmp, sqfs_compressor_config_t *cfg) {
  const guarded_t *g = (const guarded_t *)cmp;
  g->inner->get_configuration(g->inner, cfg);
}

static int guarded_write_options(sqfs_compressor_t *cmp, sqfs_file_t *file) {
  guarded_t *g = (guarded_t *)cmp;
  return g->inner->write_options(g->inner, file);
}

static int guarded_read_options(sqfs_compressor_t *cmp, sqfs_file_t *file) {
  guarded_t *g = (guarded_t *)cmp;
  return g->inner->read_options(g->inner, file);
}

static sqfs_s32 guarded_do_block(sqfs_compressor_t *cmp, const sqfs_u8 *in, sqfs_u32 size, sqfs_u8 *out,
                                 sqfs_u32 outsize) {
  guarded_t *g = (guarded_t *)cmp;
  sqfs_s32 ret = g->inner->do_block(g->inner, in, size, out, outsize);
  return ret > 0 && (sqfs_u32)ret >= size ? 0 : ret;
}

sqfs_compressor_t *sqw_guard_compressor(sqfs_compressor_t *inner) {
  guarded_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->base.base.destroy = guarded_destroy;
  g->base.base.copy = guarded_copy;
  g->base.get_configuration = guarded_get_configuration;
  g->base.write_options = guarded_write_options;
  g->base.read_options = guarded_read_options;
  g->base.do_block = guarded_do_block;
  g->inner = inner;
  return &g->base;
}
