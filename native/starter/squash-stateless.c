/*
 * Reads and directory listings answered from the inode number alone, with no open
 * handle. The image cannot change, so the kernel need not ask us to open or close
 * anything: open and opendir are answered ENOSYS (the kernel then stops sending
 * them, and their release and flush, for the life of the mount; see op_init in
 * squash-ops.c), and the kernel's defaults for such files are the ones we want:
 * pages kept across opens and directory listings cached. That leaves a read of a
 * file already in the page cache, or a listing already made, with no request.
 * squashfuse's own read and readdir take their inode from the handle its open made;
 * these find it from the number, as getattr does (on 64-bit, the number is where
 * the inode lies: one decode from a cached metadata block).
 */
#include "squash-stateless.h"
#include "known-names.h"
#include "store-ahead.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

/* libsquashfuse's, not in its installed headers. */
sqfs_err sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);

void squash_read(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off) {
  sqfs_inode inode;
  if (sqfs_ll_inode(ll, &inode, ino)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (!S_ISREG(inode.base.mode)) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  char *buf = malloc(size);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  sqfs_off_t got = (sqfs_off_t)size;
  if (sqfs_read_range(&ll->fs, &inode, off, &got, buf))
    fuse_reply_err(req, EIO);
  else
    fuse_reply_buf(req, buf, (size_t)got);
  free(buf);
}

/* One entry of a listing into buf; with plus (READDIRPLUS), its attributes too, so
   the kernel need not look it up. Returns the space it takes (more than room: no
   room; 0: the inode could not be read). */
static size_t add_entry(fuse_req_t req, sqfs_ll *ll, fuse_ino_t parent, sqfs_dir_entry *entry,
                        const struct squash_owner *plus, char *buf, size_t room) {
  const char *name = sqfs_dentry_name(entry);
  off_t next = (off_t)sqfs_dentry_next_offset(entry);
  if (!plus) {
    struct stat st = {.st_ino = ll->ino_fuse_num(ll, entry), .st_mode = sqfs_dentry_mode(entry)};
    return fuse_add_direntry(req, buf, room, name, &st, next);
  }
  struct fuse_entry_param e;
  sqfs_inode inode;
  memset(&e, 0, sizeof e);
  if (sqfs_inode_get(&ll->fs, &inode, sqfs_dentry_inode(entry)) || sqfs_stat(&ll->fs, &inode, &e.attr)) return 0;
  e.ino = ll->ino_register(ll, entry);
  e.attr.st_ino = e.ino;
  e.attr.st_uid = plus->uid;
  e.attr.st_gid = plus->gid;
  /* As squashfuse's lookup: the image never changes, so neither does the entry. */
  e.attr_timeout = e.entry_timeout = DBL_MAX;
  size_t n = fuse_add_direntry_plus(req, buf, room, name, &e, next);
  if (n <= room) {
    known_names_add(parent, name, sqfs_dentry_name_size(entry), e.ino);
    store_ahead_listed(e.ino, (uint64_t)e.attr.st_size, S_ISREG(e.attr.st_mode), S_ISLNK(e.attr.st_mode));
  }
  return n;
}

void squash_readdir(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off, const struct squash_owner *plus) {
  sqfs_inode inode;
  sqfs_dir dir;
  sqfs_name name;
  sqfs_dir_entry entry;
  sqfs_err err = SQFS_OK;
  if (sqfs_ll_inode(ll, &inode, ino)) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  if (!S_ISDIR(inode.base.mode)) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  if (sqfs_dir_open(&ll->fs, &inode, &dir, off)) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  char *buf = malloc(size);
  if (!buf) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t used = 0;
  sqfs_dentry_init(&entry, name);
  while (sqfs_dir_next(&ll->fs, &dir, &entry, &err)) {
    size_t n = add_entry(req, ll, ino, &entry, plus, buf + used, size - used);
    if (!n) err = SQFS_ERR;
    /* Full: the kernel asks again from this entry's offset. */
    if (!n || n > size - used) break;
    used += n;
  }
  if (err)
    fuse_reply_err(req, EIO);
  else
    fuse_reply_buf(req, buf, used);
  free(buf);
}
