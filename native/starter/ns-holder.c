/*
 * Tearing down the container's mount and user namespaces (unmounting everything,
 * waiting for RCU grace periods) and unmapping the FUSE server's memory take the
 * kernel milliseconds, and the process that lets go of them last pays for it in its
 * exit. Without help that is the starter, whose exit is what the caller of
 * `sif exec` waits for. An idle holder (../common/idle-holder.h) keeps both until
 * every thread of ours has exited: the teardown then happens in its exit.
 */
#define _GNU_SOURCE
#include "ns-holder.h"

#include <sys/syscall.h>
#include <unistd.h>

#include "idle-holder.h"

void ns_holder_start(void) {
  /* Failures here only mean a slower exit, so they are not errors. A pidfd turns
     readable once every thread of ours has exited. Should the holder die first,
     supervise() reaps it like any other child. Not named "sif-starter": it owns no
     memory of its own, so must not count as a server. */
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0) return;
  (void)idle_holder_start(pidfd, "sif-ns-holder");
  close(pidfd);
}
