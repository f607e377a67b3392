#include "die.h"
#include "fuse-abort.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void vreport(const char *level, const char *fmt, va_list ap, int err) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (err)
    dprintf(STDERR_FILENO, "sif: %s: %s: %s\n", level, msg, strerror(err));
  else
    dprintf(STDERR_FILENO, "sif: %s: %s\n", level, msg);
}

void die_code(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("error", fmt, ap, 0);
  va_end(ap);
  fuse_abort_now();
  _exit(code);
}

void die_errno(const char *fmt, ...) {
  int err = errno;
  va_list ap;
  va_start(ap, fmt);
  vreport("error", fmt, ap, err);
  va_end(ap);
  fuse_abort_now();
  _exit(EXIT_RUNTIME);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("error", fmt, ap, 0);
  va_end(ap);
  fuse_abort_now();
  _exit(EXIT_RUNTIME);
}

void warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("warning", fmt, ap, 0);
  va_end(ap);
}
