/*
 * See crash-exit.h. squashfuse trusts the image's metadata, and some corrupt images
 * still make it read out of bounds (the checks before mounting, squash-check.c,
 * cover the superblock and table headers only). Death by SIGSEGV would end the
 * mount as well (the FUSE device closes with the last thread, and the kernel fails
 * the requests waiting on it), but would look like a crash of sif (status 139).
 * The handler only writes a message made in advance and exits: both are
 * async-signal-safe, and exiting ends every thread. Without an alternate stack a
 * stack overflow still kills us by SIGSEGV, which is sound too.
 */
#define _GNU_SOURCE
#include "crash-exit.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "die.h"
#include "fuse-abort.h"

static char message[4096];
static size_t message_len;

/* Raw system calls: the C library's wrappers read the thread's own data (for
   cancellation), which the fault may have overwritten along with its stack. */
static void on_crash(int sig) {
  (void)sig;
  syscall(SYS_write, STDERR_FILENO, message, message_len);
  fuse_abort_now(); /* a store may wait on a read no thread will answer now */
  syscall(SYS_exit_group, EXIT_RUNTIME);
}

void crash_exit_install(const char *image) {
  static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  int n = snprintf(message, sizeof message,
                   "sif: error: %s: the image is corrupt: reading it crashed the FUSE server (a fault in squashfuse)\n",
                   image);
  message_len = n < 0 ? 0 : (size_t)n < sizeof message ? (size_t)n : sizeof message - 1;
  struct sigaction sa = {.sa_handler = on_crash};
  sigfillset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
    if (sigaction(fatal[i], &sa, NULL) < 0) die_errno("installing the handler of signal %d", fatal[i]);
}
