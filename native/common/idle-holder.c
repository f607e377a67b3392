/* See idle-holder.h. */
#define _GNU_SOURCE
#include "idle-holder.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static char stack[16 << 10] __attribute__((aligned(16)));
static int held_fd = -1;
static const char *held_name;

/*
 * Runs in a process that shares our memory but not the C library's per-thread state:
 * it makes raw system calls only, ones that do not fail here, so that it never writes
 * errno (which would be our main thread's).
 */
static int hold(void *unused) {
  struct pollfd held = {.fd = held_fd, .events = POLLIN};
  struct sched_param idle = {.sched_priority = 0};
  (void)unused;
  syscall(SYS_sched_setscheduler, 0, SCHED_IDLE, &idle);
  /* None of our other files: a pipe or device held open would keep its other end
     waiting (the caller may be reading our stdout to its end). */
  if (held_fd > 0) syscall(SYS_close_range, 0, held_fd - 1, 0);
  syscall(SYS_close_range, held_fd + 1, ~0U, 0);
  if (held_name) syscall(SYS_prctl, PR_SET_NAME, held_name, 0, 0, 0);
  while (syscall(SYS_ppoll, &held, 1, NULL, NULL, 0) != 1) {}
  return 0;
}

int idle_holder_start(int fd, const char *name) {
  sigset_t all, old;
  held_fd = fd;
  held_name = name;
  /* Made with every signal blocked: no handler of ours may run in it. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pid = clone(hold, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return pid;
}
