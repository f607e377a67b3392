/*
 * sif-starter: turns a launch plan into a running container.
 *
 *   parent: unshare user+mount(+pid) namespaces, map the caller's uid/gid,
 *           FUSE-mount the image, fork, then serve FUSE on threads and
 *           supervise the child (signals forwarded, exit status passed on).
 *   child:  overlay root, mount operations, pivot_root, no_new_privs, exec
 *           (as PID 1 of a new PID namespace with --pid: fork the payload and reap).
 *
 * Usage: sif-starter --plan-fd N   (the plan format is described in plan.h)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "die.h"
#include "fuse-session.h"
#include "mounts.h"
#include "payload.h"
#include "plan.h"
#include "squash-ops.h"
#include "supervise.h"
#include "userns.h"

#define MAX_FUSE_THREADS 16

static unsigned fuse_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 2) n = 2;
  return n > MAX_FUSE_THREADS ? MAX_FUSE_THREADS : (unsigned)n;
}

static int plan_fd_arg(int argc, char **argv) {
  char *end;
  if (argc != 3 || strcmp(argv[1], "--plan-fd")) die("usage: sif-starter --plan-fd N (it is started by sif)");
  errno = 0;
  long fd = strtol(argv[2], &end, 10);
  if (errno || *end || fd < 3 || fd > 1 << 20) die("bad plan fd '%s'", argv[2]);
  return (int)fd;
}

__attribute__((noreturn)) static void child_main(const struct plan *plan, pid_t server) {
  /* Without the FUSE server the image is gone; do not outlive it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("PR_SET_PDEATHSIG");
  if (getppid() != server) _exit(EXIT_RUNTIME);
  mountpoints_prepare(plan);
  root_assemble();
  ops_apply(plan);
  root_enter(plan);
  if (!plan->new_pid) payload_exec(plan);
  pid_t payload = fork();
  if (payload < 0) die_errno("fork");
  if (payload == 0) payload_exec(plan);
  _exit(supervise(payload));
}

int main(int argc, char **argv) {
  struct plan plan;
  /* No privilege may come from this binary: it is never installed setuid. */
  if (getauxval(AT_SECURE) || getuid() != geteuid() || getgid() != getegid())
    die("sif-starter must not be setuid or setgid: remove the bit (chmod u-s,g-s)");
  int plan_fd = plan_fd_arg(argc, argv);
  signals_reset();
  plan_read(plan_fd, &plan);
  close(plan_fd);

  int image_fd = open(plan.image, O_RDONLY | O_CLOEXEC);
  if (image_fd < 0) die_errno("open %s", plan.image);
  squash_pool_init(image_fd, plan.offset, fuse_threads());

  userns_enter(getuid(), getgid(), plan.new_pid);
  /* The kernel wants the device opened by the namespace that mounts it. */
  int fuse_fd = fuse_device_open();
  stage_enter();
  fuse_mount_image(fuse_fd, STAGE_LOWER);

  signals_block();
  pid_t self = getpid(), child = fork();
  if (child < 0) die_errno("fork");
  if (child == 0) child_main(&plan, self);
  fuse_serve_in_background(fuse_threads());
  _exit(supervise(child));
}
