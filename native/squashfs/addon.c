/*
 * sqfs_writer.node: Node-API binding of writer.c. Tree-building calls are
 * synchronous (memory only); open, append, endFile and finish run on the libuv
 * pool and return Promises. One asynchronous call at a time per writer: any call
 * made while one is in flight throws (the TypeScript wrapper serialises).
 *
 * create(compressor, level (-1: default), blockSize, workers, backlog, mtime, exportTable) -> handle
 * open(h, path) -> Promise<void>
 * addNode(h, parent, name, mode, uid, gid, mtime, target|null, major, minor) -> id
 * addHardlink(h, parent, name, targetId) -> id
 * setAttrs(h, id, perm, uid, gid, mtime)
 * addXattr(h, id, key, value)
 * remove(h, id)                            (unlinks the node and all below it)
 * append(h, id, data, last) -> Promise<void>  (data must not change until it settles;
 *                                            last: also end the file, saving a round trip)
 * appendFiles(h, ids, datas) -> Promise<void>  (whole files: datas[i] is all of file
 *                                            ids[i] (a Uint32Array); one trip to the pool
 *                                            for many small files)
 * endFile(h, id) -> Promise<void>
 * finish(h) -> Promise<stats>
 * close(h)                                 (frees everything; the file is left as is)
 *
 * Failures are Error objects: message "squashfs: <step>: <SQFS_ERROR_*> (<code>)",
 * with properties step, sqfsError, sqfsCode and, for I/O errors, errno.
 */
#define NAPI_VERSION 8
#include <errno.h>
#include <math.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "writer.h"
#include "zstd-block.h"

#define HANDLE_MAGIC 0x73717721u

typedef struct {
  uint32_t magic;
  sqw_t *w;
  bool busy;
} handle_t;

typedef enum { OP_OPEN, OP_APPEND, OP_END, OP_FINISH, OP_APPEND_FILES } op_kind_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle_ref, data_ref;
  handle_t *h;
  op_kind_t kind;
  char *path;
  const void *data;
  size_t len;
  uint32_t id;
  bool last;
  /* OP_APPEND_FILES: whole files, in order */
  size_t nfiles;
  uint32_t *ids;
  const uint8_t **datas;
  size_t *lens;
  int rc;
  sqw_error_t err;
  sqw_stats_t stats;
} op_t;

/* Evaluates a napi call; on failure throws (unless an exception is pending) and returns NULL. */
#define NAPI_CALL(env, call)                                                                                 \
  do {                                                                                                       \
    if ((call) != napi_ok) {                                                                                 \
      bool pending_ = false;                                                                                 \
      napi_is_exception_pending((env), &pending_);                                                           \
      if (!pending_) napi_throw_error((env), "ESQFS_NAPI", "squashfs: Node-API call failed: " #call);         \
      return NULL;                                                                                           \
    }                                                                                                        \
  } while (0)

static napi_value make_error(napi_env env, const sqw_error_t *e) {
  char msg[512];
  napi_value code, text, err, v;
  int n = snprintf(msg, sizeof msg, "squashfs: %s: %s (%d)", e->step, sqw_error_name(e->code), e->code);
  if (e->sys_errno && n > 0 && (size_t)n < sizeof msg)
    snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(e->sys_errno));
  if (napi_create_string_utf8(env, "ESQFS", NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &err) != napi_ok)
    return NULL;
  if (napi_create_string_utf8(env, e->step, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, err, "step", v);
  if (napi_create_string_utf8(env, sqw_error_name(e->code), NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, err, "sqfsError", v);
  if (napi_create_int32(env, e->code, &v) == napi_ok) napi_set_named_property(env, err, "sqfsCode", v);
  if (e->sys_errno && napi_create_int32(env, e->sys_errno, &v) == napi_ok)
    napi_set_named_property(env, err, "errno", v);
  return err;
}

static napi_value throw_sqw(napi_env env, const sqw_error_t *e) {
  napi_value err = make_error(env, e);
  if (err) napi_throw(env, err);
  else napi_throw_error(env, "ESQFS", e->step);
  return NULL;
}

static napi_value throw_usage(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ESQFS_ARG", msg);
  return NULL;
}

static napi_value get_args(napi_env env, napi_callback_info info, size_t want, napi_value *args) {
  size_t argc = want;
  napi_value self;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, args, &self, NULL));
  if (argc < want) return throw_usage(env, "squashfs: too few arguments");
  return self;
}

