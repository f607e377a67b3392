/*
 * writer: a squashfs image from a tree described node by node (see writer.h).
 *
 * Layout of the image, in file order: super block (rewritten at the end),
 * compressor options, data and fragment blocks (block processor), inode table,
 * directory table, fragment table, export table, id table, xattr tables, zero
 * padding to 4 KiB.
 *
 * Inode numbers: non-directories first, directory by directory in sorted tree
 * order (so one directory's entries have neighbouring numbers), then directories
 * in post-order, the root last. Inodes are written in number order, so every
 * directory's entries point at inodes already written.
 */
#define _GNU_SOURCE
#include "writer.h"
#include "compressor-guard.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqfs/block_processor.h>
#include <sqfs/block_writer.h>
#include <sqfs/compressor.h>
#include <sqfs/dir_writer.h>
#include <sqfs/error.h>
#include <sqfs/frag_table.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/meta_writer.h>
#include <sqfs/super.h>
#include <sqfs/xattr.h>
#include <sqfs/xattr_writer.h>

#define NO_XATTR 0xFFFFFFFFu
#define NAME_MAX_BYTES 255
#define TARGET_MAX_BYTES 4095

typedef struct {
  char *key;
  uint8_t *value;
  size_t len;
} xattr_t;

typedef struct node {
  struct node *parent;
  char *name; /* NUL-terminated; "" for the root */
  uint32_t mode, uid, gid, mtime;
  struct node *link; /* a hard link: the node whose inode this name shares */
  uint32_t nlink;    /* names of this inode (non-directories) */
  uint32_t devno;
  uint8_t *target;
  size_t target_len;
  sqfs_inode_generic_t *inode; /* regular file: created and updated by the block processor */
  bool data_ended;
  xattr_t *xattrs;
  size_t nxattrs;
  struct node **children;
  size_t nchildren, cap_children;
  uint32_t subdirs;
  uint32_t inode_num;
  sqfs_u64 inode_ref;
  bool detached; /* unlinked by sqw_remove: in no directory */
} node_t;

struct sqw {
  sqw_options_t opt;
  sqfs_super_t super;
  sqfs_compressor_t *cmp, *uncmp;
  sqfs_file_t *file;
  sqfs_block_writer_t *blkwr;
  sqfs_frag_table_t *frag;
  sqfs_block_processor_t *proc;
  sqfs_id_table_t *ids;
  sqfs_xattr_writer_t *xwr;
  sqfs_meta_writer_t *im, *dm;
  sqfs_dir_writer_t *dirwr;
  node_t **nodes; /* by id; each node allocated on its own: the block processor keeps &node->inode */
  size_t nnodes, cap_nodes;
  node_t *open_file; /* begun in the block processor, not ended */
  bool opened, failed, finished;
};

const char *sqw_error_name(int code) {
  switch (code) {
  case SQFS_ERROR_ALLOC: return "SQFS_ERROR_ALLOC";
  case SQFS_ERROR_IO: return "SQFS_ERROR_IO";
  case SQFS_ERROR_COMPRESSOR: return "SQFS_ERROR_COMPRESSOR";
  case SQFS_ERROR_INTERNAL: return "SQFS_ERROR_INTERNAL";
  case SQFS_ERROR_CORRUPTED: return "SQFS_ERROR_CORRUPTED";
  case SQFS_ERROR_UNSUPPORTED: return "SQFS_ERROR_UNSUPPORTED";
  case SQFS_ERROR_OVERFLOW: return "SQFS_ERROR_OVERFLOW";
  case SQFS_ERROR_OUT_OF_BOUNDS: return "SQFS_ERROR_OUT_OF_BOUNDS";
  case SFQS_ERROR_SUPER_MAGIC: return "SQFS_ERROR_SUPER_MAGIC";
  case SFQS_ERROR_SUPER_VERSION: return "SQFS_ERROR_SUPER_VERSION";
  case SQFS_ERROR_SUPER_BLOCK_SIZE: return "SQFS_ERROR_SUPER_BLOCK_SIZE";
  case SQFS_ERROR_NOT_DIR: return "SQFS_ERROR_NOT_DIR";
  case SQFS_ERROR_NO_ENTRY: return "SQFS_ERROR_NO_ENTRY";
  case SQFS_ERROR_LINK_LOOP: return "SQFS_ERROR_LINK_LOOP";
  case SQFS_ERROR_NOT_FILE: return "SQFS_ERROR_NOT_FILE";
  case SQFS_ERROR_ARG_INVALID: return "SQFS_ERROR_ARG_INVALID";
  case SQFS_ERROR_SEQUENCE: return "SQFS_ERROR_SEQUENCE";
  default: return "SQFS_ERROR_UNKNOWN";
  }
}

