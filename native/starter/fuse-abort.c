/*
 * See fuse-abort.h. The kernel aborts a FUSE connection by itself when the last
 * file of its device closes, failing the requests in flight, which is how the
 * image's mount ends when the server exits. A thread of ours that waits,
 * uninterruptibly, on a read in flight (a store of store-ahead.c) keeps the device
 * open through that exit, and the read is then never answered: the thread, and the
 * process, can never end. The connection's abort file (fusectl, owned by the
 * mounting user) ends such a wait, so the server writes to it on the ways out it
 * controls: an error (die), a crash (crash-exit.c), a store that does not finish.
 */
#define _GNU_SOURCE
#include "fuse-abort.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int abort_fd = -1;
static pid_t owner;

/* The device number of the mount at mountpoint, as /proc/self/mountinfo gives it;
   0 when not found. stat() would ask the server, which does not serve yet. */
static unsigned long mount_device(const char *mountpoint, const char *host_root) {
  char path[256];
  snprintf(path, sizeof path, "%s/proc/self/mountinfo", host_root);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  char line[4096], point[4096];
  unsigned major, minor;
  unsigned long dev = 0;
  /* The last mount there: the newest, over any before it. */
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &major, &minor, point) == 3 && !strcmp(point, mountpoint))
      dev = ((unsigned long)major << 20) | minor; /* the kernel's own encoding names it */
  fclose(f);
  return dev;
}

void fuse_abort_arm(const char *mountpoint, const char *host_root) {
  unsigned long dev = mount_device(mountpoint, host_root);
  char path[256];
  if (!dev) return;
  snprintf(path, sizeof path, "%s/sys/fs/fuse/connections/%lu/abort", host_root, dev);
  abort_fd = open(path, O_WRONLY | O_CLOEXEC);
}

void fuse_abort_claim(void) {
  owner = getpid();
}

/* Raw system calls, as in crash-exit.c: this may run in a signal handler. */
void fuse_abort_now(void) {
  if (abort_fd >= 0 && owner && syscall(SYS_getpid) == owner) syscall(SYS_write, abort_fd, "1", 1);
}
