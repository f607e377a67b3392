#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "die.h"

#define PLAN_MAX (64u << 20) /* refuse absurd plans instead of exhausting memory */

struct cursor {
  char *p, *end;
};

static char *slurp(int fd, size_t *len) {
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  if (!buf) die_errno("reading the plan");
  for (;;) {
    if (n == cap) {
      if (cap >= PLAN_MAX) die("the plan is larger than %u bytes", PLAN_MAX);
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die_errno("reading the plan");
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die_errno("reading the plan from fd %d", fd);
    if (r == 0) break;
    n += (size_t)r;
  }
  *len = n;
  return buf;
}

/* Next netstring, NUL-terminated in place (the ',' is overwritten). */
static char *field(struct cursor *c, size_t *len) {
  size_t n = 0;
  char *p = c->p;
  if (p >= c->end || *p < '0' || *p > '9') die("malformed plan: expected a length");
  while (p < c->end && *p >= '0' && *p <= '9') {
    n = n * 10 + (size_t)(*p++ - '0');
    if (n > PLAN_MAX) die("malformed plan: field too long");
  }
  if (p >= c->end || *p != ':') die("malformed plan: expected ':'");
  p++;
  if ((size_t)(c->end - p) < n + 1 || p[n] != ',') die("malformed plan: truncated field");
  p[n] = '\0';
  c->p = p + n + 1;
  if (len) *len = n;
  return p;
}

/* A text field: no embedded NUL. */
static char *text(struct cursor *c) {
  size_t n;
  char *s = field(c, &n);
  if (strlen(s) != n) die("malformed plan: NUL byte in a text field");
  return s;
}

static const char *abs_path(struct cursor *c, const char *what) {
  const char *s = text(c);
  if (s[0] != '/') die("plan: %s '%s' is not an absolute path", what, s);
  for (const char *p = s; (p = strstr(p, "..")); p += 2)
    if ((p == s || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
      die("plan: %s '%s' contains '..'", what, s);
  return s;
}

static unsigned mode_field(struct cursor *c) {
  char *s = text(c), *end;
  errno = 0;
  unsigned long m = strtoul(s, &end, 8);
  if (errno || *s == '\0' || *end || m > 07777) die("plan: bad mode '%s'", s);
  return (unsigned)m;
}

static unsigned long long decimal(struct cursor *c, const char *what) {
  char *s = text(c), *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *s < '0' || *s > '9' || *end) die("plan: bad %s '%s'", what, s);
  return v;
}

/* A file name part: lower-case hex digits only. */
static const char *share_key(struct cursor *c) {
  const char *s = text(c);
  size_t n = strspn(s, "0123456789abcdef");
  if (n == 0 || n > 64 || s[n]) die("plan: bad share key '%s'", s);
  return s;
}

static unsigned bind_opts(struct cursor *c) {
  char *s = text(c), *save = NULL;
  unsigned flags = 0;
  for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "ro")) flags |= BIND_RO;
    else if (!strcmp(t, "optional")) flags |= BIND_OPTIONAL;
    else die("plan: unknown bind option '%s'", t);
  }
  return flags;
}

static void push(void ***v, size_t *n, size_t *cap, void *x) {
  if (*n + 1 >= *cap) {
    *cap = *cap ? *cap * 2 : 16;
    *v = realloc(*v, *cap * sizeof **v);
    if (!*v) die_errno("reading the plan");
  }
  (*v)[(*n)++] = x;
  (*v)[*n] = NULL;
}

static struct op *new_op(struct plan *pl, size_t *cap, enum op_kind kind) {
  if (pl->nops == *cap) {
    *cap = *cap ? *cap * 2 : 32;
    pl->ops = realloc(pl->ops, *cap * sizeof *pl->ops);
    if (!pl->ops) die_errno("reading the plan");
  }
  struct op *op = &pl->ops[pl->nops++];
  memset(op, 0, sizeof *op);
  op->kind = kind;
  return op;
}

