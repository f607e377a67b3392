/*
 * See prefetch.h. Why it pays: each block that the payload's exec finds uncached costs
 * a round trip to the FUSE server and a decompression while the payload waits. For
 * `true` in a Debian image that was about 30 reads and 22 block decompressions, a
 * third of the starter's time (measured). Read here, one read at a time and in
 * squashfs-block-sized requests, those blocks are decompressed on another CPU while
 * the child is busy with its mounts, and a request of the child's waits behind one
 * read at most. The image's /etc/passwd and /etc/group, which the child reads early,
 * are left to it: reading them here only delayed the rest (measured). The cost is a
 * few ms of CPU a start: all of the C library (~2 MiB) is read, where a payload
 * touches part of it.
 */
#define _GNU_SOURCE
#include "prefetch.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ld-cache.h"
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

#ifdef LOADER

#define CHUNK (128 << 10)       /* one squashfs block, commonly: one request each */
#define MAX_FILE (8 << 20)      /* a start-up file is smaller; read no further */
#define MAX_LD_CACHE (1 << 20)

/* Opens the image's regular file at path; -1 when it is absent or anything else (a
   FIFO must not block us: O_NONBLOCK). Sets *size when size is not NULL. */
static int open_regular(int lower, const char *path, off_t *size) {
  struct stat st;
  int fd = open_in(lower, path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) return -1;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  if (size) *size = st.st_size;
  return fd;
}

/* Reads the file through the page cache, up to MAX_FILE bytes. */
static void read_ahead(int lower, const char *path, char *buf) {
  off_t done = 0;
  int fd = open_regular(lower, path, NULL);
  if (fd < 0) return;
  ssize_t n;
  while (done < MAX_FILE && (n = read(fd, buf, CHUNK)) > 0) done += n;
  close(fd);
}

/* Reads ld.so.cache whole, and returns where it places the C library, or NULL. */
static const char *libc_path(int lower, char **cache) {
  off_t size, done = 0;
  ssize_t n;
  int fd = open_regular(lower, "/etc/ld.so.cache", &size);
  if (fd < 0) return NULL;
  *cache = size > 0 && size <= MAX_LD_CACHE ? malloc((size_t)size) : NULL;
  while (*cache && done < size && (n = read(fd, *cache + done, (size_t)(size - done))) > 0) done += n;
  close(fd);
  return *cache && done == size ? ld_cache_find(*cache, (size_t)size, "libc.so.6", LIBC_FLAGS) : NULL;
}

void prefetch_startup_files(int lower) {
  char *buf = malloc(CHUNK), *cache = NULL;
  if (!buf) return;
  read_ahead(lower, LOADER, buf);
  const char *libc = libc_path(lower, &cache);
  if (libc) read_ahead(lower, libc, buf);
  free(cache);
  free(buf);
}

#else

/* No loader path known for this architecture: nothing to read ahead. */
void prefetch_startup_files(int lower) { (void)lower; }

#endif