static handle_t *get_handle(napi_env env, napi_value v, bool need_idle) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok ||
      !p || ((handle_t *)p)->magic != HANDLE_MAGIC) {
    throw_usage(env, "squashfs: not a writer handle");
    return NULL;
  }
  handle_t *h = p;
  if (!h->w) {
    napi_throw_error(env, "ESQFS_CLOSED", "squashfs: the writer is closed");
    return NULL;
  }
  if (need_idle && h->busy) {
    napi_throw_error(env, "ESQFS_BUSY", "squashfs: an asynchronous call on this writer is still in flight");
    return NULL;
  }
  return h;
}

/* A JS number that is an integer in [0, 2^32). */
static bool get_u32(napi_env env, napi_value v, uint32_t *out, const char *what) {
  double d;
  char msg[128];
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= 4294967295.0) || d != floor(d)) {
    snprintf(msg, sizeof msg, "squashfs: %s must be an integer in [0, 2^32)", what);
    throw_usage(env, msg);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool get_bytes(napi_env env, napi_value v, const uint8_t **data, size_t *len, const char *what) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  void *p;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &p, &ab, &off) != napi_ok || type != napi_uint8_array) {
    snprintf(msg, sizeof msg, "squashfs: %s must be a Buffer or Uint8Array", what);
    throw_usage(env, msg);
    return false;
  }
  *data = p ? p : (const uint8_t *)"";
  return true;
}

static char *get_string(napi_env env, napi_value v, const char *what) {
  size_t len;
  char msg[128];
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "squashfs: %s must be a string", what);
    throw_usage(env, msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s || napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok || strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "squashfs: %s must be a string without NUL", what);
    throw_usage(env, msg);
    return NULL;
  }
  return s;
}

static napi_value make_u32(napi_env env, uint32_t x) {
  napi_value v;
  NAPI_CALL(env, napi_create_uint32(env, x, &v));
  return v;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  handle_t *h = data;
  (void)env;
  (void)hint;
  /* In flight at teardown: the pool thread may still use it; leak rather than race. */
  if (h->busy) return;
  sqw_destroy(h->w);
  h->magic = 0;
  free(h);
}

static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value args[7], ext;
  sqw_options_t opt = {0};
  uint32_t comp;
  int32_t level;
  double level_d;
  bool export_table = false;
  sqw_error_t err = {0};
  sqw_t *w = NULL;

  if (!get_args(env, info, 7, args)) return NULL;
  if (napi_get_value_double(env, args[1], &level_d) != napi_ok || level_d != floor(level_d) || level_d < -1 ||
      level_d > 255)
    return throw_usage(env, "squashfs: level must be -1 (the default) or an integer in [0, 255]");
  level = (int32_t)level_d;
  if (!get_u32(env, args[0], &comp, "compressor") || !get_u32(env, args[2], &opt.block_size, "blockSize") ||
      !get_u32(env, args[3], &opt.workers, "workers") || !get_u32(env, args[4], &opt.backlog, "backlog") ||
      !get_u32(env, args[5], &opt.mtime, "mtime"))
    return NULL;
  if (napi_get_value_bool(env, args[6], &export_table) != napi_ok)
    return throw_usage(env, "squashfs: exportTable must be a boolean");
  if (comp > 255 || opt.workers > 1024) return throw_usage(env, "squashfs: option out of range");
  opt.compressor = (int)comp;
  opt.level = (int)level;
  opt.export_table = export_table;
  if (sqw_create(&opt, &w, &err)) {
    sqw_destroy(w);
    return throw_sqw(env, &err);
  }
  handle_t *h = calloc(1, sizeof *h);
  if (!h) {
    sqw_destroy(w);
    napi_throw_error(env, "ESQFS", "squashfs: out of memory");
    return NULL;
  }
  h->magic = HANDLE_MAGIC;
  h->w = w;
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    sqw_destroy(w);
    free(h);
    napi_throw_error(env, "ESQFS_NAPI", "squashfs: creating the handle failed");
    return NULL;
  }
  return ext;
}

