/*
 * See prefetch.h. Why it pays: each block that the payload's exec finds uncached costs
 * a round trip to the FUSE server and a decompression while the payload waits. For
 * `true` in a Debian image that was about 30 reads and 22 block decompressions, a
 * third of the starter's time (measured). Read here, one read at a time and in
 * squashfs-block-sized requests, those blocks are decompressed on another CPU while
 * the child is busy with its mounts, and a request of the child's waits behind one
 * read at most. In the order the exec needs them: the program first (which alone
 * took 2 ms off `true` and 9 ms off `python3 -c pass`, measured), then the loader,
 * its cache, the C library. The image's /etc/passwd and /etc/group, which the child
 * reads early, are left to it: reading them here only delayed the rest (measured).
 * The cost is CPU: whole files are read (8 MiB each at most), where a payload may
 * touch parts of them.
 */
#define _GNU_SOURCE
#include "prefetch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ld-cache.h"
#include "payload.h"
#include "resolve.h"

/* The program interpreter that the architecture's ELF ABI names, and the flags of
   the matching C library in ld.so.cache (glibc's _DL_CACHE_DEFAULT_ID). */
#if defined(__x86_64__)
#define LOADER "/lib64/ld-linux-x86-64.so.2"
#define LIBC_FLAGS 0x0303
#elif defined(__aarch64__)
#define LOADER "/lib/ld-linux-aarch64.so.1"
#define LIBC_FLAGS 0x0a03
#endif

#define CHUNK (128 << 10)       /* one squashfs block, commonly: one request each */
#define MAX_FILE (8 << 20)      /* a start-up file is smaller; read no further */
#define MAX_LD_CACHE (1 << 20)

/* Opens the image's regular file at path; -1 when it is absent or anything else (a
   FIFO must not block us: O_NONBLOCK). Sets *size when size is not NULL. */
