/*
 * See dir-ahead.h. Each directory being read keeps the name of the file last read
 * from its start, and of the last one named ahead. A read after the last one in the
 * directory's order (names sort bytewise in squashfs, as strcmp) names the window of
 * files after both; any other read starts the directory over.
 *
 * The reader's reads of files found in the page cache never reach us, so one file
 * at the middle of each window is left out: the reader's miss there says it has come
 * halfway, and the next window is named while it reads the rest. The window starts
 * small (a reader may want a few files only), and doubles each time.
 */
#define _GNU_SOURCE
#include "dir-ahead.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "known-names.h"

#define FIRST_WINDOW (1u << 20)
#define WINDOW (16u << 20)
#define MAX_SCAN 4096   /* entries a window spans at most */
#define DIRS 16         /* directories followed at once */
#define MAX_PATH 4096

struct dir {
  uint64_t ino, used;
  char last[KNOWN_NAME_SIZE];  /* the file last read from its start */
  char ahead[KNOWN_NAME_SIZE]; /* the last file a window went up to */
  uint32_t window;
  int extending;
};

static struct {
  pthread_mutex_t lock;
  int fd;
  dir_ahead_lister list;
  struct dir dirs[DIRS];
  uint64_t tick;
} d = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

/* One window being named. */
struct window {
  char path[MAX_PATH]; /* the directory's path and a '/' (none at the root) */
  size_t dir_len;
  uint64_t bytes, want;
  unsigned scanned;
  int marked;
  char last[KNOWN_NAME_SIZE];
};

/* Set by the thread that forks the process, read by the workers. Its first reads may
   come before the store: then they are taken for a reader's (a window at most). */
static atomic_int process_pid;

void dir_ahead_process_is(pid_t pid) {
  atomic_store(&process_pid, pid);
}

int dir_ahead_is_process(pid_t pid) {
  return pid > 0 && pid == atomic_load(&process_pid);
}

int dir_ahead_start(dir_ahead_lister list) {
  int ends[2];
  /* Non-blocking: a hint that does not fit is dropped, never waited for. */
  if (pipe2(ends, O_CLOEXEC) < 0) return -1;
  if (fcntl(ends[1], F_SETFL, O_NONBLOCK) < 0) {
    close(ends[0]);
    close(ends[1]);
    return -1;
  }
  d.fd = ends[1];
  d.list = list;
  known_names_start();
  return ends[0];
}

/* With the lock held: the directory's state, the least recently used one given up. */
static struct dir *dir_of(uint64_t ino, int make) {
  struct dir *old = &d.dirs[0];
  for (int i = 0; i < DIRS; i++) {
    if (d.dirs[i].ino == ino && d.dirs[i].used) {
      d.dirs[i].used = ++d.tick;
      return &d.dirs[i];
    }
    if (d.dirs[i].used < old->used) old = &d.dirs[i];
  }
  if (!make) return NULL;
  memset(old, 0, sizeof *old);
  old->ino = ino;
  old->used = ++d.tick;
  old->window = FIRST_WINDOW;
  return old;
}

/* Set once the pipe has been grown (below). */
static atomic_int grown;

/*
 * One write, at most PIPE_BUF bytes: whole or not at all. The first time the pipe is
 * full it is grown to 1 MiB, room for a window of 4096 files (its 64 KiB hold ~700
 * names); when full again, the read-ahead is behind, and the reader asks for the
 * file itself. Grown then, not at start: a pipe's pages count against its user's
 * pipe-user-pages-soft (16384 pages), past which each new pipe of the user's holds
 * 8 KiB and no pipe may grow; 64 containers at 1 MiB each reached it (measured).
 */
static void send_hint(const char *msg, size_t n) {
  if (write(d.fd, msg, n) < 0 && errno == EAGAIN && !atomic_exchange(&grown, 1) && fcntl(d.fd, F_SETPIPE_SZ, 1 << 20) > 0)
    (void)!write(d.fd, msg, n);
}

