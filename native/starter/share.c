/*
 * See share.h. Why an anchor: joining needs /proc/<pid>/ns/{user,mnt} of a process
 * in the container, which the kernel shows only to a caller that may ptrace it. The
 * starter's processes are not dumpable (main.c), so that nothing of the user's can
 * reach into them; the anchor is made dumpable, so the user's own sif processes on
 * the host (owners of the container's user namespace) can open its namespace files.
 * The payloads cannot: the anchor keeps every capability in the container's user
 * namespace, and the kernel lets a process there ptrace only one whose capabilities
 * it has too. It holds no file, and ends with the server (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include "share.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "die.h"
#include "share-linger.h"

#define JOIN_TRIES 5000 /* 1 ms apart: a server ends in well under that */

static int dir_fd = -1, lock_fd = -1, live_fd = -1, users_fd = -1;
static const char *key;
static const struct plan *plan;
static int published;
static struct stat ns_user, ns_mnt;

static void xflock(int fd, int op, const char *what) {
  while (flock(fd, op) < 0)
    if (errno != EINTR) die_errno("locking %s/%s.%s", "the node's container directory", key, what);
}

static int open_lock(const char *suffix) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", key, suffix);
  int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) die_errno("opening the lock file %s", name);
  return fd;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

/* The directory, made if missing; -1 (with a warning) unless it is ours alone. */
static int private_dir(const char *path) {
  struct stat st;
  if (mkdir(path, 0700) < 0 && errno != EEXIST) {
    warn("not sharing the container between ranks: cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    warn("not sharing the container between ranks: cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) < 0) die_errno("stat %s", path);
  if (st.st_uid != getuid() || (st.st_mode & 077)) {
    warn("not sharing the container between ranks: %s must be a directory of yours that only you can "
         "enter (it has owner %u, mode %o): remove it, or set XDG_RUNTIME_DIR",
         path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    close(fd);
    return -1;
  }
  return fd;
}

/* Opens /proc/<pid>/ns/<name> if it is the namespace recorded as (dev, ino). */
static int ns_fd(pid_t pid, const char *name, unsigned long long dev, unsigned long long ino) {
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, &st) < 0 || (unsigned long long)st.st_dev != dev || (unsigned long long)st.st_ino != ino) {
    close(fd);
    return -1;
  }
  return fd;
}

/* With KEY.lock and a KEY.users share held: enters the live container; 0 when its
   record does not lead to it (lock files left by something else: not joined). */
static int join(void) {
  char rec[128];
  int pid;
  unsigned long long udev, uino, mdev, mino;
  ssize_t n = pread(lock_fd, rec, sizeof rec - 1, 0);
  if (n < 0) die_errno("reading %s.lock", key);
  rec[n] = '\0';
  if (sscanf(rec, "%d %llu %llu %llu %llu", &pid, &udev, &uino, &mdev, &mino) != 5 || pid <= 0) return 0;
  int user = ns_fd(pid, "user", udev, uino), mnt = ns_fd(pid, "mnt", mdev, mino);
  if (user < 0 || mnt < 0) {
    if (user >= 0) close(user);
    if (mnt >= 0) close(mnt);
    return 0;
  }
  /* The open files hold the namespaces now: others may go ahead. */
  close_fd(&lock_fd);
  /* User first: joining the mount namespace needs capabilities in its owner. Then the
     kernel sets our root and working directory to the container's root. */
  if (setns(user, CLONE_NEWUSER) < 0) die_errno("joining the node's container (its user namespace)");
  if (setns(mnt, CLONE_NEWNS) < 0) die_errno("joining the node's container (its mount namespace)");
  close(user);
  close(mnt);
  close_fd(&dir_fd);
  return 1;
}

