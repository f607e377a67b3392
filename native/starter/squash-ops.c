#include "squash-ops.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <squashfuse/ll.h>
#include <zstd.h>

#include "block-cache.h"
#include "die.h"
#include "dir-ahead.h"
#include "known-names.h"
#include "squash-stateless.h"
#include "store-ahead.h"
#include "stream-ahead.h"

struct instance {
  sqfs_ll ll;
  struct instance *next_free;
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t freed;
  struct instance *free;
  unsigned made, max;
  int fd;
  size_t offset;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0, -1, 0};

/* Who the image's files appear to belong to (see squash_pool_init). */
static struct squash_owner owner;

/* The instance the current thread is serving a request with. */
static __thread struct instance *current;
/* The lookup it is answering, if any: its entry's name is noted (known-names.h). */
static __thread struct {
  fuse_ino_t parent;
  const char *name;
} looking_up;

/*
 * squashfuse caches 8 metadata blocks (inodes, directories), evicting them in turn,
 * and a start-up alone decompressed its 14 metadata blocks 34 times (measured): keep
 * 32 (256 KiB at most). Its 1 data and 3 fragment blocks stay: more of those made
 * start-up slower, their fresh memory costing more page faults than the
 * decompressions they saved.
 */
static sqfs_err md_cache_resize(sqfs *fs) {
  sqfs_cache_destroy(&fs->md_cache);
  return sqfs_block_cache_init(&fs->md_cache, 32);
}

/*
 * squashfuse decompresses zstd with ZSTD_decompress(), which makes, zeroes and frees
 * a decompression context (~100 KiB) for every block: a fifth of the time spent
 * decompressing at start-up (perf). Each thread keeps one context instead.
 */
static sqfs_err zstd_decompress(void *in, size_t insz, void *out, size_t *outsz) {
  static __thread ZSTD_DCtx *dctx;
  if (!dctx && !(dctx = ZSTD_createDCtx())) return SQFS_ERR;
  size_t n = ZSTD_decompressDCtx(dctx, out, *outsz, in, insz);
  if (ZSTD_isError(n)) return SQFS_ERR;
  *outsz = n;
  return SQFS_OK;
}

static struct instance *instance_new(void) {
  struct instance *in = calloc(1, sizeof *in);
  if (!in) return NULL;
  if (sqfs_init(&in->ll.fs, pool.fd, pool.offset) != SQFS_OK || md_cache_resize(&in->ll.fs) != SQFS_OK ||
      sqfs_ll_init(&in->ll) != SQFS_OK) {
    free(in);
    return NULL;
  }
  if (in->ll.fs.sb.compression == ZSTD_COMPRESSION) in->ll.fs.decompressor = zstd_decompress;
  return in;
}

void squash_pool_init(int image_fd, unsigned long long offset, unsigned max_instances, uid_t uid, gid_t gid) {
  owner.uid = uid;
  owner.gid = gid;
  pool.fd = image_fd;
  pool.offset = (size_t)offset;
  pool.max = max_instances ? max_instances : 1;
  /* The first instance is made now so a bad image fails before anything is mounted. */
  struct instance *in = instance_new();
  if (!in) die("the image's squashfs at offset %llu cannot be read (corrupt, or an unsupported compression)", offset);
  pool.free = in;
  pool.made = 1;
}

static struct instance *borrow(void) {
  pthread_mutex_lock(&pool.lock);
  while (!pool.free && pool.made >= pool.max) pthread_cond_wait(&pool.freed, &pool.lock);
  struct instance *in = pool.free;
  if (in) {
    pool.free = in->next_free;
  } else {
    pool.made++;
    pthread_mutex_unlock(&pool.lock);
    in = instance_new();
    if (!in) die("cannot read the image's squashfs");
    return in;
  }
  pthread_mutex_unlock(&pool.lock);
  return in;
}

static void give_back(struct instance *in) {
  pthread_mutex_lock(&pool.lock);
  in->next_free = pool.free;
  pool.free = in;
  pthread_cond_signal(&pool.freed);
  pthread_mutex_unlock(&pool.lock);
}

/* Linked with -Wl,--wrap=fuse_req_userdata: squashfuse's ops find their
   instance through this call, so they get the one this thread borrowed. */
void *__real_fuse_req_userdata(fuse_req_t req);
void *__wrap_fuse_req_userdata(fuse_req_t req) {
  return current ? &current->ll : __real_fuse_req_userdata(req);
}

