#define _GNU_SOURCE
#include "resolve.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open2(int dirfd, const char *path, int flags, unsigned long long resolve) {
  struct open_how how = {.flags = (unsigned)(flags | O_CLOEXEC), .resolve = resolve};
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int open_in(int dirfd, const char *path, int flags) {
  return open2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

int open_exact_in(int dirfd, const char *path, int flags) {
  return open2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
}
