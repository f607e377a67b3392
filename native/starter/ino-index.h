/*
 * Positions in an array of entries, found by inode number: open addressing over
 * 32-bit positions (4 bytes a slot, at most half of them used), the inode numbers
 * staying in the caller's entries, whose array it grows along with itself. Shared by the names the kernel was given
 * (known-names.c) and the listing order (store-ahead.c). Not thread-safe: callers
 * hold their own lock.
 */
#ifndef SIF_INO_INDEX_H
#define SIF_INO_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* The inode number of the caller's entry at pos. */
typedef uint64_t (*ino_at_fn)(uint32_t pos);

struct ino_index {
  uint32_t *slot; /* position + 1; 0 free */
  uint32_t slots; /* a power of two, at least twice the entries */
  ino_at_fn ino_at;
};

/* Position of ino, or -1. */
long ino_index_find(const struct ino_index *x, uint64_t ino);
/* Notes that the entry at pos (whose inode ino_at gives) is there. */
void ino_index_put(struct ino_index *x, uint32_t pos);
/* Room for entry number count: in the index (whose entries are put again when it
   grows) and in the caller's array, entries (*cap of size bytes; doubled, from 1024,
   when full). Returns the array, moved or not, or NULL when memory is short (the
   array then unchanged). */
void *ino_index_room(struct ino_index *x, void *entries, uint32_t *cap, size_t size, uint32_t count);
/* Forgets every entry. */
void ino_index_clear(struct ino_index *x);

#endif
