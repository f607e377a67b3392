/*
 * FUSE low-level operations served from a squashfs image by libsquashfuse_ll.
 * That library keeps caches that are not thread-safe, so each request borrows a
 * whole squashfuse instance from a pool (one per concurrently busy thread, all
 * sharing the image fd): the FUSE loop can then run on many threads at once.
 */
#ifndef SIF_SQUASH_OPS_H
#define SIF_SQUASH_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dir-ahead.h"

struct fuse_lowlevel_ops;

/* Checks the image (fd, squashfs at offset) and prepares the pool; dies on error.
   Every file is presented as owned by uid:gid. */
void squash_pool_init(int image_fd, unsigned long long offset, unsigned max_instances, uid_t uid, gid_t gid);
/* The operations table to give to fuse_session_new. */
const struct fuse_lowlevel_ops *squash_ops(size_t *size);
/* The first size bytes of regular file ino, outside any request (store-ahead.c);
   0, or -1 when they cannot be read. */
int squash_read_file(uint64_t ino, char *buf, uint64_t size);
/* Lists a directory's regular files and symlinks for the read-ahead (dir-ahead.h's lister). */
int squash_list_files_after(uint64_t dir, const char *after, dir_ahead_each each, void *ctx);

#endif
