/*
 * Test driver for the starter's squashfs read path: the checks of
 * native/starter/squash-check.c, then libsquashfuse with the bounds checks the
 * starter links around it (squash-guards.c), walked with the calls its FUSE
 * operations make (lookup, getattr, readdir, read, readlink, listxattr, getxattr).
 *
 *   squash-walk IMAGE [OFFSET]          walks the image once; prints "refused: why",
 *                                       or "walked N" (entries seen)
 *   squash-walk --fuzz IMAGE SECONDS SEED
 *                                       walks mutations of the image for that long;
 *                                       prints "runs N refused M". Built with
 *                                       sanitizers, any bad read is a report and a
 *                                       failure; the image that caused it is left
 *                                       in IMAGE.crash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <squashfuse/squashfuse.h>

#include "squash-check.h"

/* libsquashfuse's, from headers it does not install. */
sqfs_err sqfs_stat(sqfs *fs, sqfs_inode *inode, struct stat *st);
int sqfs_listxattr(sqfs *fs, sqfs_inode *inode, char *buf, size_t *size);

#define MAX_NODES 4000
#define MAX_DEPTH 32
#define MAX_READ (256 << 10)

static unsigned long nodes;

static void visit(sqfs *fs, sqfs_inode_id id, int depth);

static void walk_xattrs(sqfs *fs, sqfs_inode *inode) {
  char names[4096], value[4096];
  size_t size = sizeof names;
  if (sqfs_listxattr(fs, inode, names, &size) != 0 || size > sizeof names) return;
  for (size_t at = 0; at < size;) {
    const char *name = names + at;
    size_t len = strnlen(name, size - at);
    if (len == size - at) break;
    size_t vsize = sizeof value;
    (void)sqfs_xattr_lookup(fs, inode, name, value, &vsize);
    at += len + 1;
  }
}

static void walk_dir(sqfs *fs, sqfs_inode *inode, int depth) {
  sqfs_dir dir;
  sqfs_name name;
  sqfs_dir_entry entry;
  sqfs_err err;
  if (sqfs_dir_open(fs, inode, &dir, 0) != SQFS_OK) return;
  sqfs_dentry_init(&entry, name);
  while (nodes < MAX_NODES && sqfs_dir_next(fs, &dir, &entry, &err)) {
    /* As lookup does, by name (the directory index), then as readdir does. */
    sqfs_name again;
    sqfs_dir_entry found_entry;
    bool found;
    char copy[SQUASHFS_NAME_LEN + 1];
    snprintf(copy, sizeof copy, "%s", sqfs_dentry_name(&entry));
    sqfs_dentry_init(&found_entry, again);
    (void)sqfs_dir_lookup(fs, inode, copy, strlen(copy), &found_entry, &found);
    visit(fs, sqfs_dentry_inode(&entry), depth + 1);
  }
  /* readdir from an offset, as a second getdents does. */
  if (sqfs_dir_open(fs, inode, &dir, 3) == SQFS_OK) {
    sqfs_dentry_init(&entry, name);
    (void)sqfs_dir_next(fs, &dir, &entry, &err);
  }
}

static void visit(sqfs *fs, sqfs_inode_id id, int depth) {
  static char buf[MAX_READ];
  sqfs_inode inode;
  struct stat st;
  if (++nodes > MAX_NODES || depth > MAX_DEPTH) return;
  if (sqfs_inode_get(fs, &inode, id) != SQFS_OK) return;
  (void)sqfs_stat(fs, &inode, &st);
  walk_xattrs(fs, &inode);
  if (S_ISDIR(inode.base.mode)) {
    walk_dir(fs, &inode, depth);
  } else if (S_ISREG(inode.base.mode)) {
    /* Whole, then at odd offsets as the kernel's reads may come. */
    sqfs_off_t size = MAX_READ;
    (void)sqfs_read_range(fs, &inode, 0, &size, buf);
    for (sqfs_off_t at = 1; (uint64_t)at < inode.xtra.reg.file_size && at < (1 << 22); at = at * 3 + 4095) {
      size = 8192;
      (void)sqfs_read_range(fs, &inode, at, &size, buf);
    }
  } else if (S_ISLNK(inode.base.mode)) {
    size_t size = sizeof buf;
    (void)sqfs_readlink(fs, &inode, buf, &size);
  }
}

