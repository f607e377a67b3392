/*
 * See stream-ahead.h. A few files are followed at once, each by where its reader's
 * last request ended, and the part of it named so far. A request at or after the
 * chunk left out of the last window names the next one; one before it, inside the
 * part named, changes nothing (the read-ahead has not got there yet, or the
 * kernel's own read-ahead was under way). Past the part named, or with nothing
 * named, a request that follows the last one names a window; any other is a jump:
 * nothing is named until a request follows it.
 */
#include "stream-ahead.h"

#include <pthread.h>

#define FIRST_WINDOW (1u << 20)
#define WINDOW (16u << 20)
#define CHUNK (128u << 10) /* one squashfs block, commonly; the read-ahead's unit */
#define STREAMS 4

struct stream {
  uint64_t ino, used;
  uint64_t next;   /* where the reader's last request ended */
  uint64_t start;  /* where the part named starts */
  uint64_t named;  /* ... and where it ends; 0: nothing named */
  uint64_t marker; /* the chunk left out of the last window */
  uint64_t window;
};

static struct {
  pthread_mutex_t lock;
  stream_ahead_namer name;
  struct stream streams[STREAMS];
  uint64_t tick;
} s = {.lock = PTHREAD_MUTEX_INITIALIZER};

void stream_ahead_init(stream_ahead_namer name) {
  s.name = name;
}

/* With the lock held: ino's stream, or the least recently used one, emptied. */
static struct stream *stream_of(uint64_t ino) {
  struct stream *old = &s.streams[0];
  for (int i = 0; i < STREAMS; i++) {
    if (s.streams[i].used && s.streams[i].ino == ino) return &s.streams[i];
    if (s.streams[i].used < old->used) old = &s.streams[i];
  }
  *old = (struct stream){.ino = ino, .window = FIRST_WINDOW};
  return old;
}

/* With the lock held: names the window after from, but for the chunk in its middle. */
static void name_window(struct stream *t, uint64_t from) {
  uint64_t marker = (from + t->window / 2) / CHUNK * CHUNK, end = from + t->window;
  if (marker <= from) marker = from + CHUNK;
  if (s.name(t->ino, from, marker - from) || (end > marker + CHUNK && s.name(t->ino, marker + CHUNK, end - marker - CHUNK))) {
    t->named = 0; /* no read-ahead, or a file of unknown name: reads go on as before */
    return;
  }
  if (!t->named) t->start = from;
  t->named = end;
  t->marker = marker;
  if (t->window < WINDOW) t->window *= 2;
}

void stream_ahead_read(uint64_t ino, uint64_t off, uint64_t size) {
  if (!s.name || !size) return;
  pthread_mutex_lock(&s.lock);
  struct stream *t = stream_of(ino);
  int follows = t->used && off == t->next;
  uint64_t end = off + size;
  t->used = ++s.tick;
  if (t->named && off >= t->start && off < t->named) {
    if (off >= t->marker) name_window(t, t->named > end ? t->named : end);
  } else if (follows) {
    name_window(t, t->named > end ? t->named : end);
  } else {
    t->named = 0;
    t->window = FIRST_WINDOW;
  }
  t->next = off + size;
  pthread_mutex_unlock(&s.lock);
}
