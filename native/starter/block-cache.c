/*
 * Decompressed data and fragment blocks, shared by every squashfuse instance of the
 * pool. Each instance had its own (1 data block, 3 fragment blocks), and a single
 * reader is served by two threads as soon as the kernel reads ahead while a read is
 * answered: its requests then alternate between two instances, each decompressing
 * the same fragment blocks. A tar of the python image's /usr decompressed 404 MB
 * for the 161 MB it read (measured). Here a block is decompressed once, and kept
 * while in use or among the BLOCKS most recently used.
 *
 * squashfuse uses the block it is given until its request ends, so a request holds
 * a reference to each block it was given (HELD at most, else it gets its own copy),
 * and block_cache_release(), at the end of each request, lets them go.
 */
#include "block-cache.h"

#include <pthread.h>
#include <stdint.h>

#include "squash-guards.h"

/* 16 blocks: 2 MiB at the usual 128 KiB block size, against the 1 MiB the old
   per-instance caches could take each. */
#define BLOCKS 16
/* Blocks one request can be given: a read of up to 1 MiB spans 9 data blocks and a
   fragment; past that, uncached copies. */
#define HELD 16

static struct {
  pthread_mutex_t lock;
  unsigned long tick;
  struct slot {
    sqfs_off_t pos;
    sqfs_block *block; /* NULL: free */
    unsigned refs;
    unsigned long used;
  } slots[BLOCKS];
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* This thread's request: the slots it holds a reference to, or blocks of its own. */
static __thread struct held {
  struct slot *slot;
  sqfs_block *own;
} held[HELD];
static __thread unsigned nheld;

static struct slot *find(sqfs_off_t pos) {
  for (unsigned i = 0; i < BLOCKS; i++)
    if (cache.slots[i].block && cache.slots[i].pos == pos) return &cache.slots[i];
  return NULL;
}

/* The least recently used slot that no request holds, or NULL. */
static struct slot *victim(void) {
  struct slot *best = NULL;
  for (unsigned i = 0; i < BLOCKS; i++) {
    struct slot *s = &cache.slots[i];
    if (!s->block) return s;
    if (!s->refs && (!best || s->used < best->used)) best = s;
  }
  return best;
}

sqfs_err block_cache_get(sqfs *fs, sqfs_off_t pos, uint32_t hdr, sqfs_block **block) {
  if (nheld == HELD) return SQFS_ERR; /* not reached: see HELD */
  pthread_mutex_lock(&cache.lock);
  struct slot *s = find(pos);
  if (s) {
    s->refs++;
    s->used = ++cache.tick;
    pthread_mutex_unlock(&cache.lock);
    held[nheld++] = (struct held){.slot = s};
    *block = s->block;
    return SQFS_OK;
  }
  pthread_mutex_unlock(&cache.lock);

  /* Decompressed without the lock: other threads go on meanwhile. */
  sqfs_block *fresh;
  sqfs_err err = sqfs_data_block_read(fs, pos, hdr, &fresh);
  if (err) return err;
  if (squash_block_pad(fs, fresh)) {
    sqfs_block_dispose(fresh);
    return SQFS_ERR;
  }
  pthread_mutex_lock(&cache.lock);
  /* Another thread may have read the same block meanwhile: one copy is kept. */
  if (!(s = find(pos)) && (s = victim())) {
    if (s->block) sqfs_block_dispose(s->block);
    s->pos = pos;
    s->block = fresh;
    s->refs = 0;
    fresh = NULL;
  }
  if (s) {
    s->refs++;
    s->used = ++cache.tick;
    *block = s->block;
  }
  pthread_mutex_unlock(&cache.lock);
  if (fresh && s) sqfs_block_dispose(fresh);
  held[nheld++] = s ? (struct held){.slot = s} : (struct held){.own = fresh};
  if (!s) *block = fresh; /* every slot in use: this request's own copy */
  return SQFS_OK;
}

void block_cache_release(void) {
  if (!nheld) return;
  pthread_mutex_lock(&cache.lock);
  for (unsigned i = 0; i < nheld; i++)
    if (held[i].slot) held[i].slot->refs--;
  pthread_mutex_unlock(&cache.lock);
  for (unsigned i = 0; i < nheld; i++)
    if (held[i].own) sqfs_block_dispose(held[i].own);
  nheld = 0;
}