static void free_op(op_t *op) {
  free(op->ids);
  free(op->datas);
  free(op->lens);
  free(op->path);
  free(op);
}

static void op_execute(napi_env env, void *data) {
  op_t *op = data;
  sqw_t *w = op->h->w;
  (void)env;
  switch (op->kind) {
  case OP_OPEN: op->rc = sqw_open(w, op->path, &op->err); break;
  case OP_APPEND:
    op->rc = sqw_file_append(w, op->id, op->data, op->len, &op->err);
    if (!op->rc && op->last) op->rc = sqw_file_end(w, op->id, &op->err);
    break;
  case OP_END: op->rc = sqw_file_end(w, op->id, &op->err); break;
  case OP_FINISH: op->rc = sqw_finish(w, &op->stats, &op->err); break;
  case OP_APPEND_FILES:
    for (size_t i = 0; i < op->nfiles && !op->rc; i++) {
      op->rc = sqw_file_append(w, op->ids[i], op->datas[i], op->lens[i], &op->err);
      if (!op->rc) op->rc = sqw_file_end(w, op->ids[i], &op->err);
    }
    break;
  }
}

static napi_value stats_object(napi_env env, const sqw_stats_t *s) {
  napi_value o, v;
  NAPI_CALL(env, napi_create_object(env, &o));
#define SET_NUM(name, x)                                                                                     \
  NAPI_CALL(env, napi_create_double(env, (double)(x), &v));                                                  \
  NAPI_CALL(env, napi_set_named_property(env, o, name, v))
  SET_NUM("bytesUsed", s->bytes_used);
  SET_NUM("fileSize", s->file_size);
  SET_NUM("inodes", s->inodes);
  SET_NUM("inputBytes", s->input_bytes);
  SET_NUM("dataBlocks", s->data_blocks);
  SET_NUM("fragmentBlocks", s->frag_blocks);
  SET_NUM("sparseBlocks", s->sparse_blocks);
#undef SET_NUM
  return o;
}

static void op_complete(napi_env env, napi_status status, void *data) {
  op_t *op = data;
  napi_value result = NULL;

  op->h->busy = false;
  if (op->data_ref) napi_delete_reference(env, op->data_ref);
  napi_delete_reference(env, op->handle_ref);
  if (status != napi_ok) {
    op->rc = -1;
    snprintf(op->err.step, sizeof op->err.step, "asynchronous work was cancelled");
    op->err.code = 0;
  }
  if (op->rc == 0) {
    if (op->kind == OP_FINISH) result = stats_object(env, &op->stats);
    else napi_get_undefined(env, &result);
  }
  if (result) {
    napi_resolve_deferred(env, op->deferred, result);
  } else {
    bool pending = false;
    napi_value err = NULL;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &err);
    else err = make_error(env, &op->err);
    if (!err) napi_get_undefined(env, &err);
    napi_reject_deferred(env, op->deferred, err);
  }
  napi_delete_async_work(env, op->work);
  free_op(op);
}

/* Queues `op` (its fields for the kind already set); returns the Promise. */
static napi_value start_op(napi_env env, napi_value handle, napi_value data, op_t *op) {
  napi_value promise, name;
  static const char *names[] = {"sqfs.open", "sqfs.append", "sqfs.endFile", "sqfs.finish", "sqfs.appendFiles"};

  if (napi_create_string_utf8(env, names[op->kind], NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_reference(env, handle, 1, &op->handle_ref) != napi_ok)
    goto fail;
  if (data && napi_create_reference(env, data, 1, &op->data_ref) != napi_ok) goto fail_ref;
  if (napi_create_async_work(env, NULL, name, op_execute, op_complete, op, &op->work) != napi_ok) goto fail_data;
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok) goto fail_work;
  if (napi_queue_async_work(env, op->work) != napi_ok) goto fail_work; /* the promise is dropped unsettled */
  op->h->busy = true;
  return promise;
fail_work:
  napi_delete_async_work(env, op->work);
fail_data:
  if (op->data_ref) napi_delete_reference(env, op->data_ref);
fail_ref:
  napi_delete_reference(env, op->handle_ref);
fail:
  free_op(op);
  {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, "ESQFS_NAPI", "squashfs: starting asynchronous work failed");
  }
  return NULL;
}

