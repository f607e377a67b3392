#define _GNU_SOURCE
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bind-sources.h"
#include "die.h"
#include "own-fs.h"
#include "resolve.h"

#define STAGE_BASE "/tmp" /* any host directory will do: it is covered only in our namespace */
#define MAX_GROW 64

static int root_fd = -1, host_fd = -1;
/* Image directories (canonical paths) that get an overlay so that mount points can
   be made in them; "/" (with --writable-tmpfs) means one overlay over everything. */
static char *grow[MAX_GROW];
static size_t ngrow;
/* Whether a mount point is missing at the image's top level (then "/" is a tmpfs). */
static int top_missing;

static void xmkdir(const char *path, mode_t mode) {
  if (mkdir(path, mode) < 0) die_errno("mkdir %s", path);
}

void rootfs_stage(void) {
  /* Host mounts still propagate in (slave), ours never propagate out. */
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) die_errno("making / a slave mount");
  if (mount("tmpfs", STAGE_BASE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
    die_errno("mounting the staging tmpfs on %s", STAGE_BASE);
  if (chdir(STAGE_BASE) < 0) die_errno("chdir %s", STAGE_BASE);
  xmkdir("oldroot", 0755);
  xmkdir("lower", 0755);
  xmkdir("upper", 0755);
  xmkdir("root", 0755);
  xmkdir("files", 0755);
  xmkdir("empty", 0755);
  if (syscall(SYS_pivot_root, ".", "oldroot") < 0) die_errno("pivot_root into the staging tmpfs");
  if (chdir("/") < 0) die_errno("chdir /");
}

/* Canonical path (inside the image) of what fd refers to below STAGE_LOWER. */
static void image_path_of(int fd, char *out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, STAGE_OLDROOT "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n < 0) die_errno("readlink %s", link);
  out[n] = '\0';
  size_t prefix = strlen(STAGE_LOWER);
  if (strncmp(out, STAGE_LOWER, prefix) || (out[prefix] != '/' && out[prefix] != '\0'))
    die("%s resolved outside the image", out);
  memmove(out, out + prefix, (size_t)n - prefix + 1);
  if (!out[0]) strcpy(out, "/");
}

static void mkdir_p(char *path, mode_t mode) {
  for (char *p = path + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    if (mkdir(path, mode) < 0 && errno != EEXIST) die_errno("mkdir %s", path);
    *p = c;
    if (!c) return;
  }
}

/* Whether path is dir or below it. */
static int is_within(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return !strcmp(dir, "/") || (!strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0'));
}

/*
 * When dst is missing from the image (lower: its root): fills canon with the image's canonical path
 * of its deepest existing ancestor (following the image's symlinks, inside the
 * image) and *rest with the offset in dst of what is missing; returns 0 when dst exists.
 */
static int missing_part(int lower, const char *dst, char *canon, size_t size, size_t *rest) {
  char *path = strdup(dst);
  if (!path) die_errno("strdup");
  size_t len = strlen(path), cut = len;
  int fd;
  for (;;) {
    path[cut] = '\0';
    fd = open_in(lower, cut ? path : "/", O_PATH);
    if (fd >= 0) break;
    if (errno != ENOENT && errno != ENOTDIR) die_errno("looking up %s in the image", path);
    while (cut > 0 && path[--cut] != '/') {}
  }
  free(path);
  if (cut == len) {
    close(fd);
    return 0;
  }
  image_path_of(fd, canon, size);
  close(fd);
  *rest = cut;
  return 1;
}

/* A mount point the plan needs, and what of it the image lacks (found once: each
   look-up in the image is a FUSE round trip the first time). */
struct mountpoint {
  char *dst;
  int dir;
  int missing;   /* then canon is the image's canonical path of dst's deepest */
  char *canon;   /* existing ancestor, and dst + rest is what is missing below it */
  size_t rest;
};
static struct mountpoint *mps;
static size_t nmps;

static void note(int lower, const char *dst, int dir) {
  char canon[PATH_MAX];
  struct mountpoint *m;
  if (!(mps = realloc(mps, (nmps + 1) * sizeof *mps))) die_errno("realloc");
  m = &mps[nmps++];
  *m = (struct mountpoint){.dst = strdup(dst), .dir = dir};
  if (!m->dst) die_errno("strdup");
  if ((m->missing = missing_part(lower, dst, canon, sizeof canon, &m->rest)) && !(m->canon = strdup(canon))) die_errno("strdup");
}

/* Notes the destination of every operation that needs a mount point. */
static void note_mountpoints(const struct plan *plan) {
  int lower = open(STAGE_LOWER, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (lower < 0) die_errno("open %s", STAGE_LOWER);
  for (size_t i = 0; i < plan->nops; i++) {
    const struct op *op = &plan->ops[i];
    switch (op->kind) {
      case OP_BIND:
        /* A missing optional source needs no mount point. */
        if (bind_source_fd(i) >= 0) note(lower, op->dst, bind_source_is_dir(i));
        break;
      case OP_FILE: case OP_MERGE: note(lower, op->dst, 0); break;
      case OP_MKDIR: case OP_PROC: case OP_TMPFS: note(lower, op->dst, 1); break;
      case OP_SYMLINK: {
        char *parent = strndup(op->dst, strrchr(op->dst, '/') == op->dst ? 1 : (size_t)(strrchr(op->dst, '/') - op->dst));
        if (!parent) die_errno("strndup");
        note(lower, parent, 1);
        free(parent);
        break;
      }
      case OP_READONLY: break;
    }
  }
  close(lower);
}

static void grow_add(const char *canon) {
  for (size_t i = 0; i < ngrow; i++)
    if (!strcmp(grow[i], canon)) return;
  if (ngrow == MAX_GROW) die("more than %d image directories need new mount points", MAX_GROW);
  if (!(grow[ngrow++] = strdup(canon))) die_errno("strdup");
}

static void make_missing(const struct mountpoint *m) {
  char full[2 * PATH_MAX];
  size_t i;
  if (!m->missing) return;
  for (i = 0; i < ngrow && !is_within(m->canon, grow[i]); i++) {}
  if (i == ngrow) return; /* top level: made in the tmpfs root when mounted */
  const char *below = strcmp(grow[i], "/") ? m->canon + strlen(grow[i]) : m->canon;
  snprintf(full, sizeof full, "/upper/%zu/data%s%s", i, strcmp(below, "/") ? below : "", m->dst + m->rest);
  char *leaf = strrchr(full, '/');
  *leaf = '\0';
  mkdir_p(full, 0755);
  *leaf = '/';
  if (m->dir) {
    if (mkdir(full, 0755) < 0 && errno != EEXIST) die_errno("creating the mount point %s", m->dst);
  } else {
    int f = open(full, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f < 0) die_errno("creating the mount point %s", m->dst);
    close(f);
  }
}

void rootfs_prepare(const struct plan *plan) {
  char dir[64];
  note_mountpoints(plan);
  if (plan->writable) {
    grow_add("/");
  } else {
    for (size_t i = 0; i < nmps; i++) {
      if (!mps[i].missing) continue;
      /* Missing at the top level: a tmpfs root takes it, no overlay needed. */
      if (strcmp(mps[i].canon, "/")) grow_add(mps[i].canon);
      else top_missing = 1;
    }
  }
  /* Keep only the outermost directories: an overlay covers what is below it. */
  for (size_t i = 0; i < ngrow;) {
    size_t j;
    for (j = 0; j < ngrow && (j == i || !is_within(grow[i], grow[j])); j++) {}
    if (j < ngrow) {
      free(grow[i]);
      grow[i] = grow[--ngrow];
    } else {
      i++;
    }
  }
  for (size_t i = 0; i < ngrow; i++) {
    snprintf(dir, sizeof dir, "/upper/%zu/data", i);
    mkdir_p(dir, 0755);
    snprintf(dir, sizeof dir, "/upper/%zu/work", i);
    xmkdir(dir, 0755);
  }
  for (size_t i = 0; i < nmps; i++) make_missing(&mps[i]);
}

static void overlay(const char *target, const char *lower, size_t layer, unsigned long flags) {
  char opts[PATH_MAX + 128];
  if (strpbrk(lower, ",:\\"))
    die("the image directory %s needs a new mount point, but its name cannot be given to overlayfs", lower);
  snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=/upper/%zu/data,workdir=/upper/%zu/work,userxattr", lower, layer, layer);
  /* userxattr keeps overlay's bookkeeping in user.* xattrs, which a user namespace may
     set; kernels or filesystems without it get the plain options. */
  if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV | flags, opts) < 0) {
    opts[strlen(opts) - strlen(",userxattr")] = '\0';
    if (mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV | flags, opts) < 0)
      die_errno("mounting an overlay on %s (overlayfs in a user namespace needs Linux 5.11 or newer)", target);
  }
}

