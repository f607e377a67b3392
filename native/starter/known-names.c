/* See known-names.h. An array of entries, indexed by inode number (ino-index.c), their
   names in one growing arena: 24 bytes, 8 of index and the name per inode. */
#include "known-names.h"
#include "ino-index.h"

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

static uint64_t ino_at(uint32_t pos);

static struct {
  pthread_mutex_t lock;
  struct known *all;
  uint32_t count, cap;
  struct ino_index index;
  char *arena;
  uint32_t used, room;
} k = {.lock = PTHREAD_MUTEX_INITIALIZER, .index = {.ino_at = ino_at}};
static int started;

void known_names_start(void) {
  started = 1;
}

static uint64_t ino_at(uint32_t pos) {
  return k.all[pos].ino;
}

/* With the lock held. */
static struct known *find(uint64_t ino) {
  long pos = ino_index_find(&k.index, ino);
  return pos < 0 ? NULL : &k.all[pos];
}

/* Room for one more entry and len bytes of name; 0 when there is none. */
static int grow(size_t len) {
  if (k.count == KNOWN_NAMES_MAX || k.used + len > MAX_ARENA) return 0;
  struct known *all = ino_index_room(&k.index, k.all, &k.cap, sizeof *k.all, k.count);
  if (!all) return 0;
  k.all = all;
  if (k.used + len > k.room) {
    uint32_t room = k.room ? k.room : 64 << 10;
    while (k.used + len > room) room *= 2;
    char *arena = realloc(k.arena, room);
    if (!arena) return 0;
    k.arena = arena;
    k.room = room;
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
    ino_index_put(&k.index, k.count++);
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
