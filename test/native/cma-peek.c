/*
 * Cross Memory Attach between two ranks: each publishes its pid and the address of a
 * buffer in DIR, reads the other's buffer with process_vm_readv(2), and prints
 *   cma rank=R ok                  the bytes read are the peer's
 *   cma rank=R errno=NAME          the kernel refused (EPERM across user namespaces)
 * then waits until the peer has read too, so that each stays alive while read.
 * Usage: cma-peek DIR RANK (0 or 1). Built static by the test, to run in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static char secret[64];

static void put(const char *dir, const char *name, int rank, const char *text) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/%s.%d", dir, name, rank);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
    perror(path);
    exit(2);
  }
}

/* Waits (up to 30 s) for DIR/NAME.RANK and returns its first line. */
static char *wait_for(const char *dir, const char *name, int rank, char *buf, size_t size) {
  char path[4096];
  const struct timespec tick = {0, 10 * 1000 * 1000};
  snprintf(path, sizeof path, "%s/%s.%d", dir, name, rank);
  for (int i = 0; i < 3000; i++) {
    FILE *f = fopen(path, "r");
    if (f) {
      char *line = fgets(buf, (int)size, f);
      fclose(f);
      if (line) return line;
    }
    nanosleep(&tick, NULL);
  }
  fprintf(stderr, "cma-peek: %s never came\n", path);
  exit(2);
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[2], "0") && strcmp(argv[2], "1"))) {
    fprintf(stderr, "usage: cma-peek DIR 0|1\n");
    return 2;
  }
  const char *dir = argv[1];
  int rank = atoi(argv[2]), peer = 1 - rank;
  char line[256], expect[64];
  /* Where Yama restricts ptrace, let any process of ours read us (as Open MPI does). */
  (void)prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  snprintf(secret, sizeof secret, "secret of rank %d, pid %d", rank, (int)getpid());
  snprintf(line, sizeof line, "%d %p\n", (int)getpid(), (void *)secret);
  put(dir, "addr", rank, line);

  int pid;
  void *addr;
  if (sscanf(wait_for(dir, "addr", peer, line, sizeof line), "%d %p", &pid, &addr) != 2) return 2;
  char got[sizeof secret] = {0};
  struct iovec local = {got, sizeof got}, remote = {addr, sizeof got};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  snprintf(expect, sizeof expect, "secret of rank %d, pid %d", peer, pid);
  if (n < 0)
    printf("cma rank=%d errno=%s\n", rank, strerrorname_np(errno));
  else if (n == (ssize_t)sizeof got && !strcmp(got, expect))
    printf("cma rank=%d ok\n", rank);
  else
    printf("cma rank=%d wrong bytes: '%.*s'\n", rank, (int)sizeof got, got);
  fflush(stdout);
  put(dir, "done", rank, "done\n");
  wait_for(dir, "done", peer, line, sizeof line);
  return 0;
}
