#define _GNU_SOURCE
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "die.h"

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open %s", path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) die_errno("write %s", path);
  if (close(fd) < 0) die_errno("close %s", path);
}

void userns_enter(uid_t uid, gid_t gid) {
  char map[64];
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) {
    if (errno == EPERM || errno == ENOSPC)
      die_errno("cannot create a user namespace (unprivileged user namespaces may be disabled: "
                "check kernel.unprivileged_userns_clone, user.max_user_namespaces and AppArmor's "
                "kernel.apparmor_restrict_unprivileged_userns)");
    die_errno("unshare");
  }
  /* Without CAP_SETGID outside, setgroups must be denied before gid_map is written. */
  write_file("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
  write_file("/proc/self/uid_map", map);
  snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
  write_file("/proc/self/gid_map", map);
}
