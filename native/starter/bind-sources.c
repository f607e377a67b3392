#define _GNU_SOURCE
#include "bind-sources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "die.h"
#include "resolve.h"
#include "rootfs.h"

static int *fds;
static unsigned char *dirs;

void bind_sources_open(const struct plan *plan) {
  size_t n = plan->nops ? plan->nops : 1; /* calloc(0) may give NULL */
  if (!(fds = calloc(n, sizeof *fds)) || !(dirs = calloc(n, 1))) die_errno("calloc");
  int host = open(STAGE_OLDROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (host < 0) die_errno("open %s", STAGE_OLDROOT);
  for (size_t i = 0; i < plan->nops; i++) {
    const struct op *op = &plan->ops[i];
    struct stat st;
    fds[i] = -1;
    if (op->kind != OP_BIND) continue;
    int fd = open_exact_in(host, op->src, O_PATH);
    if (fd < 0) {
      if (errno == ENOENT && (op->flags & BIND_OPTIONAL)) continue;
      if (errno == ELOOP)
        die("bind source %s: a symbolic link now stands on its path, which sif had resolved; not following it "
            "(was the path changed while sif started?)", op->src);
      die_errno("bind source %s", op->src);
    }
    if (fstat(fd, &st) < 0) die_errno("stat %s", op->src);
    fds[i] = fd;
    dirs[i] = S_ISDIR(st.st_mode);
  }
  close(host);
}

int bind_source_fd(size_t i) { return fds[i]; }
int bind_source_is_dir(size_t i) { return dirs[i]; }
