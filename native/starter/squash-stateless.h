/* Read and readdir by inode number, for a mount whose files the kernel never opens
   (squash-stateless.c). Each takes the squashfuse instance the request borrowed. */
#ifndef SIF_SQUASH_STATELESS_H
#define SIF_SQUASH_STATELESS_H

#include <squashfuse/ll.h> /* (which includes fuse_lowlevel.h, at its FUSE_USE_VERSION) */

/* Who every file is shown as belonging to. */
struct squash_owner {
  uid_t uid;
  gid_t gid;
};

void squash_read(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off);
/* plus: READDIRPLUS, entries with their attributes (owned by plus's ids); NULL: plain. */
void squash_readdir(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off, const struct squash_owner *plus);

#endif
