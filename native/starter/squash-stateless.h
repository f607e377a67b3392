/* Read and readdir by inode number, for a mount whose files the kernel never opens
   (squash-stateless.c). Each takes the squashfuse instance the request borrowed. */
#ifndef SIF_SQUASH_STATELESS_H
#define SIF_SQUASH_STATELESS_H

#include <squashfuse/ll.h> /* (which includes fuse_lowlevel.h, at its FUSE_USE_VERSION) */

void squash_read(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off);
void squash_readdir(fuse_req_t req, sqfs_ll *ll, fuse_ino_t ino, size_t size, off_t off);

#endif
