/* See share-linger.h. inotify and a signalfd, polled together: no timer, no thread. */
#define _GNU_SOURCE
#include "share-linger.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "die.h"

/* A change of the file's bytes, or of the file at that path: the key no longer names it. */
#define IMAGE_CHANGES (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

static int notify_fd = -1, signal_fd = -1, image_wd = -1, users_wd = -1;
static const char *users_path;

int linger_watch_open(const char *image, const char *users) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if ((notify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0 ||
      (image_wd = inotify_add_watch(notify_fd, image, IMAGE_CHANGES)) < 0 ||
      (signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
    warn("the node's container will not wait for the job's next step: watching %s: %s", image, strerror(errno));
    return -1;
  }
  users_path = users;
  return 0;
}

/* What the queued events say, without waiting. */
static enum linger_event take_events(void) {
  enum linger_event e = LINGER_WAKE;
  struct signalfd_siginfo si;
  ssize_t n;
  while ((n = read(signal_fd, &si, sizeof si)) == (ssize_t)sizeof si) e = LINGER_STOP;
  if (n < 0 && errno != EAGAIN && errno != EINTR) die_errno("reading signals");
  char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
  while ((n = read(notify_fd, buf, sizeof buf)) > 0) {
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      /* The image's watch gone (IN_IGNORED: removed, its file system unmounted), or
         events lost (IN_Q_OVERFLOW): a change may have been missed. */
      if (ev->wd == image_wd || (ev->mask & IN_Q_OVERFLOW)) e = LINGER_STOP;
      p += sizeof *ev + ev->len;
    }
  }
  if (n < 0 && errno != EAGAIN && errno != EINTR) die_errno("reading inotify events");
  return e;
}

enum linger_event linger_begin(void) {
  /* Unable to see ranks come (the user's inotify watches all taken: ENOSPC), the
     container ends as it would without a window. */
  if ((users_wd = inotify_add_watch(notify_fd, users_path, IN_OPEN)) < 0) return LINGER_STOP;
  return take_events();
}

enum linger_event linger_wait(long ms) {
  struct pollfd fds[2] = {{.fd = notify_fd, .events = POLLIN}, {.fd = signal_fd, .events = POLLIN}};
  int n = poll(fds, 2, ms > 0 ? (int)ms : 0);
  if (n < 0 && errno != EINTR) die_errno("poll");
  if (n == 0) return LINGER_TIMEOUT;
  return take_events();
}

void linger_end(void) {
  /* EINVAL: the kernel dropped the watch already (KEY.users removed). */
  if (inotify_rm_watch(notify_fd, users_wd) < 0 && errno != EINVAL) die_errno("inotify_rm_watch");
  users_wd = -1;
}
