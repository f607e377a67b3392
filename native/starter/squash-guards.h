/* The bounds checks around libsquashfuse (squash-guards.c): mostly link-time
   wrappers, and this, for blocks read outside squashfuse's own caches. */
#ifndef SIF_SQUASH_GUARDS_H
#define SIF_SQUASH_GUARDS_H

#include <squashfuse/squashfuse.h>

/* Zero-fills a data or fragment block shorter than the block size up to it, so a
   copy from within it stays inside; 0, or -1 without memory. */
int squash_block_pad(sqfs *fs, sqfs_block *block);

#endif
