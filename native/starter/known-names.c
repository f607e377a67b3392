/* See known-names.h. An open-addressing index on the inode number over an array of
   entries, their names in one growing arena: 24 bytes and the name per inode. */
#include "known-names.h"

#include <linux/fuse.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARENA (64u << 20)
#define MAX_DEPTH 256

struct known {
  uint64_t ino, parent;
  uint32_t name, len; /* offset into the arena, length */
};

static struct {
  pthread_mutex_t lock;
  struct known *all;
  uint32_t count, cap;
  uint32_t *index; /* position + 1; 0 free */
  uint32_t slots;  /* a power of two, at least twice count */
  char *arena;
  uint32_t used, room;
} k = {.lock = PTHREAD_MUTEX_INITIALIZER};
static int started;

void known_names_start(void) {
  started = 1;
}

static uint32_t slot_of(uint64_t ino) {
  return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 32) & (k.slots - 1);
}

/* With the lock held. */
static struct known *find(uint64_t ino) {
  if (!k.slots) return NULL;
  for (uint32_t i = slot_of(ino);; i = (i + 1) & (k.slots - 1)) {
    if (!k.index[i]) return NULL;
    if (k.all[k.index[i] - 1].ino == ino) return &k.all[k.index[i] - 1];
  }
}

static void put(uint32_t pos) {
  uint32_t i = slot_of(k.all[pos].ino);
  while (k.index[i]) i = (i + 1) & (k.slots - 1);
  k.index[i] = pos + 1;
}

/* Room for one more entry and len bytes of name; 0 when there is none. */
static int grow(size_t len) {
  if (k.count == KNOWN_NAMES_MAX || k.used + len > MAX_ARENA) return 0;
  if (k.count == k.cap) {
    uint32_t cap = k.cap ? k.cap * 2 : 1024;
    struct known *all = realloc(k.all, cap * sizeof *all);
    if (!all) return 0;
    k.all = all;
    k.cap = cap;
  }
  if (k.used + len > k.room) {
    uint32_t room = k.room ? k.room : 64 << 10;
    while (k.used + len > room) room *= 2;
    char *arena = realloc(k.arena, room);
    if (!arena) return 0;
    k.arena = arena;
    k.room = room;
  }
  if (2 * (k.count + 1) > k.slots) {
    uint32_t slots = k.slots ? k.slots * 2 : 2048;
    uint32_t *index = calloc(slots, sizeof *index);
    if (!index) return 0;
    free(k.index);
    k.index = index;
    k.slots = slots;
    for (uint32_t p = 0; p < k.count; p++) put(p);
  }
  return 1;
}

int known_name_ok(const char *name, size_t len) {
  return len && len < KNOWN_NAME_SIZE && !memchr(name, '/', len) && !memchr(name, 0, len) &&
         !(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')));
}

void known_names_add(uint64_t parent, const char *name, size_t len, uint64_t ino) {
  if (!started || !known_name_ok(name, len)) return;
  pthread_mutex_lock(&k.lock);
  /* A hard link keeps the name it was first seen by: either leads to it. */
  if (!find(ino) && grow(len)) {
    memcpy(k.arena + k.used, name, len);
    k.all[k.count] = (struct known){.ino = ino, .parent = parent, .name = k.used, .len = (uint32_t)len};
    k.used += (uint32_t)len;
    put(k.count++);
  }
  pthread_mutex_unlock(&k.lock);
}

int known_names_get(uint64_t ino, uint64_t *parent, char *name) {
  pthread_mutex_lock(&k.lock);
  struct known *e = find(ino);
  if (e) {
    *parent = e->parent;
    memcpy(name, k.arena + e->name, e->len);
    name[e->len] = 0;
  }
  pthread_mutex_unlock(&k.lock);
  return e ? 0 : -1;
}

int known_names_path(uint64_t ino, char *path, size_t size) {
  /* Built from the end: the components are found leaf first. */
  size_t at = size;
  int depth = 0, err = 0;
  if (!size) return -1;
  path[--at] = 0;
  pthread_mutex_lock(&k.lock);
  while (ino != FUSE_ROOT_ID) {
    struct known *e = find(ino);
    if (!e || ++depth > MAX_DEPTH || e->len + (at < size - 1) > at) {
      err = -1;
      break;
    }
    if (at < size - 1) path[--at] = '/';
    at -= e->len;
    memcpy(path + at, k.arena + e->name, e->len);
    ino = e->parent;
  }
  pthread_mutex_unlock(&k.lock);
  if (!err) memmove(path, path + at, size - at);
  return err;
}
