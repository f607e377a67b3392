#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "die.h"

/* Job-control signals are left alone: the starter stops and continues with the payload. */
static const int handled[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH, SIGCHLD};

static sigset_t handled_set(void) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof handled / sizeof *handled; i++) sigaddset(&set, handled[i]);
  return set;
}

void signals_block(void) {
  sigset_t set = handled_set();
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) die_errno("sigprocmask");
}

/* The signals this process ignores, from the SigIgn mask in /proc/self/status: one
   read instead of a sigaction call per signal. All of them when it cannot be read. */
static void ignored_signals(sigset_t *set) {
  char buf[16384];
  size_t n = 0;
  ssize_t r;
  sigfillset(set);
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  while (n < sizeof buf - 1 && ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
    if (r > 0) n += (size_t)r;
  close(fd);
  buf[n] = '\0';
  char *line = strstr(buf, "\nSigIgn:"), *end;
  if (!line) return;
  errno = 0;
  unsigned long long mask = strtoull(line + strlen("\nSigIgn:"), &end, 16);
  if (errno || *end != '\n') return;
  sigemptyset(set);
  for (int sig = 1; sig <= 64 && sig < NSIG; sig++)
    if (mask & (1ull << (sig - 1))) sigaddset(set, sig);
}

void signals_reset(void) {
  sigset_t ignored;
  struct sigaction dfl = {.sa_handler = SIG_DFL};
  /* Node ignores SIGPIPE, and an ignored signal would stay ignored across exec.
     (Caught ones are reset by exec itself.) */
  ignored_signals(&ignored);
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP || sigismember(&ignored, sig) != 1) continue;
    /* EINVAL: one of the signals the C library keeps for itself. */
    if (sigaction(sig, &dfl, NULL) < 0 && errno != EINVAL) die_errno("resetting signal %d", sig);
  }
  signals_unblock();
}

void signals_unblock(void) {
  sigset_t none;
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die_errno("sigprocmask");
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_RUNTIME;
}

int supervise(pid_t child, int (*tick)(void)) {
  sigset_t set = handled_set();
  const struct timespec interval = {.tv_sec = 0, .tv_nsec = SUPERVISE_TICK_MS * 1000000L};
  for (;;) {
    siginfo_t si;
    int sig = tick ? sigtimedwait(&set, &si, &interval) : sigwaitinfo(&set, &si);
    if (sig < 0 && errno == EAGAIN) {
      if (!tick()) tick = NULL;
      continue;
    }
    if (sig < 0) {
      if (errno == EINTR) continue;
      die_errno("waiting for signals");
    }
    if (sig == SIGCHLD) {
      int status;
      pid_t p;
      /* As PID 1 we also reap orphans that were reparented to us. */
      while ((p = waitpid(-1, &status, WNOHANG)) > 0)
        if (p == child) return status_code(status);
      continue;
    }
    /* The terminal already sent this one to the whole foreground group, payload included. */
    if (si.si_code == SI_KERNEL) continue;
    if (kill(child, sig) < 0 && errno != ESRCH) die_errno("forwarding signal %d", sig);
  }
}
