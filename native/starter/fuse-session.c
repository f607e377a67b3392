#define FUSE_USE_VERSION 312
#include "fuse-session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fuse3/fuse_lowlevel.h>
#include <linux/fuse.h>

#include "die.h"
#include "dir-ahead.h"
#include "fuse-abort.h"
#include "squash-ops.h"
#include "store-ahead.h"
#include "stream-ahead.h"

static struct fuse_session *session;

/*
 * Our own multi-threaded loop over libfuse's receive/process calls. libfuse's loop
 * starts a second worker as soon as the first one takes a request, so every start
 * pays for threads that a container's start-up (one process asking one thing at a
 * time) never uses. Here one worker starts, and another is added when a request had
 * to wait: it was queued while every worker was busy. Except the first time: one
 * such wait is usual at start-up (the kernel's read-ahead queues a second read of a
 * library while the first is served) and costs less than a thread (~0.8 ms of a
 * start, measured), while real load brings more within milliseconds. Under load the
 * pool grows as libfuse's does (up to max); a start-up stays on one thread.
 */
static struct {
  pthread_mutex_t lock;
  unsigned workers, idle, max, waits;
  unsigned long served;
} pool = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 1, 0, 0};

/* Per worker: the request being served, and whether another one waited meanwhile. */
static __thread unsigned serving;
static __thread int saw_waiting;

int fuse_device_open(void) {
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM))
    die_errno("open /dev/fuse (it must be readable and writable by users, mode 0666 as on most distributions)");
  if (fd < 0) die_errno("open /dev/fuse (is the fuse module loaded? try 'modprobe fuse')");
  return fd;
}

static ssize_t device_read(int fd, void *buf, size_t len, void *userdata) {
  (void)userdata;
  return read(fd, buf, len);
}

/*
 * Every reply goes through here. A request still queued just before the reply is
 * sent was asked while this one was being served, so it has waited (after the reply,
 * the process being answered could have asked its next question already, which is no
 * sign of load). Except after a release: the kernel sends those without making the
 * closing process wait, so it goes on asking. poll() failing counts as no waiting.
 */
static ssize_t device_writev(int fd, struct iovec *iov, int count, void *userdata) {
  (void)userdata;
  pthread_mutex_lock(&pool.lock);
  int may_grow = pool.idle == 0 && pool.workers < pool.max;
  pthread_mutex_unlock(&pool.lock);
  if (may_grow && !saw_waiting && serving != FUSE_RELEASE && serving != FUSE_RELEASEDIR) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    saw_waiting = poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
  }
  return writev(fd, iov, count);
}

void fuse_mount_image(int fuse_fd, const char *mountpoint, int store_ahead, int read_ahead) {
  /* We mount it ourselves (we hold CAP_SYS_ADMIN in our namespace) and give libfuse
     the open device, so it never looks for fusermount3.
     default_permissions: squashfuse checks no modes, so the kernel must. */
  static const struct fuse_custom_io io = {.read = device_read, .writev = device_writev};
  char opts[128];
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
  /* Files walked in listing order: stored with --store-ahead, else named to the
     read-ahead process (store-ahead.c). */
  if (store_ahead || read_ahead) store_ahead_init(session, store_ahead ? squash_read_file : NULL, dir_ahead_name_file);
  if (read_ahead) stream_ahead_init(dir_ahead_name_range);
  int err = fuse_session_custom_io(session, &io, fuse_fd);
  if (err) {
    errno = -err;
    die_errno("cannot attach the FUSE session to /dev/fuse");
  }
}

static void *worker(void *unused);

/* With pool.lock held; returns 0 or pthread_create's error. */
static int add_worker(void) {
  pthread_t t;
  int err = pthread_create(&t, NULL, worker, NULL);
  if (err) return err;
  pthread_detach(t);
  pool.workers++;
  pool.idle++;
  return 0;
}

static void *worker(void *unused) {
  struct fuse_buf buf = {.mem = NULL};
  (void)unused;
  for (;;) {
    int n = fuse_session_receive_buf(session, &buf);
    if (n == -EINTR) continue;
    /* 0: unmounted; < 0: the connection failed. The supervisor carries on; the
       container then sees errors from its files. */
    if (n <= 0) break;
    pthread_mutex_lock(&pool.lock);
    pool.idle--;
    pthread_mutex_unlock(&pool.lock);
    saw_waiting = 0;
    serving = (buf.flags & FUSE_BUF_IS_FD) || n < (int)sizeof(struct fuse_in_header) ? 0 : ((struct fuse_in_header *)buf.mem)->opcode;
    fuse_session_process_buf(session, &buf);
    pthread_mutex_lock(&pool.lock);
    pool.served++;
    /* If a worker cannot be made, the ones we have go on serving. */
    if (saw_waiting && ++pool.waits > 1 && pool.workers < pool.max) (void)add_worker();
    pool.idle++;
    pthread_mutex_unlock(&pool.lock);
  }
  free(buf.mem);
  pthread_mutex_lock(&pool.lock);
  pool.workers--;
  pool.idle--;
  pthread_mutex_unlock(&pool.lock);
  return NULL;
}

void fuse_serve_in_background(unsigned max_threads) {
  fuse_abort_claim();
  pthread_mutex_lock(&pool.lock);
  pool.max = max_threads ? max_threads : 1;
  int err = add_worker();
  pthread_mutex_unlock(&pool.lock);
  if (err) {
    errno = err;
    die_errno("cannot start the FUSE server thread");
  }
}

unsigned long fuse_requests_served(void) {
  pthread_mutex_lock(&pool.lock);
  unsigned long n = pool.served;
  pthread_mutex_unlock(&pool.lock);
  return n;
}

/* Linked with -Wl,--wrap=dlopen: squashfuse's command-line helpers, never called
   here, pull in libfuse's high-level half, which can load modules with dlopen. A
   static binary must not load shared objects, so that call always fails. */
void *__wrap_dlopen(const char *file, int mode);
void *__wrap_dlopen(const char *file, int mode) {
  (void)file;
  (void)mode;
  return NULL;
}