/* Records what failed and returns `code` (a negative SQFS_ERROR value). */
__attribute__((format(printf, 4, 5))) static int fail(sqw_error_t *err, int code, int sys_errno, const char *fmt,
                                                      ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->step, sizeof err->step, fmt, ap);
  va_end(ap);
  err->code = code;
  err->sys_errno = code == SQFS_ERROR_IO ? sys_errno : 0;
  return code;
}

/* A failed blocking step leaves libsquashfs's objects in an unknown state. */
static int fail_hard(sqw_t *w, sqw_error_t *err, int code, const char *what) {
  int e = errno;
  w->failed = true;
  return fail(err, code, e, "%s", what);
}

/* "/a/b/c" for error messages, truncated to fit. */
static void node_path(const node_t *n, char *buf, size_t size) {
  const node_t *chain[64];
  size_t depth = 0, off = 0;
  for (; n && n->parent && depth < 64; n = n->parent) chain[depth++] = n;
  if (depth == 0) {
    snprintf(buf, size, "/");
    return;
  }
  buf[0] = '\0';
  if (n && n->parent) off = (size_t)snprintf(buf, size, "...");
  while (depth > 0 && off < size) off += (size_t)snprintf(buf + off, size - off, "/%s", chain[--depth]->name);
}

int sqw_create(const sqw_options_t *opt, sqw_t **out, sqw_error_t *err) {
  sqfs_compressor_config_t cfg;
  sqfs_compressor_t *inner;
  int ret;

  sqw_t *w = calloc(1, sizeof *w);
  if (!w) return fail(err, SQFS_ERROR_ALLOC, 0, "allocating the writer");
  w->opt = *opt;
  *out = w;

  ret = sqfs_super_init(&w->super, opt->block_size, opt->mtime, (SQFS_COMPRESSOR)opt->compressor);
  if (ret) return fail(err, ret, 0, "initializing the super block (block size %u)", opt->block_size);
  ret = sqfs_compressor_config_init(&cfg, (SQFS_COMPRESSOR)opt->compressor, opt->block_size, 0);
  if (ret) return fail(err, ret, 0, "configuring compressor %d", opt->compressor);
  if (opt->level >= 0) cfg.level = (sqfs_u32)opt->level;
  ret = sqfs_compressor_create(&cfg, &inner);
  if (ret) return fail(err, ret, 0, "creating compressor %d (level %d)", opt->compressor, opt->level);
  if (!(w->cmp = sqw_guard_compressor(inner))) {
    sqfs_destroy(inner);
    return fail(err, SQFS_ERROR_ALLOC, 0, "wrapping the compressor");
  }
  cfg.flags |= SQFS_COMP_FLAG_UNCOMPRESS;
  ret = sqfs_compressor_create(&cfg, &w->uncmp);
  if (ret) return fail(err, ret, 0, "creating decompressor %d", opt->compressor);

  w->nodes = calloc(16, sizeof *w->nodes);
  node_t *root = calloc(1, sizeof *root);
  if (!w->nodes || !root || !(root->name = strdup(""))) {
    free(root);
    return fail(err, SQFS_ERROR_ALLOC, 0, "allocating the root directory");
  }
  w->cap_nodes = 16;
  root->mode = S_IFDIR | 0755;
  root->mtime = opt->mtime;
  root->nlink = 1;
  w->nodes[w->nnodes++] = root;
  return 0;
}

