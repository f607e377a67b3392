#define _GNU_SOURCE
#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bind-sources.h"
#include "die.h"
#include "own-fs.h"
#include "resolve.h"
#include "rootfs.h"

/* The new root and the host's root, as rootfs_assemble() left them. */
static int root_fd = -1, host_fd = -1;

/* Splits "/a/b/c" into a freshly allocated parent "/a/b" and returns "c". */
static const char *split(const char *path, char **parent) {
  const char *slash = strrchr(path, '/');
  *parent = strndup(path, slash == path ? 1 : (size_t)(slash - path));
  if (!*parent) die_errno("split %s", path);
  return slash + 1;
}

/*
 * Dies unless directory fd (where path's last part is to be made) is on the container's
 * own filesystem: never create a file on the host (own-fs.h).
 */
static void check_own(int fd, const char *path) {
  char link[64], where[PATH_MAX];
  if (own_fs_holds(fd)) return;
  snprintf(link, sizeof link, STAGE_OLDROOT "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, where, sizeof where - 1);
  if (n < 0) n = snprintf(where, sizeof where, "its directory");
  where[n] = '\0';
  size_t prefix = strlen(STAGE_ROOT);
  const char *shown = strncmp(where, STAGE_ROOT, prefix) ? where : where[prefix] ? where + prefix : "/";
  die("cannot make the mount point %s: it would be made in %s, outside the container's own filesystem "
      "(in a host directory bound in, or the read-only image), reached through a symbolic link or below "
      "another bind; sif creates nothing on the host: create it there first, or choose another destination", path, shown);
}

/*
 * Opens a mount point in the new root: a directory (made with mode, and its missing
 * parents with 0755) or an empty file, created only when absent.
 */
static int mountpoint_in_root(const char *path, int want_dir, mode_t mode) {
  int flags = O_PATH | (want_dir ? O_DIRECTORY : 0);
  int fd = open_in(root_fd, path, flags);
  if (fd >= 0 || errno != ENOENT) {
    if (fd < 0) die_errno("opening %s in the container", path);
    return fd;
  }
  char *parent;
  const char *name = split(path, &parent);
  int pfd = mountpoint_in_root(parent, 1, 0755);
  check_own(pfd, path);
  int made = want_dir ? mkdirat(pfd, name, mode) : openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (made < 0) {
    /* EEXIST for a name we could not open: a dangling symlink. We do not create
       its target: the image, not the user, chose where it points. */
    if (errno == EEXIST) die("cannot make the mount point %s: it is a symbolic link to a missing path in the container", path);
    die_errno("creating %s in the container", path);
  }
  if (!want_dir) close(made);
  close(pfd);
  free(parent);
  fd = open_in(root_fd, path, flags);
  if (fd < 0) die_errno("opening %s in the container", path);
  return fd;
}

static void attach(int mnt_fd, const char *dst, int want_dir) {
  int dfd = mountpoint_in_root(dst, want_dir, want_dir ? 0755 : 0644);
  if (move_mount(mnt_fd, "", dfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    die_errno("mounting on %s in the container", dst);
  close(dfd);
  close(mnt_fd);
}

static void set_readonly(int fd, unsigned flags, const char *what) {
  struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
  if (mount_setattr(fd, "", AT_EMPTY_PATH | flags, &attr, sizeof attr) < 0)
    die_errno("making %s read-only", what);
}

/* A recursive copy of the mount tree at src_fd, not yet attached anywhere. */
static int clone_tree(int src_fd, const char *what) {
  int m = open_tree(src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
  if (m < 0) die_errno("cloning %s for a bind mount", what);
  return m;
}

/* Binds the source opened for op i (bind-sources.h). */
static void do_bind(const struct op *op, size_t i) {
  int sfd = bind_source_fd(i);
  if (sfd < 0) return; /* optional and absent */
  int m = clone_tree(sfd, op->src);
  close(sfd);
  if (op->flags & BIND_RO) set_readonly(m, AT_RECURSIVE, op->src);
  attach(m, op->dst, bind_source_is_dir(i));
}

static int new_fs(const char *type, const char *mode, unsigned attrs) {
  int fs = fsopen(type, FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  if ((mode && fsconfig(fs, FSCONFIG_SET_STRING, "mode", mode, 0) < 0) ||
      fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
    int err = errno;
    close(fs);
    errno = err;
    return -1;
  }
  int m = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
  int err = errno;
  close(fs);
  errno = err;
  return m;
}

static void do_tmpfs(const struct op *op) {
  char mode[8];
  snprintf(mode, sizeof mode, "%o", op->mode);
  int m = new_fs("tmpfs", mode, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (m < 0) die_errno("creating a tmpfs for %s", op->dst);
  own_fs_add(m, "");
  attach(m, op->dst, 1);
}

static void do_proc(const struct op *op) {
  int m = new_fs("proc", NULL, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (m < 0 && (errno == EPERM || errno == EACCES)) {
    /* A new proc needs our own PID namespace and a fully visible host /proc; else share the host's. */
    int sfd = open_in(host_fd, "/proc", O_PATH | O_DIRECTORY);
    if (sfd < 0) die_errno("opening the host's /proc");
    m = clone_tree(sfd, "/proc");
    close(sfd);
  }
  if (m < 0) die_errno("mounting proc on %s", op->dst);
  attach(m, op->dst, 1);
}

static void write_all(int fd, const char *data, size_t len, const char *what) {
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) die_errno("writing the contents of %s", what);
    off += (size_t)w;
  }
}

/* Whether data has a line whose first ':' field equals that of line. */
static int has_key(const char *data, size_t len, const char *line, size_t line_len) {
  size_t key = strcspn(line, ":\n");
  if (key > line_len) key = line_len;
  for (const char *p = data, *end = data + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > key && p[key] == ':' && !memcmp(p, line, key)) return 1;
    p += n + 1;
  }
  return 0;
}

/*
 * Appends the image's lines at op->dst that op->data does not replace. Only from a
 * regular file, opened without waiting (a FIFO) or gaining a terminal: anything else
 * could block the start for good, with every signal blocked (this runs before the exec).
 */
static void merge_image_lines(int out, const struct op *op) {
  static char buf[1 << 20];
  struct stat st;
  int in = open_in(root_fd, op->dst, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (in < 0) return; /* the image has no such file: ours is all there is */
  if (fstat(in, &st) < 0) die_errno("stat %s in the image", op->dst);
  if (!S_ISREG(st.st_mode)) {
    warn("%s in the image is not a regular file: its lines are left out", op->dst);
    close(in);
    return;
  }
  ssize_t n = read(in, buf, sizeof buf - 1);
  close(in);
  if (n <= 0) return;
  if (n == sizeof buf - 1) die("%s in the image is larger than %zu bytes", op->dst, sizeof buf - 1);
  /* The kept lines, moved to the front of buf in order, then written at once. */
  size_t kept = 0;
  for (char *p = buf, *end = buf + n; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (len && !has_key(op->data, op->data_len, p, len)) {
      memmove(buf + kept, p, len);
      kept += len;
      buf[kept++] = '\n';
    }
    p += len + 1;
  }
  write_all(out, buf, kept, op->dst);
}

static void do_file(const struct op *op, unsigned serial) {
  char path[64];
  snprintf(path, sizeof path, STAGE_FILES "/%u", serial);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, op->mode);
  if (fd < 0) die_errno("creating %s", path);
  write_all(fd, op->data, op->data_len, op->dst);
  if (op->kind == OP_MERGE) merge_image_lines(fd, op);
  if (fchmod(fd, op->mode) < 0) die_errno("chmod %s", path);
  close(fd);
  int sfd = open(path, O_PATH | O_CLOEXEC);
  if (sfd < 0) die_errno("open %s", path);
  int m = clone_tree(sfd, op->dst);
  close(sfd);
  set_readonly(m, 0, op->dst);
  attach(m, op->dst, 0);
}

static void do_symlink(const struct op *op) {
  char *parent;
  const char *name = split(op->dst, &parent);
  int pfd = mountpoint_in_root(parent, 1, 0755);
  check_own(pfd, op->dst);
  if (symlinkat(op->src, pfd, name) < 0) die_errno("creating the symlink %s in the container", op->dst);
  close(pfd);
  free(parent);
}

void ops_apply(const struct plan *plan, int new_root_fd, int host_root_fd) {
  root_fd = new_root_fd;
  host_fd = host_root_fd;
  for (size_t i = 0; i < plan->nops; i++) {
    const struct op *op = &plan->ops[i];
    switch (op->kind) {
      case OP_MKDIR: close(mountpoint_in_root(op->dst, 1, op->mode)); break;
      case OP_BIND: do_bind(op, i); break;
      case OP_PROC: do_proc(op); break;
      case OP_TMPFS: do_tmpfs(op); break;
      case OP_FILE: case OP_MERGE: do_file(op, (unsigned)i); break;
      case OP_SYMLINK: do_symlink(op); break;
      case OP_READONLY: {
        int fd = open_in(root_fd, op->dst, O_PATH);
        if (fd < 0) die_errno("opening %s in the container", op->dst);
        set_readonly(fd, AT_RECURSIVE, op->dst);
        close(fd);
        break;
      }
    }
  }
}