/* The image's top-level entries, bound (or, for symlinks, copied) into the tmpfs root. */
static void bind_top_level(void) {
  DIR *d = opendir(STAGE_LOWER);
  struct dirent *e;
  char src[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];
  if (!d) die_errno("reading the image's root directory");
  while ((errno = 0, e = readdir(d))) {
    struct stat st;
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) die_errno("stat /%s in the image", e->d_name);
    snprintf(src, sizeof src, STAGE_LOWER "/%s", e->d_name);
    snprintf(dst, sizeof dst, STAGE_ROOT "/%s", e->d_name);
    if (S_ISLNK(st.st_mode)) {
      ssize_t n = readlink(src, target, sizeof target - 1);
      if (n < 0) die_errno("readlink /%s in the image", e->d_name);
      target[n] = '\0';
      if (symlink(target, dst) < 0) die_errno("symlink %s", dst);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      xmkdir(dst, 0755);
    } else {
      int f = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (f < 0) die_errno("creating %s", dst);
      close(f);
    }
    if (mount(src, dst, NULL, MS_BIND, NULL) < 0) die_errno("binding /%s of the image", e->d_name);
  }
  if (errno) die_errno("reading the image's root directory");
  closedir(d);
}

/*
 * The image, seen through a read-only overlay of it alone (and of an empty directory:
 * overlayfs wants two layers when it has no upper one). overlayfs has no ioctl for
 * regular files, so the kernel answers the TCGETS of isatty() itself, as its squashfs
 * does, instead of sending it to the FUSE server: Python asks it of every file it opens,
 * and those round trips were the whole gap of a repeated import to the kernel's
 * squashfs (bench/fuse-requests.sh, docs/design.md). Mounted over STAGE_LOWER, so that
 * everything built from the image below goes through it. Without userxattr, overlayfs
 * reads its own metadata only from trusted.* xattrs, which a user namespace cannot read
 * from the image: an image cannot steer it. Mounted by the child, once the server runs:
 * the mount asks the image's file system for its limits.
 */