enum share_role share_begin(const struct plan *pl) {
  const struct timespec retry_wait = {.tv_sec = 0, .tv_nsec = 1000000};
  if (!pl->share_dir) return SHARE_NONE;
  plan = pl;
  key = pl->share_key;
  if ((dir_fd = private_dir(pl->share_dir)) < 0) return SHARE_NONE;
  for (int tries = 0; tries < JOIN_TRIES; tries++) {
    struct stat st;
    lock_fd = open_lock("lock");
    xflock(lock_fd, LOCK_EX, "lock");
    if (fstat(lock_fd, &st) < 0) die_errno("stat %s.lock", key);
    if (st.st_nlink == 0) { /* removed by a server that ended while we waited */
      close_fd(&lock_fd);
      continue;
    }
    live_fd = open_lock("live");
    users_fd = open_lock("users");
    if (flock(live_fd, LOCK_EX | LOCK_NB) == 0) {
      /* No server: ours to make. What a killed one left in the record goes. */
      if (ftruncate(lock_fd, 0) < 0) die_errno("truncating %s.lock", key);
      xflock(users_fd, LOCK_SH, "users");
      return SHARE_CREATE;
    }
    if (errno != EWOULDBLOCK) die_errno("locking %s.live", key);
    close_fd(&live_fd);
    if (flock(users_fd, LOCK_SH | LOCK_NB) == 0) {
      if (join()) return SHARE_JOINED;
      warn("not sharing the container between ranks: %s/%s.lock names no live container", pl->share_dir, key);
      close_fd(&users_fd);
      close_fd(&lock_fd);
      close_fd(&dir_fd);
      return SHARE_NONE;
    }
    if (errno != EWOULDBLOCK) die_errno("locking %s.users", key);
    /* Its server is ending (it has seen the last rank go): once it has, make a new one. */
    close_fd(&users_fd);
    close_fd(&lock_fd);
    nanosleep(&retry_wait, NULL);
  }
  die("the node's container %s/%s.* stayed busy ending for %d ms", pl->share_dir, key, JOIN_TRIES);
}

void share_check_image(const struct plan *pl, int image_fd) {
  struct stat st;
  if (fstat(image_fd, &st) < 0) die_errno("stat %s", pl->image);
  if ((unsigned long long)st.st_dev != pl->share_dev || (unsigned long long)st.st_ino != pl->share_ino)
    die("%s was replaced while sif started: run it again", pl->image);
}

void share_note_namespaces(void) {
  if (stat("/proc/self/ns/user", &ns_user) < 0) die_errno("stat /proc/self/ns/user");
  if (stat("/proc/self/ns/mnt", &ns_mnt) < 0) die_errno("stat /proc/self/ns/mnt");
}

void share_rank_keep(void) {
  close_fd(&lock_fd);
  close_fd(&live_fd);
  close_fd(&dir_fd);
}

pid_t share_anchor_start(void) {
  pid_t server = getpid(), pid = fork();
  if (pid < 0) die_errno("fork");
  if (pid > 0) return pid;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != server) _exit(EXIT_RUNTIME);
  sigset_t all;
  sigfillset(&all);
  /* Ends with the server only; scancel's SIGTERM is for the ranks. */
  if (sigprocmask(SIG_BLOCK, &all, NULL) < 0) _exit(EXIT_RUNTIME);
  /* No file of the server's: a pipe held open would keep its other end waiting. */
  if (syscall(SYS_close_range, 0, ~0U, 0) < 0) _exit(EXIT_RUNTIME);
  if (prctl(PR_SET_NAME, "sif-ns-anchor", 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0) _exit(EXIT_RUNTIME);
  for (;;) pause();
}

void share_publish(pid_t anchor) {
  char rec[128];
  int n = snprintf(rec, sizeof rec, "%d %llu %llu %llu %llu\n", (int)anchor, (unsigned long long)ns_user.st_dev,
                   (unsigned long long)ns_user.st_ino, (unsigned long long)ns_mnt.st_dev, (unsigned long long)ns_mnt.st_ino);
  if (pwrite(lock_fd, rec, (size_t)n, 0) != n) die_errno("writing %s.lock", key);
  xflock(lock_fd, LOCK_UN, "lock");
  published = 1;
}

/*
 * Removes the files of containers whose server is gone without removing them (killed:
 * SIGKILL after scancel's grace time), so that they do not pile up: a key whose
 * KEY.lock we get at once (no one deciding) and whose KEY.live is free (no server).
 * Ranks of such a container that still run hold only files no one else needs.
 */