/* Returns 1 when the image was walked, 0 when refused (why printed if verbose). */
static int walk(int fd, unsigned long long offset, int verbose) {
  char why[512];
  sqfs fs;
  nodes = 0;
  if (squash_check(fd, offset, why, sizeof why)) {
    if (verbose) printf("refused: %s\n", why);
    return 0;
  }
  if (sqfs_init(&fs, fd, (size_t)offset) != SQFS_OK) {
    if (verbose) printf("refused: squashfuse cannot open it\n");
    return 0;
  }
  visit(&fs, sqfs_inode_root(&fs), 0);
  sqfs_destroy(&fs);
  if (verbose) printf("walked %lu\n", nodes);
  return 1;
}

/* The mutations: xorshift random, deterministic for a seed. */
static uint64_t rng;
static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static const uint64_t interesting[] = {0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x1fff, 0x2000, 0x2001, 0x7fff, 0x8000,
                                       0xffff, 0x10000, 0x1000000, 0x7fffffff, 0x80000000, 0xffffffff, UINT64_MAX};

static void mutate(unsigned char *img, size_t len, size_t meta_start, size_t meta_end) {
  int count = 1 + (int)(next_random() % 4);
  for (int i = 0; i < count; i++) {
    uint64_t r = next_random();
    /* Mostly the metadata (inodes, directories, the tables), where squashfuse's reads go. */
    size_t at = r % 8 == 0 ? (size_t)(next_random() % 96)
                : r % 8 == 1 ? (size_t)(next_random() % len)
                             : meta_start + (size_t)(next_random() % (meta_end - meta_start));
    size_t width = (size_t)1 << (next_random() % 4);
    if (at + width > len) continue;
    switch ((r >> 8) % 4) {
      case 0: img[at] ^= (unsigned char)(1u << (next_random() % 8)); break;
      case 1: img[at] = (unsigned char)next_random(); break;
      default: {
        uint64_t v = interesting[next_random() % (sizeof interesting / sizeof *interesting)];
        if (r & 0x10000) v += (uint64_t)(next_random() % 16) - 8;
        memcpy(img + at, &v, width);
      }
    }
  }
}

/* squashfuse's sqfs_destroy leaks the xattr table (the starter never destroys an
   instance): leaks are not what is looked for here. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static const char *crash_path;
static unsigned char *current;
static size_t current_len;

/* Called by the sanitizers before they end the process. */
void __sanitizer_set_death_callback(void (*callback)(void));
static void save_current(void) {
  int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    (void)!write(fd, current, current_len);
    close(fd);
  }
}

/* A walk that takes this long is a hang (squashfuse looping on the image). */
#define WALK_SECONDS 10
static void on_alarm(int sig) {
  (void)sig;
  save_current();
  static const char msg[] = "squash-walk: a walk took more than 10 s (a loop?)\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(3);
}

static int fuzz(const char *path, double seconds, uint64_t seed) {
  int in = open(path, O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0) return perror(path), 2;
  size_t len = (size_t)st.st_size;
  unsigned char *good = malloc(len);
  current = malloc(len);
  if (!good || !current || pread(in, good, len, 0) != (ssize_t)len) return perror(path), 2;
  close(in);
  char why[512];
  int probe = memfd_create("image", 0);
  if (probe < 0 || write(probe, good, len) != (ssize_t)len) return perror("memfd"), 2;
  if (squash_check(probe, 0, why, sizeof why)) return fprintf(stderr, "the seed image is refused: %s\n", why), 2;
  uint64_t inode_start, used;
  memcpy(&inode_start, good + 64, 8);
  memcpy(&used, good + 40, 8);
  close(probe);
  static char crash[4096];
  snprintf(crash, sizeof crash, "%s.crash", path);
  crash_path = crash;
  __sanitizer_set_death_callback(save_current);
  signal(SIGALRM, on_alarm);
  rng = seed ? seed : 1;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  unsigned long runs = 0, refused = 0;
  do {
    memcpy(current, good, len);
    current_len = next_random() % 16 == 0 ? (size_t)(next_random() % len) : len;
    mutate(current, current_len, (size_t)inode_start, (size_t)used);
    int fd = memfd_create("image", 0);
    if (fd < 0 || write(fd, current, current_len) != (ssize_t)current_len) return perror("memfd"), 2;
    alarm(WALK_SECONDS);
    refused += !walk(fd, 0, 0);
    alarm(0);
    close(fd);
    runs++;
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
  printf("runs %lu refused %lu\n", runs, refused);
  free(good);
  free(current);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--fuzz")) return fuzz(argv[2], atof(argv[3]), strtoull(argv[4], NULL, 0));
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: squash-walk IMAGE [OFFSET] | squash-walk --fuzz IMAGE SECONDS SEED\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) return perror(argv[1]), 2;
  walk(fd, argc == 3 ? strtoull(argv[2], NULL, 0) : 0, 1);
  return 0;
}
