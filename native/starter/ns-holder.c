/*
 * Tearing down the container's mount and user namespaces (unmounting everything,
 * waiting for RCU grace periods) and unmapping the FUSE server's memory take the
 * kernel milliseconds, and the process that lets go of them last pays for it in its
 * exit. Without help that is the starter, whose exit is what the caller of
 * `sif exec` waits for. The holder, a process sharing our memory (so nothing is
 * copied to make it: it costs about what a thread does), keeps both until all our
 * threads have exited, then exits itself and the teardown happens in its exit, in
 * the background, at idle priority.
 */
#define _GNU_SOURCE
#include "ns-holder.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int server_fd = -1;
static char stack[16 << 10] __attribute__((aligned(16)));

/*
 * Runs in a process that shares our memory but not the C library's per-thread
 * state: it makes raw system calls only, ones that do not fail here, so that it
 * never writes errno (which would be our main thread's).
 */
static int hold(void *unused) {
  struct pollfd server = {.fd = server_fd, .events = POLLIN};
  struct sched_param idle = {.sched_priority = 0};
  (void)unused;
  /* The teardown is nobody's hurry: only idle CPU time for it. */
  syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &idle);
  /* None of our other files: the FUSE device in particular must close when we exit,
     and the caller may be waiting for the end of our stdout. */
  if (server_fd > 0) syscall(SYS_close_range, 0, server_fd - 1, 0);
  syscall(SYS_close_range, server_fd + 1, ~0U, 0);
  /* Not "sif-starter": it owns no memory of its own, so must not count as a server. */
  syscall(SYS_prctl, PR_SET_NAME, "sif-ns-holder", 0, 0, 0);
  /* The pidfd turns readable once every thread of ours has exited. */
  while (syscall(SYS_ppoll, &server, 1, NULL, NULL, 0) != 1) {}
  return 0;
}

void ns_holder_start(void) {
  /* Failures here only mean a slower exit, so they are not errors. */
  server_fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (server_fd < 0) return;
  /* SIGCHLD: should it die first, supervise() reaps it like any other child. It
     has its own copy of our files, pidfd included. */
  (void)clone(hold, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
  close(server_fd);
}
