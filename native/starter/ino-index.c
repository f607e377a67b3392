/* See ino-index.h. */
#include "ino-index.h"

#include <stdlib.h>
#include <string.h>

static uint32_t slot_of(const struct ino_index *x, uint64_t ino) {
  return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 32) & (x->slots - 1);
}

long ino_index_find(const struct ino_index *x, uint64_t ino) {
  if (!x->slots) return -1;
  for (uint32_t i = slot_of(x, ino);; i = (i + 1) & (x->slots - 1)) {
    if (!x->slot[i]) return -1;
    if (x->ino_at(x->slot[i] - 1) == ino) return x->slot[i] - 1;
  }
}

void ino_index_put(struct ino_index *x, uint32_t pos) {
  uint32_t i = slot_of(x, x->ino_at(pos));
  while (x->slot[i]) i = (i + 1) & (x->slots - 1);
  x->slot[i] = pos + 1;
}

void *ino_index_room(struct ino_index *x, void *entries, uint32_t *cap, size_t size, uint32_t count) {
  /* The index first: should the array then fail to grow, the caller's stays valid. */
  if (2 * ((uint64_t)count + 1) > x->slots) {
    uint32_t slots = x->slots ? x->slots * 2 : 2048;
    uint32_t *slot = calloc(slots, sizeof *slot);
    if (!slot) return NULL;
    free(x->slot);
    x->slot = slot;
    x->slots = slots;
    for (uint32_t p = 0; p < count; p++) ino_index_put(x, p);
  }
  if (count < *cap) return entries;
  uint32_t more = *cap ? *cap * 2 : 1024;
  void *grown = realloc(entries, (size_t)more * size);
  if (grown) *cap = more;
  return grown;
}

void ino_index_clear(struct ino_index *x) {
  if (x->slot) memset(x->slot, 0, x->slots * sizeof *x->slot);
}