/* Linked with --wrap too: every attribute squashfuse replies with says the file is
   the caller's, as Apptainer's unprivileged mode does (squashfuse_ll -o uid=,gid=).
   Owners from the image cannot be mapped in our user namespace anyway, and this
   lets the overlay copy files up and make mount points anywhere. */
int __real_fuse_reply_attr(fuse_req_t req, const struct stat *attr, double timeout);
int __wrap_fuse_reply_attr(fuse_req_t req, const struct stat *attr, double timeout) {
  struct stat st = *attr;
  st.st_uid = owner.uid;
  st.st_gid = owner.gid;
  return __real_fuse_reply_attr(req, &st, timeout);
}

int __real_fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e);
int __wrap_fuse_reply_entry(fuse_req_t req, const struct fuse_entry_param *e) {
  struct fuse_entry_param entry = *e;
  if (looking_up.name && e->ino) known_names_add(looking_up.parent, looking_up.name, strlen(looking_up.name), e->ino);
  entry.attr.st_uid = owner.uid;
  entry.attr.st_gid = owner.gid;
  return __real_fuse_reply_entry(req, &entry);
}

/* Linked with --wrap too: squashfuse gives directories no size, where the kernel's
   squashfs gives the size of their listing in the image, as ls and tree-walkers
   then show; do as the kernel does. */
sqfs_err __real_sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);
sqfs_err __wrap_sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st) {
  sqfs_err err = __real_sqfs_stat(fs, inode, st);
  if (!err && S_ISDIR(inode->base.mode)) st->st_size = inode->xtra.dir.dir_size;
  return err;
}

#define WITH_INSTANCE(call)        \
  do {                             \
    current = borrow();            \
    call;                          \
    block_cache_release();         \
    give_back(current);            \
    current = NULL;                \
  } while (0)

int squash_read_file(uint64_t ino, char *buf, uint64_t size) {
  int err = -1;
  WITH_INSTANCE({
    sqfs_inode inode;
    sqfs_off_t got = (sqfs_off_t)size;
    if (!sqfs_ll_inode(&current->ll, &inode, ino) && S_ISREG(inode.base.mode) &&
        !sqfs_read_range(&current->ll.fs, &inode, 0, &got, buf) && got == (sqfs_off_t)size)
      err = 0;
  });
  return err;
}

/* With an instance: squash_list_files_after's work. */
static int list_files_after(sqfs_ll *ll, uint64_t dir, const char *after, dir_ahead_each each, void *ctx) {
  sqfs *fs = &ll->fs;
  sqfs_inode inode, file;
  sqfs_dir listing;
  sqfs_name name;
  sqfs_dir_entry entry;
  sqfs_err status = SQFS_OK;
  bool found = false;
  sqfs_off_t off = 0;
  sqfs_dentry_init(&entry, name);
  if (sqfs_ll_inode(ll, &inode, dir) || !S_ISDIR(inode.base.mode)) return -1;
  /* The directory index leads to after's entry; the listing goes on from there. */
  if (*after && !sqfs_dir_lookup(fs, &inode, after, strlen(after), &entry, &found) && found)
    off = sqfs_dentry_next_offset(&entry);
  if (sqfs_dir_open(fs, &inode, &listing, off)) return -1;
  while (sqfs_dir_next(fs, &listing, &entry, &status)) {
    const char *n = sqfs_dentry_name(&entry);
    /* Not found (a name the image's listing never gives): skip up to it. */
    if (!found && *after && strcmp(n, after) <= 0) continue;
    if (S_ISLNK(sqfs_dentry_mode(&entry))) {
      if (each(ctx, n, sqfs_dentry_name_size(&entry), 0, 1)) break;
      continue;
    }
    if (!S_ISREG(sqfs_dentry_mode(&entry))) continue;
    if (sqfs_inode_get(fs, &file, sqfs_dentry_inode(&entry))) break;
    if (each(ctx, n, sqfs_dentry_name_size(&entry), (uint64_t)file.xtra.reg.file_size, 0)) break;
  }
  return 0;
}

int squash_list_files_after(uint64_t dir, const char *after, dir_ahead_each each, void *ctx) {
  int err;
  WITH_INSTANCE(err = list_files_after(&current->ll, dir, after, each, ctx));
  return err;
}

/* Set at init: the kernel takes ENOSYS from open and opendir as "never ask again". */
static int no_open, no_opendir;

