/*
 * compressor-guard: a compressor that never returns a "compressed" block at least
 * as large as its input (0 tells libsquashfs to store the block uncompressed).
 * libsquashfs 1.2's LZ4 backend returns such blocks (4 bytes of id table become 5),
 * and unsquashfs refuses a compressed block larger than its uncompressed size.
 */
#ifndef SQW_COMPRESSOR_GUARD_H
#define SQW_COMPRESSOR_GUARD_H

#include <sqfs/compressor.h>
#include <sqfs/predef.h>

/* Takes ownership of `inner`, unless it returns NULL (out of memory). Copies made
   by sqfs_copy (one per block processor worker) are guarded too. */
sqfs_compressor_t *sqw_guard_compressor(sqfs_compressor_t *inner);

#endif
