#define _GNU_SOURCE
#include "payload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "die.h"
#include "supervise.h"

const char *payload_search_path(const struct plan *pl) {
  for (char **e = pl->envp; *e; e++)
    if (!strncmp(*e, "PATH=", 5)) return *e + 5;
  return "/usr/local/bin:/usr/bin:/bin";
}

/* Runs argv through the image's env scripts when it has them (Apptainer-built images). */
static char **shimmed(const struct plan *pl) {
  if (!pl->shim_test || access(pl->shim_test, F_OK) < 0 || access(pl->shim_shell, X_OK) < 0) return pl->argv;
  size_t n = 0;
  while (pl->argv[n]) n++;
  char **v = calloc(n + 5, sizeof *v);
  if (!v) die_errno("calloc");
  v[0] = (char *)pl->shim_shell;
  v[1] = "-c";
  v[2] = (char *)pl->shim_script;
  v[3] = "sif";
  memcpy(v + 4, pl->argv, n * sizeof *v);
  return v;
}

__attribute__((noreturn)) static void fail(const char *cmd, int err) {
  if (err == ENOENT || err == ENOTDIR) die_code(EXIT_NOTFOUND, "%s: command not found in the container", cmd);
  if (err == ENOEXEC) die_code(EXIT_NOEXEC, "%s: not an executable format this kernel can run", cmd);
  die_code(EXIT_NOEXEC, "%s: cannot execute: %s", cmd, strerror(err));
}

void payload_exec(const struct plan *pl) {
  char **argv = shimmed(pl);
  const char *cmd = argv[0];

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die_errno("PR_SET_NO_NEW_PRIVS");
  /* Dispositions were reset at start and nothing set a handler since: unblock only. */
  signals_unblock();
  if (strchr(cmd, '/')) {
    execve(cmd, argv, pl->envp);
    fail(cmd, errno);
  }
  const char *path = payload_search_path(pl);
  int seen_eacces = 0, last = ENOENT;
  size_t clen = strlen(cmd);
  for (const char *p = path;; p++) {
    const char *colon = strchrnul(p, ':');
    size_t dlen = (size_t)(colon - p);
    char *full = malloc(dlen + clen + 3);
    if (!full) die_errno("malloc");
    /* An empty PATH entry means the current directory. */
    if (dlen) snprintf(full, dlen + clen + 2, "%.*s/%s", (int)dlen, p, cmd);
    else snprintf(full, dlen + clen + 2, ".%s", "/"), strncat(full, cmd, clen);
    execve(full, argv, pl->envp);
    free(full);
    if (errno == EACCES) seen_eacces = 1;
    else if (errno != ENOENT && errno != ENOTDIR) last = errno;
    if (*colon == '\0') break;
    p = colon;
  }
  fail(cmd, seen_eacces ? EACCES : last);
}