int sqw_open(sqw_t *w, const char *path, sqw_error_t *err) {
  sqfs_block_processor_desc_t desc;
  int ret;

  if (w->opened) return fail(err, SQFS_ERROR_SEQUENCE, 0, "opening %s: already open", path);
  w->opened = true;
  /* Flags 0: create, and fail if the file exists. */
  w->file = sqfs_open_file(path, 0);
  if (!w->file) return fail_hard(w, err, SQFS_ERROR_IO, "creating the image file");
  ret = sqfs_super_write(&w->super, w->file);
  if (ret) return fail_hard(w, err, ret, "writing the provisional super block");
  ret = w->cmp->write_options(w->cmp, w->file);
  if (ret < 0) return fail_hard(w, err, ret, "writing the compressor options");
  if (ret > 0) w->super.flags |= SQFS_FLAG_COMPRESSOR_OPTIONS;

  if (!(w->blkwr = sqfs_block_writer_create(w->file, SQFS_DEVBLK_SIZE, 0)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the block writer");
  if (!(w->frag = sqfs_frag_table_create(0)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the fragment table");

  memset(&desc, 0, sizeof desc);
  desc.size = sizeof desc;
  desc.max_block_size = w->opt.block_size;
  desc.num_workers = w->opt.workers;
  desc.max_backlog = w->opt.backlog ? w->opt.backlog : 10 * (w->opt.workers ? w->opt.workers : 1);
  desc.cmp = w->cmp;
  desc.wr = w->blkwr;
  desc.tbl = w->frag;
  desc.file = w->file;
  desc.uncmp = w->uncmp;
  ret = sqfs_block_processor_create_ex(&desc, &w->proc);
  if (ret) return fail_hard(w, err, ret, "creating the block processor");

  if (!(w->ids = sqfs_id_table_create(0))) return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the id table");
  if (!(w->xwr = sqfs_xattr_writer_create(0)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the xattr writer");
  if (!(w->im = sqfs_meta_writer_create(w->file, w->cmp, 0)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the inode table writer");
  if (!(w->dm = sqfs_meta_writer_create(w->file, w->cmp, SQFS_META_WRITER_KEEP_IN_MEMORY)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the directory table writer");
  if (!(w->dirwr = sqfs_dir_writer_create(w->dm, w->opt.export_table ? SQFS_DIR_WRITER_CREATE_EXPORT_TABLE : 0)))
    return fail_hard(w, err, SQFS_ERROR_ALLOC, "creating the directory writer");
  return 0;
}

static void free_node(node_t *n) {
  for (size_t i = 0; i < n->nxattrs; i++) {
    free(n->xattrs[i].key);
    free(n->xattrs[i].value);
  }
  free(n->xattrs);
  free(n->children);
  free(n->target);
  free(n->name);
  sqfs_free(n->inode);
  free(n);
}

void sqw_destroy(sqw_t *w) {
  if (!w) return;
  /* The block processor first: its workers may still point into file inodes. */
  sqfs_destroy(w->proc);
  sqfs_destroy(w->dirwr);
  sqfs_destroy(w->dm);
  sqfs_destroy(w->im);
  sqfs_destroy(w->xwr);
  sqfs_destroy(w->ids);
  sqfs_destroy(w->frag);
  sqfs_destroy(w->blkwr);
  sqfs_destroy(w->file);
  sqfs_destroy(w->uncmp);
  sqfs_destroy(w->cmp);
  for (size_t i = 0; i < w->nnodes; i++) free_node(w->nodes[i]);
  free(w->nodes);
  free(w);
}

static int check_usable(sqw_t *w, sqw_error_t *err, const char *what) {
  if (w->failed) return fail(err, SQFS_ERROR_SEQUENCE, 0, "%s: an earlier step failed", what);
  if (w->finished) return fail(err, SQFS_ERROR_SEQUENCE, 0, "%s: the image is finished", what);
  if (!w->opened) return fail(err, SQFS_ERROR_SEQUENCE, 0, "%s: the image is not open", what);
  return 0;
}

static node_t *lookup(sqw_t *w, uint32_t id) { return id < w->nnodes ? w->nodes[id] : NULL; }

static int check_name(const uint8_t *name, size_t len, sqw_error_t *err) {
  if (len == 0 || len > NAME_MAX_BYTES) return fail(err, SQFS_ERROR_ARG_INVALID, 0, "name of %zu bytes", len);
  if (memchr(name, '/', len) || memchr(name, '\0', len))
    return fail(err, SQFS_ERROR_ARG_INVALID, 0, "name with '/' or NUL");
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
    return fail(err, SQFS_ERROR_ARG_INVALID, 0, "name '.' or '..'");
  return 0;
}

/* Allocates a node named `name` under `parent` and gives it the next id. */
static int new_node(sqw_t *w, node_t *parent, const uint8_t *name, size_t len, node_t **out, uint32_t *id,
                    sqw_error_t *err) {
  if (w->nnodes >= UINT32_MAX - 2) return fail(err, SQFS_ERROR_OVERFLOW, 0, "too many nodes");
  if (w->nnodes == w->cap_nodes) {
    node_t **nodes = realloc(w->nodes, 2 * w->cap_nodes * sizeof *nodes);
    if (!nodes) return fail(err, SQFS_ERROR_ALLOC, 0, "growing the node table");
    w->nodes = nodes;
    w->cap_nodes *= 2;
  }
  if (parent->nchildren == parent->cap_children) {
    size_t cap = parent->cap_children ? 2 * parent->cap_children : 8;
    node_t **children = realloc(parent->children, cap * sizeof *children);
    if (!children) return fail(err, SQFS_ERROR_ALLOC, 0, "growing a directory");
    parent->children = children;
    parent->cap_children = cap;
  }
  node_t *n = calloc(1, sizeof *n);
  if (!n || !(n->name = malloc(len + 1))) {
    free(n);
    return fail(err, SQFS_ERROR_ALLOC, 0, "allocating a node");
  }
  memcpy(n->name, name, len);
  n->name[len] = '\0';
  n->parent = parent;
  n->nlink = 1;
  parent->children[parent->nchildren++] = n;
  *id = (uint32_t)w->nnodes;
  w->nodes[w->nnodes++] = n;
  *out = n;
  return 0;
}

static node_t *checked_dir(sqw_t *w, uint32_t id, sqw_error_t *err) {
  node_t *p = lookup(w, id);
  if (!p || p->link || !S_ISDIR(p->mode) || p->detached) {
    fail(err, SQFS_ERROR_NOT_DIR, 0, "parent node %u is not a directory", id);
    return NULL;
  }
  return p;
}

int sqw_add_node(sqw_t *w, uint32_t parent, const uint8_t *name, size_t name_len, uint32_t mode, uint32_t uid,
                 uint32_t gid, uint32_t mtime, const uint8_t *target, size_t target_len, uint32_t major,
                 uint32_t minor, uint32_t *id, sqw_error_t *err) {
  node_t *p, *n;
  int ret;

  if ((ret = check_usable(w, err, "adding a node"))) return ret;
  if (!(p = checked_dir(w, parent, err))) return err->code;
  if ((ret = check_name(name, name_len, err))) return ret;
  if (mode & ~(uint32_t)(S_IFMT | 07777)) return fail(err, SQFS_ERROR_ARG_INVALID, 0, "mode 0%o", mode);
  switch (mode & S_IFMT) {
  case S_IFDIR:
  case S_IFREG:
  case S_IFIFO:
  case S_IFSOCK:
    break;
  case S_IFLNK:
    if (!target || target_len == 0 || target_len > TARGET_MAX_BYTES || memchr(target, '\0', target_len))
      return fail(err, SQFS_ERROR_ARG_INVALID, 0, "symlink target of %zu bytes (or with NUL)", target_len);
    break;
  case S_IFCHR:
  case S_IFBLK:
    if (major > 0xfff || minor > 0xfffff)
      return fail(err, SQFS_ERROR_ARG_INVALID, 0, "device number %u:%u out of range", major, minor);
    break;
  default:
    return fail(err, SQFS_ERROR_ARG_INVALID, 0, "file type 0%o", mode & S_IFMT);
  }
  uint8_t *copy = NULL;
  if (S_ISLNK(mode)) {
    if (!(copy = malloc(target_len))) return fail(err, SQFS_ERROR_ALLOC, 0, "copying a symlink target");
    memcpy(copy, target, target_len);
  }
  if ((ret = new_node(w, p, name, name_len, &n, id, err))) {
    free(copy);
    return ret;
  }
  n->mode = mode;
  n->uid = uid;
  n->gid = gid;
  n->mtime = mtime;
  n->target = copy;
  n->target_len = target_len;
  /* Linux's encoding of a 32-bit dev_t (new_encode_dev), as the kernel decodes it. */
  n->devno = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
  if (S_ISDIR(mode)) p->subdirs++;
  return 0;
}

int sqw_add_hardlink(sqw_t *w, uint32_t parent, const uint8_t *name, size_t name_len, uint32_t target,
                     uint32_t *id, sqw_error_t *err) {
  node_t *p, *t, *n;
  int ret;

  if ((ret = check_usable(w, err, "adding a hard link"))) return ret;
  if (!(p = checked_dir(w, parent, err))) return err->code;
  if ((ret = check_name(name, name_len, err))) return ret;
  if (!(t = lookup(w, target)) || t->detached) return fail(err, SQFS_ERROR_NO_ENTRY, 0, "hard link target %u", target);
  if (t->link) t = t->link;
  if (S_ISDIR(t->mode)) return fail(err, SQFS_ERROR_ARG_INVALID, 0, "hard link to a directory");
  if (t->nlink == UINT32_MAX) return fail(err, SQFS_ERROR_OVERFLOW, 0, "too many hard links");
  if ((ret = new_node(w, p, name, name_len, &n, id, err))) return ret;
  n->link = t;
  n->mode = t->mode;
  t->nlink++;
  return 0;
}

int sqw_set_attrs(sqw_t *w, uint32_t id, uint32_t perm, uint32_t uid, uint32_t gid, uint32_t mtime,
                  sqw_error_t *err) {
  node_t *n = NULL;
  int ret;
  if ((ret = check_usable(w, err, "setting attributes"))) return ret;
  if (!(n = lookup(w, id)) || n->link) return fail(err, SQFS_ERROR_NO_ENTRY, 0, "setting attributes of node %u", id);
  if (perm & ~07777u) return fail(err, SQFS_ERROR_ARG_INVALID, 0, "permission bits 0%o", perm);
  n->mode = (n->mode & S_IFMT) | perm;
  n->uid = uid;
  n->gid = gid;
  n->mtime = mtime;
  return 0;
}

int sqw_add_xattr(sqw_t *w, uint32_t id, const char *key, const void *value, size_t len, sqw_error_t *err) {
  node_t *n = NULL;
  int ret;
  if ((ret = check_usable(w, err, "adding an xattr"))) return ret;
  if (!(n = lookup(w, id)) || n->link) return fail(err, SQFS_ERROR_NO_ENTRY, 0, "xattr on node %u", id);
  if (sqfs_get_xattr_prefix_id(key) < 0)
    return fail(err, SQFS_ERROR_UNSUPPORTED, 0, "xattr %.80s: squashfs stores only user., trusted. and security.",
                key);
  uint8_t *v = malloc(len ? len : 1);
  if (!v) return fail(err, SQFS_ERROR_ALLOC, 0, "copying an xattr value");
  if (len) memcpy(v, value, len);
  for (size_t i = 0; i < n->nxattrs; i++) {
    if (strcmp(n->xattrs[i].key, key) == 0) {
      free(n->xattrs[i].value);
      n->xattrs[i].value = v;
      n->xattrs[i].len = len;
      return 0;
    }
  }
  xattr_t *xs = realloc(n->xattrs, (n->nxattrs + 1) * sizeof *xs);
  char *k = strdup(key);
  if (!xs || !k) {
    if (xs) n->xattrs = xs;
    free(k);
    free(v);
    return fail(err, SQFS_ERROR_ALLOC, 0, "copying an xattr");
  }
  n->xattrs = xs;
  n->xattrs[n->nxattrs++] = (xattr_t){.key = k, .value = v, .len = len};
  return 0;
}

/* Marks `n` and all below it detached; each name of a shared inode drops its count. */
static void release(node_t *n) {
  n->detached = true;
  if (n->link) {
    n->link->nlink--;
    return;
  }
  if (!S_ISDIR(n->mode)) {
    n->nlink--; /* the inode lives on, unnamed here, while links to it remain */
    return;
  }
  for (size_t i = 0; i < n->nchildren; i++) release(n->children[i]);
}

int sqw_remove(sqw_t *w, uint32_t id, sqw_error_t *err) {
  node_t *n, *p;
  char path[128];
  int ret;

  if ((ret = check_usable(w, err, "removing a node"))) return ret;
  if (id == SQW_ROOT || !(n = lookup(w, id)) || n->detached)
    return fail(err, SQFS_ERROR_NO_ENTRY, 0, "removing node %u: not in the tree", id);
  for (const node_t *o = w->open_file; o; o = o->parent) {
    if (o == n) {
      node_path(n, path, sizeof path);
      return fail(err, SQFS_ERROR_SEQUENCE, 0, "removing %s: the data of a file there is still open", path);
    }
  }
  p = n->parent;
  for (size_t i = 0; i < p->nchildren; i++) {
    if (p->children[i] == n) {
      memmove(&p->children[i], &p->children[i + 1], (p->nchildren - i - 1) * sizeof *p->children);
      p->nchildren--;
      break;
    }
  }
  if (S_ISDIR(n->mode) && !n->link) p->subdirs--;
  release(n);
  return 0;
}

static int checked_file(sqw_t *w, uint32_t id, node_t **out, sqw_error_t *err) {
  node_t *n = lookup(w, id);
  if (!n || n->link || !S_ISREG(n->mode)) return fail(err, SQFS_ERROR_NOT_FILE, 0, "node %u is not a file", id);
  if (n->data_ended) return fail(err, SQFS_ERROR_SEQUENCE, 0, "node %u: its data has ended", id);
  if (w->open_file && w->open_file != n)
    return fail(err, SQFS_ERROR_SEQUENCE, 0, "node %u: another file's data is still open", id);
  *out = n;
  return 0;
}

int sqw_file_append(sqw_t *w, uint32_t id, const void *data, size_t len, sqw_error_t *err) {
  node_t *n = NULL;
  char path[128];
  int ret;

  if ((ret = check_usable(w, err, "writing file data")) || (ret = checked_file(w, id, &n, err))) return ret;
  /* libsquashfs 1.2 crashes appending 0 bytes to a file with no block yet; and a
     file that never gets data is stored as an empty inode by sqw_finish anyway. */
  if (len == 0) return 0;
  if (!w->open_file) {
    ret = sqfs_block_processor_begin_file(w->proc, &n->inode, NULL, 0);
    node_path(n, path, sizeof path);
    if (ret) return fail(err, ret, 0, "starting the data of %s", path);
    w->open_file = n;
  }
  ret = sqfs_block_processor_append(w->proc, data, len);
  if (ret) {
    int e = errno;
    w->failed = true;
    node_path(n, path, sizeof path);
    return fail(err, ret, e, "writing the data of %s", path);
  }
  return 0;
}

int sqw_file_end(sqw_t *w, uint32_t id, sqw_error_t *err) {
  node_t *n = NULL;
  char path[128];
  int ret;

  if ((ret = check_usable(w, err, "ending file data")) || (ret = checked_file(w, id, &n, err))) return ret;
  if (w->open_file) {
    ret = sqfs_block_processor_end_file(w->proc);
    if (ret) {
      int e = errno;
      w->failed = true;
      node_path(n, path, sizeof path);
      return fail(err, ret, e, "ending the data of %s", path);
    }
    w->open_file = NULL;
  }
  n->data_ended = true;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp((*(node_t *const *)a)->name, (*(node_t *const *)b)->name);
}

/* Sorts every directory (strcmp order, as squashfs requires) and rejects duplicate names. */
static int sort_dirs(sqw_t *w, sqw_error_t *err) {
  char path[128];
  for (size_t i = 0; i < w->nnodes; i++) {
    node_t *d = w->nodes[i];
    if (d->nchildren < 2 || d->detached) continue;
    qsort(d->children, d->nchildren, sizeof *d->children, cmp_names);
    for (size_t j = 1; j < d->nchildren; j++) {
      if (strcmp(d->children[j - 1]->name, d->children[j]->name) == 0) {
        node_path(d->children[j], path, sizeof path);
        return fail(err, SQFS_ERROR_ARG_INVALID, 0, "duplicate entry %s", path);
      }
    }
  }
  return 0;
}

static void number_files(node_t *d, uint32_t *next) {
  for (size_t i = 0; i < d->nchildren; i++) {
    node_t *c = d->children[i];
    if (!c->link && !S_ISDIR(c->mode)) c->inode_num = ++*next;
  }
  for (size_t i = 0; i < d->nchildren; i++)
    if (S_ISDIR(d->children[i]->mode)) number_files(d->children[i], next);
}

static void number_dirs(node_t *d, uint32_t *next) {
  for (size_t i = 0; i < d->nchildren; i++)
    if (S_ISDIR(d->children[i]->mode)) number_dirs(d->children[i], next);
  d->inode_num = ++*next;
}

static int write_dir_entries(sqw_t *w, node_t *d, sqw_error_t *err) {
  char path[128];
  int ret = sqfs_dir_writer_begin(w->dirwr, 0);
  for (size_t i = 0; !ret && i < d->nchildren; i++) {
    node_t *c = d->children[i], *t = c->link ? c->link : c;
    ret = sqfs_dir_writer_add_entry(w->dirwr, c->name, t->inode_num, t->inode_ref, (sqfs_u16)t->mode);
  }
  if (!ret) ret = sqfs_dir_writer_end(w->dirwr);
  if (ret) {
    node_path(d, path, sizeof path);
    return fail(err, ret, errno, "writing the entries of %s", path);
  }
  return 0;
}

/* The inode of a non-directory node, allocated here or taken from the block processor. */
static sqfs_inode_generic_t *make_inode(node_t *n) {
  sqfs_inode_generic_t *inode;
  if (S_ISREG(n->mode)) {
    inode = n->inode;
    n->inode = NULL;
    if (inode) return inode;
    if (!(inode = calloc(1, sizeof *inode))) return NULL;
    inode->base.type = SQFS_INODE_FILE;
    sqfs_inode_set_frag_location(inode, 0xFFFFFFFF, 0xFFFFFFFF);
    return inode;
  }
  if (!(inode = calloc(1, sizeof *inode + n->target_len))) return NULL;
  switch (n->mode & S_IFMT) {
  case S_IFLNK:
    inode->base.type = SQFS_INODE_SLINK;
    inode->data.slink.nlink = n->nlink;
    inode->data.slink.target_size = (sqfs_u32)n->target_len;
    inode->payload_bytes_available = inode->payload_bytes_used = (sqfs_u32)n->target_len;
    memcpy(inode->extra, n->target, n->target_len);
    break;
  case S_IFCHR:
  case S_IFBLK:
    inode->base.type = S_ISCHR(n->mode) ? SQFS_INODE_CDEV : SQFS_INODE_BDEV;
    inode->data.dev.nlink = n->nlink;
    inode->data.dev.devno = n->devno;
    break;
  default:
    inode->base.type = S_ISFIFO(n->mode) ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET;
    inode->data.ipc.nlink = n->nlink;
    break;
  }
  return inode;
}

static int write_node(sqw_t *w, node_t *n, uint32_t inode_count, sqw_error_t *err) {
  sqfs_inode_generic_t *inode;
  sqfs_u32 xattr = NO_XATTR, offset;
  sqfs_u64 block;
  char path[128];
  const char *step;
  int ret = 0;

  if (n->nxattrs) {
    ret = sqfs_xattr_writer_begin(w->xwr, 0);
    for (size_t i = 0; !ret && i < n->nxattrs; i++)
      ret = sqfs_xattr_writer_add(w->xwr, n->xattrs[i].key, n->xattrs[i].value, n->xattrs[i].len);
    if (!ret) ret = sqfs_xattr_writer_end(w->xwr, &xattr);
    if (ret) {
      node_path(n, path, sizeof path);
      return fail(err, ret, 0, "recording the xattrs of %s", path);
    }
  }
  if (S_ISDIR(n->mode)) {
    if ((ret = write_dir_entries(w, n, err))) return ret;
    inode = sqfs_dir_writer_create_inode(w->dirwr, 2 + n->subdirs, xattr,
                                         n->parent ? n->parent->inode_num : inode_count + 1);
  } else {
    inode = make_inode(n);
  }
  if (!inode) return fail(err, SQFS_ERROR_ALLOC, 0, "allocating an inode");

  inode->base.mode = (sqfs_u16)n->mode;
  inode->base.mod_time = n->mtime;
  inode->base.inode_number = n->inode_num;
  step = "setting the xattr index";
  if (xattr != NO_XATTR && (ret = sqfs_inode_set_xattr_index(inode, xattr))) goto out;
  if (S_ISREG(n->mode) && n->nlink > 1) {
    step = "extending a hard-linked file inode";
    if ((ret = sqfs_inode_make_extended(inode))) goto out;
    inode->data.file_ext.nlink = n->nlink;
  }
  step = "mapping the owner to the id table";
  if ((ret = sqfs_id_table_id_to_index(w->ids, n->uid, &inode->base.uid_idx))) goto out;
  if ((ret = sqfs_id_table_id_to_index(w->ids, n->gid, &inode->base.gid_idx))) goto out;
  sqfs_meta_writer_get_position(w->im, &block, &offset);
  n->inode_ref = (block << 16) | offset;
  step = "writing the inode";
  ret = sqfs_meta_writer_write_inode(w->im, inode);
out:
  sqfs_free(inode);
  if (ret) {
    node_path(n, path, sizeof path);
    return fail(err, ret, errno, "%s of %s", step, path);
  }
  return 0;
}

static int pad_to_devblk(sqw_t *w) {
  static const sqfs_u8 zeros[SQFS_DEVBLK_SIZE];
  sqfs_u64 size = w->file->get_size(w->file);
  size_t rem = size % SQFS_DEVBLK_SIZE;
  return rem ? w->file->write_at(w->file, size, zeros, SQFS_DEVBLK_SIZE - rem) : 0;
}

static int write_tables(sqw_t *w, uint32_t inode_count, sqw_error_t *err) {
  node_t **by_ino = calloc((size_t)inode_count + 1, sizeof *by_ino);
  node_t *root = w->nodes[SQW_ROOT];
  int ret;

  if (!by_ino) return fail(err, SQFS_ERROR_ALLOC, 0, "allocating the inode order");
  for (size_t i = 0; i < w->nnodes; i++)
    if (!w->nodes[i]->link && w->nodes[i]->inode_num) by_ino[w->nodes[i]->inode_num] = w->nodes[i];
  w->super.inode_table_start = w->file->get_size(w->file);
  ret = 0;
  for (uint32_t i = 1; !ret && i <= inode_count; i++) ret = write_node(w, by_ino[i], inode_count, err);
  free(by_ino);
  if (ret) return ret;

  if ((ret = sqfs_meta_writer_flush(w->im))) return fail(err, ret, errno, "flushing the inode table");
  if ((ret = sqfs_meta_writer_flush(w->dm))) return fail(err, ret, errno, "flushing the directory table");
  w->super.root_inode_ref = root->inode_ref;
  w->super.inode_count = inode_count;
  w->super.directory_table_start = w->file->get_size(w->file);
  if ((ret = sqfs_meta_write_write_to_file(w->dm))) return fail(err, ret, errno, "writing the directory table");
  if ((ret = sqfs_frag_table_write(w->frag, w->file, &w->super, w->cmp)))
    return fail(err, ret, errno, "writing the fragment table");
  if (w->opt.export_table &&
      (ret = sqfs_dir_writer_write_export_table(w->dirwr, w->file, w->cmp, root->inode_num, root->inode_ref,
                                                &w->super)))
    return fail(err, ret, errno, "writing the export table");
  if ((ret = sqfs_id_table_write(w->ids, w->file, &w->super, w->cmp)))
    return fail(err, ret, errno, "writing the id table");
  if ((ret = sqfs_xattr_writer_flush(w->xwr, w->file, &w->super, w->cmp)))
    return fail(err, ret, errno, "writing the xattr tables");
  w->super.bytes_used = w->file->get_size(w->file);
  if ((ret = sqfs_super_write(&w->super, w->file))) return fail(err, ret, errno, "writing the super block");
  if ((ret = pad_to_devblk(w))) return fail(err, ret, errno, "padding the image to 4 KiB");
  return 0;
}

int sqw_finish(sqw_t *w, sqw_stats_t *stats, sqw_error_t *err) {
  uint32_t next = 0;
  char path[128];
  int ret;

  if ((ret = check_usable(w, err, "finishing the image"))) return ret;
  if (w->open_file) {
    node_path(w->open_file, path, sizeof path);
    return fail(err, SQFS_ERROR_SEQUENCE, 0, "finishing the image: the data of %s is not ended", path);
  }
  w->failed = true; /* until everything below succeeds */
  if ((ret = sqfs_block_processor_finish(w->proc))) return fail(err, ret, errno, "finishing the data blocks");
  const sqfs_block_processor_stats_t *ps = sqfs_block_processor_get_stats(w->proc);
  stats->input_bytes = ps->input_bytes_read;
  stats->data_blocks = ps->data_block_count;
  stats->frag_blocks = ps->frag_block_count;
  stats->sparse_blocks = ps->sparse_block_count;

  if ((ret = sort_dirs(w, err))) return ret;
  number_files(w->nodes[SQW_ROOT], &next);
  /* Unlinked files that other names still share, in id order (reproducible). */
  for (size_t i = 0; i < w->nnodes; i++) {
    node_t *n = w->nodes[i];
    if (n->detached && !n->link && !S_ISDIR(n->mode) && n->nlink > 0) n->inode_num = ++next;
  }
  number_dirs(w->nodes[SQW_ROOT], &next);
  if ((ret = write_tables(w, next, err))) return ret;

  stats->bytes_used = w->super.bytes_used;
  stats->file_size = w->file->get_size(w->file);
  stats->inodes = next;
  sqfs_destroy(w->file);
  w->file = NULL;
  w->failed = false;
  w->finished = true;
  return 0;
}
