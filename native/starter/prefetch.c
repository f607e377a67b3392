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

/*
 * The read-ahead runs in a process of its own, never in the FUSE server: a process
 * that waits on its own mount cannot die while that wait lasts, and its threads keep
 * the FUSE device open, so the wait never ends. A worker crashing on a corrupt image
 * used to leave the server and the container in that state, unkillable. This
 * process holds nothing but the mount's directory (and the keeper, closed when it is
 * done): when the server dies its device closes, the kernel fails every request on
 * the mount, and our reads return errors.
 */
void prefetch_in_background(int lower, const struct plan *plan, int keeper) {
  pid_t server = getpid(), pid = fork();
  if (pid != 0) return; /* the parent, or fork failed: best effort either way */
  /* Only syscalls and the C library's string functions from here: we were forked
     from a process with threads. */
  /* Close all but lower and keeper (keeper may be -1). */
  int first = lower < keeper ? lower : keeper, second = lower < keeper ? keeper : lower;
  if (first > 0) syscall(SYS_close_range, 0, first - 1, 0);
  if (second > first + 1) syscall(SYS_close_range, first + 1, second - 1, 0);
  syscall(SYS_close_range, second + 1, ~0U, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != server) _exit(0);
  /* Not "sif-starter": it is no server (tests and tools count those). */
  prctl(PR_SET_NAME, "sif-prefetch", 0, 0, 0);
  prefetch_startup_files(lower, plan);
  _exit(0);
}