static void hint(struct window *w, const char *name, size_t len, uint64_t off, uint64_t bytes) {
  char msg[PIPE_BUF];
  int head = snprintf(msg, sizeof msg, "%llu %llu ", (unsigned long long)off, (unsigned long long)bytes);
  if (head < 0 || (size_t)head + w->dir_len + len + 1 > sizeof msg) return;
  memcpy(msg + head, w->path, w->dir_len);
  memcpy(msg + head + w->dir_len, name, len);
  msg[head + w->dir_len + len] = 0;
  send_hint(msg, (size_t)head + w->dir_len + len + 1);
}

/* Starts a window in directory dir: its path and a '/'; 0, or -1 when unknown. */
static int window_in(struct window *w, uint64_t dir) {
  if (known_names_path(dir, w->path, sizeof w->path - 1)) return -1;
  w->dir_len = strlen(w->path);
  if (w->dir_len) w->path[w->dir_len++] = '/';
  return 0;
}

static int each(void *ctx, const char *name, size_t len, uint64_t size, int link) {
  struct window *w = ctx;
  if (++w->scanned > MAX_SCAN || w->bytes >= w->want || len >= KNOWN_NAME_SIZE) return 1;
  memcpy(w->last, name, len);
  w->last[len] = 0;
  if (!known_name_ok(name, len)) return 0;
  /* A symlink's target is read ahead too (kept by the kernel, FUSE_CACHE_SYMLINKS):
     a tree walk's readlink waited behind the read-ahead's requests (tar of /usr:
     634 of them). Never the marker: its reader asks for it with no read. */
  if (link) {
    hint(w, name, len, 0, 0);
    return 0;
  }
  if (!size || size > DIR_AHEAD_WHOLE_MAX) return 0;
  w->bytes += size;
  if (!w->marked && w->bytes >= w->want / 2) {
    w->marked = 1;
    return 0;
  }
  hint(w, name, len, 0, 0);
  return 0;
}

void dir_ahead_read(uint64_t ino, uint64_t off) {
  uint64_t parent;
  char name[KNOWN_NAME_SIZE], after[KNOWN_NAME_SIZE];
  if (off || d.fd < 0 || known_names_get(ino, &parent, name)) return;
  pthread_mutex_lock(&d.lock);
  struct dir *dir = dir_of(parent, 1);
  int in_order = dir->last[0] && strcmp(name, dir->last) > 0;
  strcpy(dir->last, name);
  if (!in_order || dir->extending) {
    if (!in_order) {
      dir->window = FIRST_WINDOW;
      strcpy(dir->ahead, name);
    }
    pthread_mutex_unlock(&d.lock);
    return;
  }
  strcpy(after, strcmp(dir->ahead, name) > 0 ? dir->ahead : name);
  static __thread struct window w;
  w = (struct window){.want = dir->window};
  if (dir->window < WINDOW) dir->window *= 2;
  dir->extending = 1;
  pthread_mutex_unlock(&d.lock);

  /* Named outside the lock: listing reads the image. */
  if (!window_in(&w, parent)) d.list(parent, after, each, &w);

  pthread_mutex_lock(&d.lock);
  dir = dir_of(parent, 0);
  if (dir) {
    dir->extending = 0;
    if (w.last[0] && strcmp(w.last, dir->ahead) > 0) strcpy(dir->ahead, w.last);
  }
  pthread_mutex_unlock(&d.lock);
}

void dir_ahead_name_file(uint64_t ino) {
  (void)dir_ahead_name_range(ino, 0, 0);
}

int dir_ahead_name_range(uint64_t ino, uint64_t off, uint64_t len) {
  static __thread struct window w;
  uint64_t parent;
  char name[KNOWN_NAME_SIZE];
  if (d.fd < 0 || known_names_get(ino, &parent, name) || window_in(&w, parent)) return -1;
  hint(&w, name, strlen(name), off, len);
  return 0;
}
