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
 * and block_cache_release(), at the end of each request, lets them go. A block is
 * decompressed by one thread at a time: a request wanting a block that another
 * thread (a reader's request, or the stream read-ahead) is decompressing waits for
 * it rather than doing the same work on the other CPU.
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
  pthread_cond_t loaded;
  unsigned long tick;
  struct slot {
    sqfs_off_t pos;
    sqfs_block *block; /* NULL: free, or being decompressed */
    unsigned refs;
    unsigned long used;
    int loading; /* a thread is decompressing the block at pos into it */
  } slots[BLOCKS];
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .loaded = PTHREAD_COND_INITIALIZER};

/* This thread's request: the slots it holds a reference to, or blocks of its own. */
static __thread struct held {
  struct slot *slot;
  sqfs_block *own;
} held[HELD];
static __thread unsigned nheld;

static struct slot *find(sqfs_off_t pos) {
  for (unsigned i = 0; i < BLOCKS; i++)
    if ((cache.slots[i].block || cache.slots[i].loading) && cache.slots[i].pos == pos) return &cache.slots[i];
  return NULL;
}

/* The least recently used slot that no request holds, or NULL. */
static struct slot *victim(void) {
  struct slot *best = NULL;
  for (unsigned i = 0; i < BLOCKS; i++) {
    struct slot *s = &cache.slots[i];
    if (!s->block && !s->loading) return s;
    if (!s->refs && !s->loading && (!best || s->used < best->used)) best = s;
  }
  return best;
}

sqfs_err block_cache_get(sqfs *fs, sqfs_off_t pos, uint32_t hdr, sqfs_block **block) {
  if (nheld == HELD) return SQFS_ERR; /* not reached: see HELD */
  pthread_mutex_lock(&cache.lock);
  struct slot *s;
  while ((s = find(pos)) && s->loading) pthread_cond_wait(&cache.loaded, &cache.lock);
  if (s) {
    s->refs++;
    s->used = ++cache.tick;
    pthread_mutex_unlock(&cache.lock);
    held[nheld++] = (struct held){.slot = s};
    *block = s->block;
    return SQFS_OK;
  }
  /* Claimed before it is decompressed, so that others wait for it. */
  if ((s = victim())) {
    if (s->block) sqfs_block_dispose(s->block);
    *s = (struct slot){.pos = pos, .refs = 1, .used = ++cache.tick, .loading = 1};
  }
  pthread_mutex_unlock(&cache.lock);

  /* Decompressed without the lock: other threads go on meanwhile. */
  sqfs_block *fresh;
  sqfs_err err = sqfs_data_block_read(fs, pos, hdr, &fresh);
  if (!err && squash_block_pad(fs, fresh)) {
    sqfs_block_dispose(fresh);
    err = SQFS_ERR;
  }
  if (s) {
    pthread_mutex_lock(&cache.lock);
    /* On an error the slot is free again, and a waiter tries for itself. */
    *s = err ? (struct slot){0} : (struct slot){.pos = pos, .block = fresh, .refs = 1, .used = s->used};
    pthread_cond_broadcast(&cache.loaded);
    pthread_mutex_unlock(&cache.lock);
  }
  if (err) return err;
  held[nheld++] = s ? (struct held){.slot = s} : (struct held){.own = fresh};
  *block = fresh; /* with no slot free (every one in use): this request's own copy */
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
