/*
 * Prints a tree as the file system at hand shows it, one line per entry, in name
 * order, so that two mounts of one image can be compared line for line
 * (test/integration/exec-read-cache.test.ts): the same binary runs over a kernel
 * mount on the host and, built static, inside a container over sif's FUSE mount.
 *
 *   tree-dump [--owners] DIR [PROBE...]     (DIR not "/")
 *
 * Each entry: path, mode (octal, type included), size, link count, a hash of the
 * contents (files) or the target (symlinks), the first path of the same inode among
 * those printed (hard links), the extended attributes with a hash of each value,
 * and with --owners, uid:gid. Directories also give their entry count as read, so a
 * listing cut short between readdir buffers shows. Each PROBE (a path under DIR)
 * prints "probe PATH present" or "probe PATH missing".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

static int owners;
static size_t root_len;

/* Inodes already printed with more than one link: the first path of each. */
static struct {
  dev_t dev;
  ino_t ino;
  char *path;
} *seen;
static size_t nseen;

static uint64_t fnv(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void fail(const char *what, const char *path) {
  fprintf(stderr, "tree-dump: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static uint64_t file_hash(const char *path) {
  static char buf[1 << 16];
  uint64_t h = 14695981039346656037ULL;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail("open", path);
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) h = fnv(h, buf, (size_t)n);
  if (n < 0) fail("read", path);
  close(fd);
  return h;
}

static void print_xattrs(const char *path) {
  char names[65536], value[65536];
  ssize_t len = llistxattr(path, names, sizeof names);
  if (len < 0) {
    if (errno == ENOTSUP) return;
    fail("llistxattr", path);
  }
  /* The names come in the file system's order: sort them by printing in passes. */
  const char *last = "";
  for (;;) {
    const char *next = NULL;
    for (const char *n = names; n < names + len; n += strlen(n) + 1)
      if (strcmp(n, last) > 0 && (!next || strcmp(n, next) < 0)) next = n;
    if (!next) break;
    ssize_t vlen = lgetxattr(path, next, value, sizeof value);
    if (vlen < 0) fail("lgetxattr", path);
    printf(" xattr:%s=%016" PRIx64, next, fnv(14695981039346656037ULL, value, (size_t)vlen));
    last = next;
  }
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void dump(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) fail("lstat", path);
  const char *rel = path[root_len] ? path + root_len : "/";
  printf("%s %06o %lld %lu", rel, (unsigned)st.st_mode, (long long)st.st_size, (unsigned long)st.st_nlink);
  if (owners) printf(" %u:%u", (unsigned)st.st_uid, (unsigned)st.st_gid);
  if (S_ISREG(st.st_mode)) {
    printf(" data=%016" PRIx64, file_hash(path));
  } else if (S_ISLNK(st.st_mode)) {
    char target[4097];
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) fail("readlink", path);
    target[n] = 0;
    printf(" -> %s", target);
  }
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    size_t i = 0;
    while (i < nseen && !(seen[i].dev == st.st_dev && seen[i].ino == st.st_ino)) i++;
    if (i == nseen) {
      seen = realloc(seen, (nseen + 1) * sizeof *seen);
      if (!seen) fail("realloc", path);
      seen[nseen].dev = st.st_dev;
      seen[nseen].ino = st.st_ino;
      seen[nseen++].path = strdup(rel);
    }
    printf(" same-as=%s", seen[i].path);
  }
  print_xattrs(path);
  if (!S_ISDIR(st.st_mode)) {
    putchar('\n');
    return;
  }
  DIR *d = opendir(path);
  if (!d) fail("opendir", path);
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (!names || !(names[n++] = strdup(e->d_name))) fail("realloc", path);
  }
  if (errno) fail("readdir", path);
  closedir(d);
  printf(" entries=%zu\n", n);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    char *child;
    if (asprintf(&child, "%s/%s", path, names[i]) < 0) fail("asprintf", path);
    dump(child);
    free(child);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  int i = 1;
  if (i < argc && !strcmp(argv[i], "--owners")) owners = 1, i++;
  if (i >= argc) {
    fprintf(stderr, "usage: tree-dump [--owners] DIR [PROBE...]\n");
    return 2;
  }
  const char *root = argv[i++];
  root_len = strlen(root); /* (not "/": paths would start "//") */
  for (int j = i; j < argc; j++) {
    char *p;
    struct stat st;
    if (asprintf(&p, "%s%s", root, argv[j]) < 0) fail("asprintf", argv[j]);
    printf("probe %s %s\n", argv[j], lstat(p, &st) == 0 ? "present" : "missing");
    free(p);
  }
  dump(root);
  return 0;
}
