#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

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

void signals_reset(void) {
  sigset_t none;
  /* Node ignores SIGPIPE, and an ignored signal would stay ignored across exec. */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
  sigemptyset(&none);
  if (sigprocmask(SIG_SETMASK, &none, NULL) < 0) die_errno("sigprocmask");
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return EXIT_RUNTIME;
}

int supervise(pid_t child) {
  sigset_t set = handled_set();
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&set, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      die_errno("sigwaitinfo");
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
