/*
 * See store-ahead.h. Why: a reader that walks a tree (tar, rsync, a checksum run)
 * reads each small file in one request, and every request is a round trip to this
 * server: the reader sleeps while one thread is woken, decompresses and replies.
 * The kernel's own squashfs pays no round trip, and its read-ahead never crosses a
 * file. Here, once a reader is seen taking the files of a listing in order, one
 * thread takes the next ones in turn, and, by default, names each to the read-ahead
 * process (dir-ahead.h), which has the kernel read it: the reads come back here as
 * requests, served on another CPU while the reader works, and the reader finds the
 * files in the page cache. With --store-ahead, that thread decompresses them itself
 * and pushes them into the page cache (FUSE_NOTIFY_STORE): no request at all, which
 * is faster (tar of /usr: 1.00 of the kernel's time against 1.06, same run) but
 * not safe from SIGKILL, as below.
 *
 * The order is the listing's: READDIRPLUS entries, as they were sent (the kernel
 * holds an inode for each of them, which a store needs); when naming, symlinks too
 * (their targets are read ahead), though a reader's reads never show them. The
 * reader's position is only visible when it asks for something, so one file in
 * the middle of each window is left unstored: the reader's miss there says it has
 * come halfway, and the next window is stored while it reads the second half.
 * Files over 1 MiB are not stored (each would need a buffer as large); they are
 * named up to 16 MiB.
 *
 * Naming never waits on the mount (a pipe, non-blocking). Stores happen with no
 * squashfuse instance and no block held: a store waits for the page locks of reads
 * the kernel has in flight, and those wait for the workers.
 * That wait cannot be interrupted, so the server stops storing before it exits
 * (store_ahead_stop), and on an error or a crash aborts the connection, which ends
 * any such read (fuse-abort.c). Killed outright (SIGKILL) while a store waits on a
 * read that no worker is left to answer, the storing thread could never exit: hence
 * opt-in (--store-ahead), off by default.
 */
#define FUSE_USE_VERSION 312
#include "store-ahead.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <fuse3/fuse_lowlevel.h>

#include "dir-ahead.h"
#include "fuse-abort.h"
#include "ino-index.h"

/* Bytes stored ahead of the reader: the first window, doubled each time the reader
   is seen going on in order, up to the last; halved when it jumps. */
#define FIRST_WINDOW (2u << 20)
#define WINDOW (64u << 20)
#define BIG (1u << 20)          /* larger files are not stored (a buffer each) */
#define MAX_ENTRIES (1u << 20)  /* entries remembered (16 MiB and a 4-8 MiB index at most) */
#define MAX_SCAN 4096           /* entries a window spans at most (each read that extends one scans it) */

struct entry {
  uint64_t ino;
  uint64_t size : 62, stored : 1, link : 1;
};

static uint64_t ino_at(uint32_t pos);

static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake, idle;
  struct fuse_session *se;
  store_ahead_reader read_file;
  store_ahead_namer name_file;
  struct entry *order; /* regular files (and symlinks, when naming), in listing order */
  uint32_t count, cap;
  struct ino_index index; /* positions in order, by inode number */
  long last;       /* position of the file last read from its start; -1: none yet */
  uint32_t ahead;  /* the storer's next position */
  uint32_t want;   /* store up to this position */
  uint32_t marker; /* left unstored (see above); 0: none */
  uint32_t window; /* bytes */
  int started, stopped, storing;
} s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, .last = -1, .window = FIRST_WINDOW,
       .index = {.ino_at = ino_at}};

void store_ahead_init(struct fuse_session *se, store_ahead_reader read_file, store_ahead_namer name_file) {
  s.se = se;
  s.read_file = read_file;
  s.name_file = name_file;
}

static uint64_t ino_at(uint32_t pos) {
  return s.order[pos].ino;
}

/* Position of ino in order, or -1. With the lock held. */
static long find(uint64_t ino) {
  return ino_index_find(&s.index, ino);
}

/* Room for one more entry; 0 when there is none (memory, or MAX_ENTRIES). */
static int grow(void) {
  if (s.count == MAX_ENTRIES) return 0;
  struct entry *order = ino_index_room(&s.index, s.order, &s.cap, sizeof *s.order, s.count);
  if (!order) return 0;
  s.order = order;
  return 1;
}

/* With the lock held: full, so the order starts over with what is listed next (a
   walk of more files than it holds goes on being served). */
static void forget_order(void) {
  s.count = 0;
  ino_index_clear(&s.index);
  s.last = -1;
  s.ahead = s.want = s.marker = 0;
  s.window = FIRST_WINDOW;
}

void store_ahead_listed(uint64_t ino, uint64_t size, int regular, int link) {
  /* Symlinks only to be named (their targets read ahead), never stored. */
  if (!(regular || (link && !s.read_file)) || !s.se) return;
  pthread_mutex_lock(&s.lock);
  if (s.count == MAX_ENTRIES && find(ino) < 0) forget_order();
  if (!s.stopped && find(ino) < 0 && grow()) {
    s.order[s.count] = (struct entry){.ino = ino, .size = size, .link = !regular};
    ino_index_put(&s.index, s.count++);
  }
  pthread_mutex_unlock(&s.lock);
}

static int worth_storing(const struct entry *e) {
  return e->size && e->size <= (s.read_file ? BIG : DIR_AHEAD_WHOLE_MAX) && !e->stored;
}

