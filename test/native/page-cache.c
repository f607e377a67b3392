/*
 * Says whether a file's pages are in the page cache, without reading them, and
 * then whether its last page is zero past the end of the file, as a mapping must
 * show it (test/integration/exec-read-cache.test.ts: files that sif's FUSE server
 * pushed into the page cache before anyone read them).
 *
 *   page-cache FILE WAIT_MS [FROM TO]
 *
 * Prints "cached" once every page is resident (checked every 10 ms for up to
 * WAIT_MS), else "not-cached"; then "tail-zero" or "tail-dirty". With FROM and TO,
 * only the pages of bytes FROM to TO are checked (a read-ahead within one file).
 * Exits 1 on errors.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int all_resident(void *map, size_t len, size_t page) {
  size_t pages = (len + page - 1) / page;
  unsigned char *vec = malloc(pages);
  if (!vec || mincore(map, len, vec) < 0) {
    perror("mincore");
    exit(1);
  }
  int all = 1;
  for (size_t i = 0; i < pages; i++) all &= vec[i] & 1;
  free(vec);
  return all;
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: page-cache FILE WAIT_MS [FROM TO]\n");
    return 1;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
    perror(argv[1]);
    return 1;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t len = (size_t)st.st_size;
  size_t mapped = (len + page - 1) / page * page;
  char *map = mmap(NULL, mapped, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  size_t from = argc == 5 ? (size_t)atol(argv[3]) / page * page : 0, to = argc == 5 ? (size_t)atol(argv[4]) : mapped;
  if (from >= to || to > mapped) {
    fprintf(stderr, "page-cache: bytes %s to %s are not inside the file\n", argv[3], argv[4]);
    return 1;
  }
  int cached = 0;
  for (long waited = 0; !(cached = all_resident(map + from, to - from, page)) && waited < atol(argv[2]); waited += 10)
    nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
  puts(cached ? "cached" : "not-cached");
  int dirty = 0;
  for (size_t i = len; i < mapped; i++) dirty |= map[i];
  puts(dirty ? "tail-dirty" : "tail-zero");
  return 0;
}