static void overlay_image(void) {
  /* The overlay copies the modes of the image's root as they are now, and until asked
     the kernel knows the FUSE root only by its mount option (rootmode: no permission
     bits), so a container whose root is the image could not enter it: ask first. */
  struct stat st;
  if (stat(STAGE_LOWER, &st) < 0) die_errno("stat the image's root directory");
  /* Only a speed-up: where overlayfs cannot be mounted in a user namespace (EPERM
     before Linux 5.11, ENODEV without the module, EINVAL where an option is refused),
     the container reads the image through FUSE alone. Any other error is worth a word. */
  if (mount("overlay", STAGE_LOWER, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, "lowerdir=" STAGE_LOWER ":" STAGE_EMPTY) < 0 &&
      errno != EPERM && errno != ENODEV && errno != EINVAL)
    warn("the image's read-only overlay (reads go through FUSE alone): %s", strerror(errno));
}

void rootfs_assemble(const struct plan *plan) {
  char target[PATH_MAX], lower[PATH_MAX];
  if (plan->writable) {
    /* Its writable overlay over the whole image keeps the ioctls from FUSE already. */
    overlay(STAGE_ROOT, STAGE_LOWER, 0, 0);
  } else {
    overlay_image();
    if (!top_missing) {
      /* Nothing to add at the top: the image itself can be the root (one mount, not one per entry). */
      if (mount(STAGE_LOWER, STAGE_ROOT, NULL, MS_BIND, NULL) < 0) die_errno("binding the image as the root");
    } else {
      if (mount("tmpfs", STAGE_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) die_errno("mounting the root tmpfs");
      bind_top_level();
    }
    for (size_t i = 0; i < ngrow; i++) {
      snprintf(target, sizeof target, STAGE_ROOT "%s", grow[i]);
      snprintf(lower, sizeof lower, STAGE_LOWER "%s", grow[i]);
      overlay(target, lower, i, MS_RDONLY);
      own_fs_add(AT_FDCWD, target);
    }
  }
  root_fd = open(STAGE_ROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) die_errno("open %s", STAGE_ROOT);
  /* Mount points may be made in the root when it is a tmpfs or overlay, not the image itself. */
  if (plan->writable || top_missing) own_fs_add(root_fd, "");
  host_fd = open(STAGE_OLDROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (host_fd < 0) die_errno("open %s", STAGE_OLDROOT);
}

int rootfs_fd(void) { return root_fd; }
int hostfs_fd(void) { return host_fd; }

/* The working directory is looked up inside the container, and not through a magic
   link of /proc: /proc/<pid>/root of a process of sif's would lead to the host's root. */
static int open_cwd(int root, const struct plan *plan, int *err) {
  int cwd = open_in(root, plan->cwd, O_PATH | O_DIRECTORY);
  *err = errno;
  return cwd;
}

static void enter_cwd(int cwd, int cwd_err, const struct plan *plan) {
  if (cwd < 0 || fchdir(cwd) < 0)
    warn("cannot enter the working directory %s in the container (%s); using /", plan->cwd, strerror(cwd < 0 ? cwd_err : errno));
  if (cwd >= 0) close(cwd);
}

void rootfs_enter(const struct plan *plan) {
  int cwd_err, cwd = open_cwd(root_fd, plan, &cwd_err);
  if (!plan->writable) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(root_fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) die_errno("making the container's root read-only");
  }
  if (fchdir(root_fd) < 0) die_errno("chdir into the new root");
  /* pivot_root(".", ".") stacks the old root under the new one; detach it at once. */
  if (syscall(SYS_pivot_root, ".", ".") < 0) die_errno("pivot_root into the container");
  if (umount2(".", MNT_DETACH) < 0) die_errno("detaching the host's root");
  if (chdir("/") < 0) die_errno("chdir /");
  close(root_fd);
  close(host_fd);
  enter_cwd(cwd, cwd_err, plan);
}

void rootfs_enter_cwd(const struct plan *plan) {
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die_errno("open / in the container");
  int cwd_err, cwd = open_cwd(root, plan, &cwd_err);
  close(root);
  enter_cwd(cwd, cwd_err, plan);
}