/* A file the reader will ask for, if it is not stored: one a window may end at,
   or leave out as its marker (a symlink's target is asked for with no read). */
static int is_read(const struct entry *e) {
  return !e->link && worth_storing(e);
}

/* With the lock held: the first position from pos holding a regular file (the
   reader's reads show nothing of the symlinks between), MAX_SCAN further at most. */
static long regular_from(long pos) {
  long end = pos + MAX_SCAN;
  while (pos < (long)s.count && pos < end && s.order[pos].link) pos++;
  return pos;
}

/* Pushes one file into the page cache (or names it); 0, or -1 when storing can no
   longer work. */
static int store(const struct entry *e, char *buf) {
  if (!s.read_file) {
    s.name_file(e->ino);
    return 0;
  }
  if (s.read_file(e->ino, buf, e->size)) return 0; /* the reader's own request will say why */
  struct fuse_bufvec data = FUSE_BUFVEC_INIT(e->size);
  data.buf[0].mem = buf;
  /* Written, not spliced: one copy either way, and no pipe (measured the same). */
  int err = fuse_lowlevel_notify_store(s.se, e->ino, 0, &data, FUSE_BUF_NO_SPLICE);
  /* ENOENT: the kernel has let the inode go since it was listed; ENOMEM: no page
     for it now. Anything else (the connection gone, say) ends storing. */
  return err && err != -ENOENT && err != -ENOMEM ? -1 : 0;
}

static void *storer(void *unused) {
  (void)unused;
  char *buf = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  pthread_mutex_lock(&s.lock);
  if (buf == MAP_FAILED) s.stopped = 1;
  while (!s.stopped) {
    if (s.ahead >= s.want) {
      pthread_cond_wait(&s.wake, &s.lock);
      continue;
    }
    uint32_t pos = s.ahead++;
    struct entry e = s.order[pos];
    /* Passed already (the reader asked for it itself), or the marker. */
    if ((long)pos <= s.last || pos == s.marker || !worth_storing(&e)) continue;
    s.storing = 1;
    pthread_mutex_unlock(&s.lock);
    int err = store(&e, buf);
    pthread_mutex_lock(&s.lock);
    /* Not stored twice, should the reader jump back over it (unless the order
       started over meanwhile). */
    if (!err && pos < s.count && s.order[pos].ino == e.ino) s.order[pos].stored = 1;
    s.storing = 0;
    pthread_cond_broadcast(&s.idle);
    if (err) s.stopped = 1;
  }
  pthread_mutex_unlock(&s.lock);
  if (buf != MAP_FAILED) munmap(buf, BIG);
  return NULL;
}

/* With the lock held: the reader is at pos and going on in order; store the window
   after it. */
static void extend(uint32_t pos) {
  uint64_t bytes = 0;
  uint32_t end = pos + 1, middle = 0;
  while (end < s.count && end - pos <= MAX_SCAN && bytes < s.window) {
    /* The marker must be a file the reader will ask for: one that would be stored. */
    if (is_read(&s.order[end])) {
      if (!middle && bytes >= s.window / 2) middle = end;
      bytes += s.order[end].size;
    }
    end++;
  }
  if (s.ahead <= pos) s.ahead = pos + 1;
  if (end <= s.want) return;
  s.want = end;
  if (middle >= s.ahead) s.marker = middle;
  if (!s.started) {
    pthread_t t;
    if (pthread_create(&t, NULL, storer, NULL)) {
      s.stopped = 1; /* reads go on as before, one request each */
      return;
    }
    pthread_detach(t);
    s.started = 1;
  }
  pthread_cond_signal(&s.wake);
}

void store_ahead_read(uint64_t ino, uint64_t off) {
  if (off || !s.se) return;
  pthread_mutex_lock(&s.lock);
  long pos = s.stopped ? -1 : find(ino);
  if (pos >= 0) {
    /* In order: the next file after the last one read, or after the ones stored
       (the marker, or the window's end), or one further (two readers taking turns,
       a file skipped). */
    long reach = regular_from(s.last + 1 > (long)s.ahead ? s.last + 1 : (long)s.ahead);
    int in_order = s.last >= 0 && pos > s.last && pos <= regular_from(reach + 1);
    s.last = pos;
    if (in_order) {
      extend((uint32_t)pos);
      if (s.window < WINDOW) s.window *= 2;
    } else {
      /* A jump (back to a parent directory's rest, say): go on from here, with half
         the window (starting over at the first measured no better). */
      if (s.window > FIRST_WINDOW) s.window /= 2;
      s.ahead = s.want = (uint32_t)pos + 1;
      s.marker = 0;
    }
  }
  pthread_mutex_unlock(&s.lock);
}

void store_ahead_stop(void) {
  if (!s.se) return;
  pthread_mutex_lock(&s.lock);
  s.stopped = 1;
  pthread_cond_broadcast(&s.wake);
  /* A store waits on a read only while a worker answers it; one that has not ended
     within a second waits on one that no worker will answer: abort the connection. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 1;
  while (s.storing)
    if (pthread_cond_timedwait(&s.idle, &s.lock, &until) == ETIMEDOUT) {
      fuse_abort_now();
      while (s.storing) pthread_cond_wait(&s.idle, &s.lock);
    }
  pthread_mutex_unlock(&s.lock);
}