static op_t *new_op(napi_env env, handle_t *h, op_kind_t kind) {
  op_t *op = calloc(1, sizeof *op);
  if (!op) {
    napi_throw_error(env, "ESQFS", "squashfs: out of memory");
    return NULL;
  }
  op->h = h;
  op->kind = kind;
  return op;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value args[2];
  handle_t *h;
  op_t *op;
  char *path;
  if (!get_args(env, info, 2, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!(path = get_string(env, args[1], "path"))) return NULL;
  if (!(op = new_op(env, h, OP_OPEN))) {
    free(path);
    return NULL;
  }
  op->path = path;
  return start_op(env, args[0], NULL, op);
}

static napi_value js_add_node(napi_env env, napi_callback_info info) {
  napi_value args[10];
  handle_t *h;
  uint32_t parent, mode, uid, gid, mtime, major, minor, id;
  const uint8_t *name, *target = NULL;
  size_t name_len, target_len = 0;
  napi_valuetype t;
  sqw_error_t err = {0};

  if (!get_args(env, info, 10, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &parent, "parent") || !get_bytes(env, args[2], &name, &name_len, "name") ||
      !get_u32(env, args[3], &mode, "mode") || !get_u32(env, args[4], &uid, "uid") ||
      !get_u32(env, args[5], &gid, "gid") || !get_u32(env, args[6], &mtime, "mtime") ||
      !get_u32(env, args[8], &major, "major") || !get_u32(env, args[9], &minor, "minor"))
    return NULL;
  NAPI_CALL(env, napi_typeof(env, args[7], &t));
  if (t != napi_null && t != napi_undefined && !get_bytes(env, args[7], &target, &target_len, "target"))
    return NULL;
  if (sqw_add_node(h->w, parent, name, name_len, mode, uid, gid, mtime, target, target_len, major, minor, &id,
                   &err))
    return throw_sqw(env, &err);
  return make_u32(env, id);
}

static napi_value js_add_hardlink(napi_env env, napi_callback_info info) {
  napi_value args[4];
  handle_t *h;
  uint32_t parent, target, id;
  const uint8_t *name;
  size_t name_len;
  sqw_error_t err = {0};

  if (!get_args(env, info, 4, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &parent, "parent") || !get_bytes(env, args[2], &name, &name_len, "name") ||
      !get_u32(env, args[3], &target, "target"))
    return NULL;
  if (sqw_add_hardlink(h->w, parent, name, name_len, target, &id, &err)) return throw_sqw(env, &err);
  return make_u32(env, id);
}

static napi_value js_set_attrs(napi_env env, napi_callback_info info) {
  napi_value args[6], undef;
  handle_t *h;
  uint32_t id, perm, uid, gid, mtime;
  sqw_error_t err = {0};

  if (!get_args(env, info, 6, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &id, "id") || !get_u32(env, args[2], &perm, "perm") ||
      !get_u32(env, args[3], &uid, "uid") || !get_u32(env, args[4], &gid, "gid") ||
      !get_u32(env, args[5], &mtime, "mtime"))
    return NULL;
  if (sqw_set_attrs(h->w, id, perm, uid, gid, mtime, &err)) return throw_sqw(env, &err);
  NAPI_CALL(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value js_remove(napi_env env, napi_callback_info info) {
  napi_value args[2], undef;
  handle_t *h;
  uint32_t id;
  sqw_error_t err = {0};

  if (!get_args(env, info, 2, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &id, "id")) return NULL;
  if (sqw_remove(h->w, id, &err)) return throw_sqw(env, &err);
  NAPI_CALL(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value js_add_xattr(napi_env env, napi_callback_info info) {
  napi_value args[4], undef;
  handle_t *h;
  uint32_t id;
  const uint8_t *value;
  size_t len;
  char *key;
  sqw_error_t err = {0};

  if (!get_args(env, info, 4, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &id, "id") || !get_bytes(env, args[3], &value, &len, "xattr value")) return NULL;
  if (!(key = get_string(env, args[2], "xattr key"))) return NULL;
  int rc = sqw_add_xattr(h->w, id, key, value, len, &err);
  free(key);
  if (rc) return throw_sqw(env, &err);
  NAPI_CALL(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value js_append(napi_env env, napi_callback_info info) {
  napi_value args[4];
  handle_t *h;
  op_t *op;
  uint32_t id;
  const uint8_t *data;
  size_t len;
  bool last;

  if (!get_args(env, info, 4, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &id, "id") || !get_bytes(env, args[2], &data, &len, "data")) return NULL;
  if (napi_get_value_bool(env, args[3], &last) != napi_ok) return throw_usage(env, "squashfs: last must be a boolean");
  if (!(op = new_op(env, h, OP_APPEND))) return NULL;
  op->id = id;
  op->data = data;
  op->len = len;
  op->last = last;
  return start_op(env, args[0], args[2], op);
}

static napi_value js_append_files(napi_env env, napi_callback_info info) {
  napi_value args[3], item;
  handle_t *h;
  op_t *op;
  bool is_array = false, is_ta = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t off, nids;
  void *ids;
  uint32_t n;

  if (!get_args(env, info, 3, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (napi_is_typedarray(env, args[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, args[1], &type, &nids, &ids, &ab, &off) != napi_ok || type != napi_uint32_array)
    return throw_usage(env, "squashfs: ids must be a Uint32Array");
  if (napi_is_array(env, args[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, args[2], &n) != napi_ok || n != nids)
    return throw_usage(env, "squashfs: datas must be an array as long as ids");
  if (!(op = new_op(env, h, OP_APPEND_FILES))) return NULL;
  op->nfiles = n;
  op->ids = malloc((n ? n : 1) * sizeof *op->ids);
  op->datas = malloc((n ? n : 1) * sizeof *op->datas);
  op->lens = malloc((n ? n : 1) * sizeof *op->lens);
  if (!op->ids || !op->datas || !op->lens) {
    free_op(op);
    napi_throw_error(env, "ESQFS", "squashfs: out of memory");
    return NULL;
  }
  if (n) memcpy(op->ids, ids, n * sizeof *op->ids);
  for (uint32_t i = 0; i < n; i++) {
    if (napi_get_element(env, args[2], i, &item) != napi_ok || !get_bytes(env, item, &op->datas[i], &op->lens[i], "file data")) {
      free_op(op);
      return NULL;
    }
  }
  /* The array keeps its buffers alive until the work completes. */
  return start_op(env, args[0], args[2], op);
}

static napi_value js_end_file(napi_env env, napi_callback_info info) {
  napi_value args[2];
  handle_t *h;
  op_t *op;
  uint32_t id;

  if (!get_args(env, info, 2, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!get_u32(env, args[1], &id, "id")) return NULL;
  if (!(op = new_op(env, h, OP_END))) return NULL;
  op->id = id;
  return start_op(env, args[0], NULL, op);
}

static napi_value js_finish(napi_env env, napi_callback_info info) {
  napi_value args[1];
  handle_t *h;
  op_t *op;
  if (!get_args(env, info, 1, args) || !(h = get_handle(env, args[0], true))) return NULL;
  if (!(op = new_op(env, h, OP_FINISH))) return NULL;
  return start_op(env, args[0], NULL, op);
}

/* Idempotent: closing a closed writer does nothing. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value args[1], undef;
  napi_valuetype t;
  void *p = NULL;
  if (!get_args(env, info, 1, args)) return NULL;
  NAPI_CALL(env, napi_get_undefined(env, &undef));
  if (napi_typeof(env, args[0], &t) == napi_ok && t == napi_external &&
      napi_get_value_external(env, args[0], &p) == napi_ok && p && ((handle_t *)p)->magic == HANDLE_MAGIC &&
      !((handle_t *)p)->w)
    return undef;
  handle_t *h = get_handle(env, args[0], true);
  if (!h) return NULL;
  sqw_destroy(h->w);
  h->w = NULL;
  NAPI_CALL(env, napi_get_undefined(env, &undef));
  return undef;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"create", js_create},   {"open", js_open},         {"addNode", js_add_node}, {"addHardlink", js_add_hardlink},
      {"setAttrs", js_set_attrs}, {"addXattr", js_add_xattr}, {"append", js_append}, {"endFile", js_end_file},
      {"appendFiles", js_append_files},
      {"finish", js_finish},   {"close", js_close},         {"remove", js_remove},
      {"zstdDecompress", js_zstd_decompress},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    NAPI_CALL(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn));
    NAPI_CALL(env, napi_set_named_property(env, exports, fns[i].name, fn));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
