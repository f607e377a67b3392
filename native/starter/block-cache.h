/* Decompressed data and fragment blocks shared by the pool's squashfuse instances
   (block-cache.c). */
#ifndef SIF_BLOCK_CACHE_H
#define SIF_BLOCK_CACHE_H

#include <squashfuse/squashfuse.h>

/* The block at pos (header hdr) for this thread's request, valid until
   block_cache_release(); what sqfs_data_cache gives, without its instance's cache. */
sqfs_err block_cache_get(sqfs *fs, sqfs_off_t pos, uint32_t hdr, sqfs_block **block);
/* Ends this thread's request: the blocks it was given may go. */
void block_cache_release(void);

#endif
