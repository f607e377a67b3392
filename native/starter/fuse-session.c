#define FUSE_USE_VERSION 312
#include "fuse-session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>
#include <pthread.h>
#include <string.h>

#include <fuse3/fuse_lowlevel.h>

#include "die.h"
#include "squash-ops.h"

static struct fuse_session *session;
static unsigned serve_threads;

int fuse_device_open(void) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM))
    die_errno("open /dev/fuse (it must be readable and writable by users, mode 0666 as on most distributions)");
  if (fd < 0) die_errno("open /dev/fuse (is the fuse module loaded? try 'modprobe fuse')");
  return fd;
}

void fuse_mount_image(int fuse_fd, const char *mountpoint) {
  /* We mount it ourselves (we hold CAP_SYS_ADMIN in our namespace) and hand libfuse
     the open device as "/dev/fd/N", so it never looks for fusermount3.
     default_permissions: squashfuse checks no modes, so the kernel must. */
  char opts[128], dev[32];
  char *argv[] = {"sif", NULL};
  struct fuse_args args = FUSE_ARGS_INIT(1, argv);
  size_t ops_size;
  const struct fuse_lowlevel_ops *ops = squash_ops(&ops_size);

  snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=%u,group_id=%u,default_permissions", fuse_fd,
           (unsigned)getuid(), (unsigned)getgid());
  if (mount("sif", mountpoint, "fuse.squashfuse", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0)
    die_errno("mounting the image with FUSE at %s", mountpoint);
  session = fuse_session_new(&args, ops, ops_size, NULL);
  if (!session) die("cannot create the FUSE session for the image");
  snprintf(dev, sizeof dev, "/dev/fd/%d", fuse_fd);
  if (fuse_session_mount(session, dev) != 0) die("cannot attach the FUSE session to /dev/fuse");
}

static void *serve(void *unused) {
  (void)unused;
  struct fuse_loop_config *cfg = fuse_loop_cfg_create();
  if (!cfg) die("cannot configure the FUSE loop");
  fuse_loop_cfg_set_max_threads(cfg, serve_threads);
  fuse_loop_cfg_set_idle_threads(cfg, serve_threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_session_loop_mt(session, cfg);
  return NULL;
}

void fuse_serve_in_background(unsigned max_threads) {
  pthread_t t;
  serve_threads = max_threads ? max_threads : 1;
  int err = pthread_create(&t, NULL, serve, NULL);
  if (err) {
    errno = err;
    die_errno("cannot start the FUSE server thread");
  }
  pthread_detach(t);
}
