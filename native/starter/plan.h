/*
 * The launch plan: what Node decided, read from an inherited fd.
 * Wire format: a sequence of netstrings ("LEN:BYTES,"). The first is the version
 * tag "SIFPLAN/2"; then records, each an op name followed by that op's fixed
 * number of fields; the last record is "end". Every record is re-checked here.
 */
#ifndef SIF_PLAN_H
#define SIF_PLAN_H

#include <stddef.h>

#define PLAN_VERSION "SIFPLAN/2"

enum op_kind {
  OP_MKDIR,    /* dst mode: create a directory (and parents) in the new root */
  OP_BIND,     /* src dst opts: bind a host path; opts "ro", "optional" */
  OP_PROC,     /* dst: a new proc instance (bind of the host's when not allowed) */
  OP_TMPFS,    /* dst mode: a fresh tmpfs */
  OP_FILE,     /* dst mode data: a file with these bytes, bound read-only */
  OP_SYMLINK,  /* target dst: a symbolic link */
  OP_READONLY, /* dst: make the mount at dst read-only */
  OP_MERGE,    /* dst mode data: like file, then the image's lines at dst whose first
                  ':' field no line of data has (for /etc/passwd and /etc/group) */
};

#define BIND_RO 1u
#define BIND_OPTIONAL 2u

struct op {
  enum op_kind kind;
  const char *src;  /* bind source, symlink target */
  const char *dst;  /* path inside the new root */
  const char *data; /* file contents */
  size_t data_len;
  unsigned mode;
  unsigned flags;
};

struct plan {
  const char *image;
  unsigned long long offset;
  int new_pid;  /* own PID namespace with an init */
  int writable; /* keep the root's tmpfs overlay writable */
  int store_ahead; /* the FUSE server stores files ahead of a reader (store-ahead.c) */
  int no_read_ahead; /* nothing named to the read-ahead process (dir-ahead.c) */
  struct op *ops;
  size_t nops;
  const char *cwd;
  char **argv; /* NULL-terminated */
  char **envp; /* NULL-terminated */
  /* When shim_test exists in the new root and shim_shell is executable,
     run argv through: shim_shell -c shim_script sif argv... */
  const char *shim_test, *shim_shell, *shim_script;
  /* One container per node (share.h): the directory of the lock files, the key
     naming them, the image's device and inode the key was made for, and how long
     the container outlives its last rank, waiting for the job's next step. */
  const char *share_dir, *share_key;
  unsigned long long share_dev, share_ino, share_linger_ms;
};

/* The longest a shared container may wait for the next step (sif's --share-linger 3600). */
#define SHARE_LINGER_MAX_MS 3600000ull

/* Reads and validates the whole plan from fd; dies with a clear message on error. */
void plan_read(int fd, struct plan *plan);

#endif