static int open_regular(int lower, const char *path, off_t *size) {
  struct stat st;
  int fd = open_in(lower, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  if (size) *size = st.st_size;
  return fd;
}

/* Scratch memory for this call only: the heap would keep it in the server's memory.
   Populated at once: faulting it in a page at a time costs more (see main.c). */
static char *map_buffer(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Whether a signal waits (they stay blocked here, as in the server that forked us):
   one sent to the process group, Ctrl-C say. Then the read-ahead stops. */
static int signal_waiting(void) {
  sigset_t pending;
  return sigpending(&pending) == 0 && !sigisemptyset(&pending);
}

/* Reads the open file through the page cache, up to max bytes, and closes it. */
static void read_fd(int fd, char *buf, off_t max) {
  off_t done = 0;
  ssize_t n;
  while (done < max && !signal_waiting() && (n = read(fd, buf, CHUNK)) > 0) done += n;
  close(fd);
}

/* The payload's program, as the child's exec will find it (payload.c): the image's
   env-script shell for Apptainer-built images, else argv[0] along PATH. Relative
   names and PATH entries are skipped (they depend on the container's cwd). */
static int open_program(int lower, const struct plan *pl) {
  char path[4096];
  int fd = -1;
  if (pl->shim_test && (fd = open_in(lower, pl->shim_test, O_PATH)) >= 0) {
    close(fd);
    if ((fd = open_regular(lower, pl->shim_shell, NULL)) >= 0) return fd;
  }
  const char *cmd = pl->argv[0];
  if (strchr(cmd, '/')) return cmd[0] == '/' ? open_regular(lower, cmd, NULL) : -1;
  for (const char *p = payload_search_path(pl);; p++) {
    const char *colon = strchrnul(p, ':');
    int len = (int)(colon - p);
    if (*p == '/' && snprintf(path, sizeof path, "%.*s/%s", len, p, cmd) < (int)sizeof path &&
        (fd = open_regular(lower, path, NULL)) >= 0)
      return fd;
    if (!*colon) return -1;
    p = colon;
  }
}

#ifdef LOADER
/* Reads the image's regular file at path through the page cache (MAX_FILE at most). */
static void read_ahead(int lower, const char *path, char *buf) {
  int fd = open_regular(lower, path, NULL);
  if (fd >= 0) read_fd(fd, buf, MAX_FILE);
}

/* Where the image's ld.so.cache places the C library, copied to out; 0 if nowhere.
   Read, not mapped: a fault on a block the image fails to give would be SIGBUS. */
static int libc_path(int lower, char *out, size_t size) {
  off_t len, done = 0;
  ssize_t n;
  int fd = open_regular(lower, "/etc/ld.so.cache", &len), found = 0;
  if (fd < 0) return 0;
  char *cache = len > 0 && len <= MAX_LD_CACHE ? map_buffer((size_t)len) : NULL;
  while (cache && done < len && (n = read(fd, cache + done, (size_t)(len - done))) > 0) done += n;
  close(fd);
  const char *path = cache && done == len ? ld_cache_find(cache, (size_t)len, "libc.so.6", LIBC_FLAGS) : NULL;
  if (path && strlen(path) < size) {
    strcpy(out, path);
    found = 1;
  }
  if (cache) munmap(cache, (size_t)len);
  return found;
}

#endif

static void prefetch_startup_files(int lower, const struct plan *plan) {
  char *buf = map_buffer(CHUNK);
  if (!buf) return;
  int program = open_program(lower, plan);
  if (program >= 0) read_fd(program, buf, MAX_FILE);
#ifdef LOADER
  char libc[4096];
  if (!signal_waiting()) read_ahead(lower, LOADER, buf);
  if (!signal_waiting() && libc_path(lower, libc, sizeof libc)) read_ahead(lower, libc, buf);
#endif
  munmap(buf, CHUNK);
}

/* The directory of the last file named, kept open: a walk names many files of one
   directory in turn, and each is then opened by its name alone, not by a walk of
   its whole path from the mount's root (4-6 names deep in /usr). */
static struct {
  int fd;
  char path[4096];
} dir = {.fd = -1};

/* An fd on the directory of path (below lower), and in *name its last component;
   -1 if it cannot be opened. */
static int dir_of(int lower, const char *path, const char **name) {
  const char *slash = strrchr(path, '/');
  size_t len = slash ? (size_t)(slash - path) : 1;
  *name = slash ? slash + 1 : path;
  if (len >= sizeof dir.path) return -1;
  if (dir.fd >= 0 && strlen(dir.path) == len && !memcmp(dir.path, slash ? path : ".", len)) return dir.fd;
  if (dir.fd >= 0) close(dir.fd);
  memcpy(dir.path, slash ? path : ".", len);
  dir.path[len] = 0;
  dir.fd = open_exact_in(lower, dir.path, O_PATH | O_DIRECTORY);
  return dir.fd;
}

/* Asks the kernel to read part of a regular file, as the server names it (dir-ahead.h:
   "OFF LEN PATH"), or the target of a symlink (which the kernel then keeps); the
   reads run on the server's threads while we go on. Paths come from the server's
   listings of the image, which cannot be trusted: no link is followed, and ".."
   stays inside (the server's names hold no "/", ".." or "."). */
static void fetch(int lower, const char *hint) {
  char *end, target[4096];
  const char *name;
  unsigned long long off = strtoull(hint, &end, 10), len;
  if (*end != ' ') return;
  len = strtoull(end + 1, &end, 10);
  if (*end != ' ') return;
  int at = dir_of(lower, end + 1, &name);
  if (at < 0) return;
  struct stat st;
  int fd = open_exact_in(at, name, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ELOOP) (void)!readlinkat(at, name, target, sizeof target);
    return;
  }
  if (!fstat(fd, &st) && S_ISREG(st.st_mode)) {
    unsigned long long size = (unsigned long long)st.st_size;
    unsigned long long stop = len && len < size - (off < size ? off : size) ? off + len : size;
    /* One call reads ahead at most the mount's read-ahead size: one call per chunk. */
    for (unsigned long long a = off; a < stop; a += CHUNK) posix_fadvise(fd, (off_t)a, CHUNK, POSIX_FADV_WILLNEED);
  }
  close(fd);
}

/* Until the server closes the pipe (it exits; its death kills us anyway): parts of
   files, each ended by a NUL and written whole (dir-ahead.h). Signals that wait (a
   terminal's SIGWINCH, say) no longer matter: the payload is running. */
static void follow_hints(int lower, int hints) {
  static char buf[64 << 10];
  size_t have = 0;
  for (;;) {
    ssize_t n = read(hints, buf + have, sizeof buf - have);
    if (n <= 0) return;
    have += (size_t)n;
    size_t start = 0;
    for (char *end; (end = memchr(buf + start, 0, have - start)); start = (size_t)(end - buf) + 1) fetch(lower, buf + start);
    /* A message is whole: what is left is the start of the next write. */
    memmove(buf, buf + start, have - start);
    have -= start;
    if (have == sizeof buf) have = 0;
  }
}

/* Closes every fd but the n in keep (-1: none). */
static void close_all_but(int *keep, int n) {
  int from = 0;
  for (int i = 0; i < n; i++) /* sorted first */
    for (int j = i + 1; j < n; j++)
      if (keep[j] < keep[i]) {
        int t = keep[i];
        keep[i] = keep[j];
        keep[j] = t;
      }
  for (int i = 0; i < n; i++) {
    if (keep[i] < 0) continue;
    if (keep[i] > from) syscall(SYS_close_range, from, keep[i] - 1, 0);
    from = keep[i] + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0);
}

/*
 * The read-ahead runs in a process of its own, never in the FUSE server: a process
 * that waits on its own mount cannot die while that wait lasts, and its threads keep
 * the FUSE device open, so the wait never ends. A worker crashing on a corrupt image
 * used to leave the server and the container in that state, unkillable. This
 * process holds nothing but the mount's directory, the read end of the server's
 * hints, and the keeper (closed once the start-up files are read): when the server
 * dies its device closes, the kernel fails every request on the mount, and our reads
 * return errors. After the start-up files, it reads ahead what the server names,
 * for the life of the container.
 */
pid_t prefetch_in_background(int lower, const struct plan *plan, int keeper, int hints) {
  pid_t server = getpid(), pid = fork();
  if (pid != 0) return pid; /* the parent, or fork failed: best effort either way */
  /* Only syscalls and the C library's string functions from here: we were forked
     from a process with threads. */
  int keep[] = {lower, keeper, hints};
  close_all_but(keep, 3);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != server) _exit(0);
  /* Not "sif-starter": it is no server (tests and tools count those). */
  prctl(PR_SET_NAME, "sif-prefetch", 0, 0, 0);
  prefetch_startup_files(lower, plan);
  if (keeper >= 0) close(keeper);
  if (hints >= 0) follow_hints(lower, hints);
  _exit(0);
}
