#define _GNU_SOURCE
#include "own-fs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "die.h"

static dev_t *devs;
static size_t ndevs;

void own_fs_add(int dirfd, const char *path) {
  struct stat st;
  if (fstatat(dirfd, path, &st, *path ? 0 : AT_EMPTY_PATH) < 0) die_errno("stat %s", *path ? path : "a new mount");
  if (!(devs = realloc(devs, (ndevs + 1) * sizeof *devs))) die_errno("realloc");
  devs[ndevs++] = st.st_dev;
}

int own_fs_holds(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) die_errno("fstat");
  for (size_t i = 0; i < ndevs; i++)
    if (devs[i] == st.st_dev) return 1;
  return 0;
}