void plan_read(int fd, struct plan *pl) {
  size_t len, ops_cap = 0, argc = 0, argv_cap = 0, envc = 0, env_cap = 0;
  char *buf = slurp(fd, &len);
  struct cursor c = {buf, buf + len};
  int ended = 0;

  memset(pl, 0, sizeof *pl);
  if (strcmp(text(&c), PLAN_VERSION)) die("plan version mismatch: this starter reads " PLAN_VERSION);
  while (!ended) {
    const char *rec = text(&c);
    struct op *op;
    if (!strcmp(rec, "image")) {
      char *end, *s;
      pl->image = abs_path(&c, "image");
      s = text(&c);
      errno = 0;
      pl->offset = strtoull(s, &end, 10);
      if (errno || *s == '\0' || *end) die("plan: bad image offset '%s'", s);
    } else if (!strcmp(rec, "flag")) {
      const char *f = text(&c);
      if (!strcmp(f, "pid")) pl->new_pid = 1;
      else if (!strcmp(f, "writable")) pl->writable = 1;
      else if (!strcmp(f, "store-ahead")) pl->store_ahead = 1;
      else if (!strcmp(f, "no-read-ahead")) pl->no_read_ahead = 1;
      else die("plan: unknown flag '%s'", f);
    } else if (!strcmp(rec, "mkdir") || !strcmp(rec, "tmpfs")) {
      op = new_op(pl, &ops_cap, rec[0] == 'm' ? OP_MKDIR : OP_TMPFS);
      op->dst = abs_path(&c, "destination");
      op->mode = mode_field(&c);
    } else if (!strcmp(rec, "bind")) {
      op = new_op(pl, &ops_cap, OP_BIND);
      op->src = abs_path(&c, "bind source");
      op->dst = abs_path(&c, "bind destination");
      op->flags = bind_opts(&c);
    } else if (!strcmp(rec, "proc") || !strcmp(rec, "readonly")) {
      op = new_op(pl, &ops_cap, rec[0] == 'p' ? OP_PROC : OP_READONLY);
      op->dst = abs_path(&c, "destination");
    } else if (!strcmp(rec, "file") || !strcmp(rec, "merge")) {
      op = new_op(pl, &ops_cap, rec[0] == 'f' ? OP_FILE : OP_MERGE);
      op->dst = abs_path(&c, "file destination");
      op->mode = mode_field(&c);
      op->data = field(&c, &op->data_len);
    } else if (!strcmp(rec, "symlink")) {
      op = new_op(pl, &ops_cap, OP_SYMLINK);
      op->src = text(&c);
      op->dst = abs_path(&c, "symlink path");
    } else if (!strcmp(rec, "cwd")) {
      pl->cwd = abs_path(&c, "working directory");
    } else if (!strcmp(rec, "arg")) {
      push((void ***)&pl->argv, &argc, &argv_cap, text(&c));
    } else if (!strcmp(rec, "env")) {
      char *kv = text(&c);
      if (!strchr(kv, '=') || kv[0] == '=') die("plan: bad environment entry '%s'", kv);
      push((void ***)&pl->envp, &envc, &env_cap, kv);
    } else if (!strcmp(rec, "shim")) {
      pl->shim_test = abs_path(&c, "shim test path");
      pl->shim_shell = abs_path(&c, "shim shell");
      pl->shim_script = text(&c);
    } else if (!strcmp(rec, "share")) {
      pl->share_dir = abs_path(&c, "share directory");
      pl->share_key = share_key(&c);
      pl->share_dev = decimal(&c, "image device");
      pl->share_ino = decimal(&c, "image inode");
      pl->share_linger_ms = decimal(&c, "linger time");
      if (pl->share_linger_ms > SHARE_LINGER_MAX_MS) die("plan: linger time %llu ms is over an hour", pl->share_linger_ms);
    } else if (!strcmp(rec, "end")) {
      ended = 1;
    } else {
      die("plan: unknown record '%s'", rec);
    }
  }
  if (c.p != c.end) die("malformed plan: bytes after 'end'");
  if (!pl->image) die("plan: no image");
  if (!pl->cwd) pl->cwd = "/";
  if (argc == 0) die("plan: no command to run");
  /* Ranks in one container see one another's processes: no PID namespace of their own. */
  if (pl->share_dir && pl->new_pid) die("plan: a container shared between ranks cannot have its own PID namespace");
  if (!pl->envp && !(pl->envp = calloc(1, sizeof *pl->envp))) die_errno("reading the plan");
}