static void op_getattr(fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi) { WITH_INSTANCE(sqfs_ll_op_getattr(r, i, fi)); }
static void op_lookup(fuse_req_t r, fuse_ino_t p, const char *n) {
  looking_up.parent = p;
  looking_up.name = n;
  WITH_INSTANCE(sqfs_ll_op_lookup(r, p, n));
  looking_up.name = NULL;
}
static void op_create(fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi) { WITH_INSTANCE(sqfs_ll_op_create(r, p, n, m, fi)); }
static void op_read(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi) {
  /* Where a reader is, not the read-ahead process (dir-ahead.h). */
  int reader = !dir_ahead_is_process(fuse_req_ctx(r)->pid);
  if (reader) store_ahead_read(i, (uint64_t)o);
  WITH_INSTANCE(squash_read(r, &current->ll, i, s, o));
  /* After the reply: the reader need not wait for the read-ahead's listing. */
  if (reader) dir_ahead_read(i, (uint64_t)o);
  if (reader) stream_ahead_read(i, (uint64_t)o, s);
}
static void op_readdir(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi) { WITH_INSTANCE(squash_readdir(r, &current->ll, i, s, o, NULL)); }
static void op_readdirplus(fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi) { WITH_INSTANCE(squash_readdir(r, &current->ll, i, s, o, &owner)); }
static void op_readlink(fuse_req_t r, fuse_ino_t i) { WITH_INSTANCE(sqfs_ll_op_readlink(r, i)); }
static void op_listxattr(fuse_req_t r, fuse_ino_t i, size_t s) { WITH_INSTANCE(sqfs_ll_op_listxattr(r, i, s)); }
static void op_getxattr(fuse_req_t r, fuse_ino_t i, const char *n, size_t s) { WITH_INSTANCE(sqfs_ll_op_getxattr(r, i, n, s)); }
static void op_forget(fuse_req_t r, fuse_ino_t i, unsigned long n) { WITH_INSTANCE(sqfs_ll_op_forget(r, i, n)); }
static void op_statfs(fuse_req_t r, fuse_ino_t i) { WITH_INSTANCE(stfs_ll_op_statfs(r, i)); }

/* Reads and listings need no handle (squash-stateless.c). Where the kernel cannot do
   without open (before Linux 4.19 for files, 5.1 for directories), an open with no
   handle, with the caching the kernel would otherwise default to. The mount is
   read-only, so the VFS refuses opens for writing before they get here. */
static void op_open(fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi) {
  if (no_open) {
    fuse_reply_err(r, ENOSYS);
    return;
  }
  fi->fh = 0;
  fi->keep_cache = 1;
  fuse_reply_open(r, fi);
}

static void op_opendir(fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi) {
  if (no_opendir) {
    fuse_reply_err(r, ENOSYS);
    return;
  }
  fi->fh = 0;
  fi->keep_cache = 1;
  fi->cache_readdir = 1;
  fuse_reply_open(r, fi);
}

static void op_init(void *userdata, struct fuse_conn_info *conn) {
  (void)userdata;
  /* Read-only image: let the kernel cache pages and names freely, and symlink
     targets (each readlink would otherwise be a round trip to us). */
  conn->want |= FUSE_CAP_ASYNC_READ;
  if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) conn->want |= FUSE_CAP_CACHE_SYMLINKS;
  if (conn->capable & FUSE_CAP_SPLICE_WRITE) conn->want |= FUSE_CAP_SPLICE_WRITE;
  no_open = !!(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
  no_opendir = !!(conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
  if (no_open) conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
  if (no_opendir) conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
  /* READDIRPLUS (libfuse asks for it since we serve it): a listing also gives each
     entry's attributes, so what is listed is not looked up one by one (a Python
     path entry is listed, then its modules looked up). Always, not in the kernel's
     auto mode (plus only for a listing's start, or after lookups followed one):
     auto measured no better than plain listings, always up to a third faster. */
  conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
}

static const struct fuse_lowlevel_ops ops = {
    .init = op_init,
    .getattr = op_getattr,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .readdirplus = op_readdirplus,
    .lookup = op_lookup,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .readlink = op_readlink,
    .listxattr = op_listxattr,
    .getxattr = op_getxattr,
    .forget = op_forget,
    .statfs = op_statfs,
};

const struct fuse_lowlevel_ops *squash_ops(size_t *size) {
  *size = sizeof ops;
  return &ops;
}