static void sweep(void) {
  DIR *d = fdopendir(dup(dir_fd));
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d))) {
    char base[96], name[128];
    size_t n = strlen(e->d_name);
    if (n < 6 || n - 5 >= sizeof base || strcmp(e->d_name + n - 5, ".lock")) continue;
    memcpy(base, e->d_name, n - 5);
    base[n - 5] = '\0';
    int lock = openat(dir_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (lock < 0) continue;
    snprintf(name, sizeof name, "%s.live", base);
    int live = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (flock(lock, LOCK_EX | LOCK_NB) == 0 && fstat(lock, &st) == 0 && st.st_nlink > 0 &&
        (live < 0 || flock(live, LOCK_EX | LOCK_NB) == 0)) {
      const char *suffix[] = {"users", "live", "lock"};
      for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(name, sizeof name, "%s.%s", base, suffix[i]);
        (void)unlinkat(dir_fd, name, 0);
      }
    }
    if (live >= 0) close(live);
    close(lock);
  }
  closedir(d);
}

static long long now_ms(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_MONOTONIC, &t) < 0) die_errno("clock_gettime");
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Called holding KEY.users exclusive: no rank is in the container. Waits up to the
 * plan's window for the job's next step. Returns 1 once a rank has joined (holding
 * nothing: the caller waits for it to go), 0 to end, holding KEY.users and KEY.lock
 * (no rank can join any more). Whether a rank is in is looked at under KEY.lock, which
 * a joiner holds until it has its KEY.users share: a join is never half seen.
 */
static int linger(int users) {
  static int stop, quiet;
  if (!quiet) {
    /* The first step's stderr: whoever reads it (srun, a shell's $(...)) waits for
       every writer to close it, and no later step reads it. */
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, STDERR_FILENO) < 0) die_errno("/dev/null");
    close(null);
    quiet = 1;
  }
  if (stop || linger_begin() == LINGER_STOP) {
    xflock(lock_fd, LOCK_EX, "lock");
    return 0;
  }
  xflock(users, LOCK_UN, "users");
  /* A new window each time the last rank has gone. */
  long long end = now_ms() + (long long)plan->share_linger_ms;
  for (;;) {
    enum linger_event e = linger_wait((long)(end - now_ms()));
    if (e == LINGER_STOP) stop = 1;
    xflock(lock_fd, LOCK_EX, "lock");
    if (flock(users, LOCK_EX | LOCK_NB) < 0) {
      if (errno != EWOULDBLOCK) die_errno("locking %s.users", key);
      xflock(lock_fd, LOCK_UN, "lock");
      linger_end();
      return 1;
    }
    if (stop || now_ms() >= end) return 0;
    /* Opened by one that did not join (a joiner holds KEY.lock until it is in): the
       window goes on as it was, so that nothing but ranks can keep the container. */
    xflock(users, LOCK_UN, "users");
    xflock(lock_fd, LOCK_UN, "lock");
  }
}

void share_wait_last_user(void) {
  static char users_path[PATH_MAX + 64];
  /* Our own open file: the one inherited holds the rank's shared lock. */
  close_fd(&users_fd);
  int users = open_lock("users");
  /* Unpublished (the container was never built), no one could join it. */
  int lingers = published && plan->share_linger_ms > 0;
  if (lingers) {
    if ((size_t)snprintf(users_path, sizeof users_path, "%s/%s.users", plan->share_dir, key) >= sizeof users_path)
      die("%s: path too long", plan->share_dir);
    lingers = linger_watch_open(plan->image, users_path) == 0;
  }
  xflock(users, LOCK_EX, "users");
  while (lingers && linger(users)) xflock(users, LOCK_EX, "users");
  /* Ranks that would join now see it ending; none joins while we hold both (linger()
     returns holding both). */
  if (!lingers) xflock(lock_fd, LOCK_EX, "lock");
  const char *suffix[] = {"users", "live", "lock"};
  for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
    char name[96];
    snprintf(name, sizeof name, "%s.%s", key, suffix[i]);
    if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT) warn("cannot remove %s: %s", name, strerror(errno));
  }
  /* Best effort, and after the last rank: no one waits for it. */
  sweep();
  /* The locks go with our exit. */
}
