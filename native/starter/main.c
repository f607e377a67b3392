/*
 * sif-starter: turns a launch plan into a running container.
 *
 *   parent: unshare user and mount namespaces, map the caller's uid/gid,
 *           FUSE-mount the image, fork, then serve FUSE on threads, start a
 *           process that reads ahead the files the payload's exec will load
 *           (prefetch.h; the server itself never waits on its mount), and supervise
 *           the child (signals forwarded, exit status passed on); a holder
 *           process keeps the namespaces for the teardown after us.
 *   child:  overlay root, mount operations, pivot_root, no_new_privs, exec
 *           (with --pid: a new PID namespace whose init builds the container,
 *           forks the payload and reaps).
 *   shared (share.h): the first rank of a job step on the node does the above,
 *           but serves FUSE from a server process of its own that outlives it
 *           until the last rank has gone; the other ranks join its namespaces
 *           and only fork, supervise and exec.
 *
 * Usage: sif-starter --plan-fd N [--keeper-fd N]   (the plan format: plan.h)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bind-sources.h"
#include "crash-exit.h"
#include "die.h"
#include "dir-ahead.h"
#include "fuse-abort.h"
#include "fuse-session.h"
#include "mounts.h"
#include "ns-holder.h"
#include "payload.h"
#include "plan.h"
#include "prefetch.h"
#include "rootfs.h"
#include "share.h"
#include "squash-check.h"
#include "squash-ops.h"
#include "store-ahead.h"
#include "supervise.h"
#include "userns.h"

#define MAX_FUSE_THREADS 16

static unsigned fuse_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 2) n = 2;
  return n > MAX_FUSE_THREADS ? MAX_FUSE_THREADS : (unsigned)n;
}

static int fd_arg(const char *arg) {
  char *end;
  errno = 0;
  long fd = strtol(arg, &end, 10);
  if (errno || *end || fd < 3 || fd > 1 << 20) die("bad fd '%s'", arg);
  return (int)fd;
}

/*
 * --plan-fd: the launch plan. --keeper-fd (optional): the pipe whose closing lets
 * the process holding Node's old memory free it (handoff.c). We close it once the
 * busy part of the start is over: freeing that memory takes a CPU for several ms,
 * which the start-up would otherwise compete for (measured: ~3.5 ms off a start
 * followed by other work; no change when starts run back to back).
 */
static void parse_args(int argc, char **argv, int *plan_fd, int *keeper_fd) {
  if ((argc != 3 && argc != 5) || strcmp(argv[1], "--plan-fd") || (argc == 5 && strcmp(argv[3], "--keeper-fd")))
    die("usage: sif-starter --plan-fd N [--keeper-fd N] (it is started by sif)");
  *plan_fd = fd_arg(argv[2]);
  *keeper_fd = argc == 5 ? fd_arg(argv[4]) : -1;
  if (*keeper_fd == *plan_fd) die("--plan-fd and --keeper-fd must differ");
  /* Nothing we start may hold it (the child closes it too). */
  if (*keeper_fd >= 0 && fcntl(*keeper_fd, F_SETFD, FD_CLOEXEC) < 0) *keeper_fd = -1;
}

/*
 * Faults in, in one call, heap memory that the FUSE server's first requests will
 * use (image blocks, zstd contexts). A page fault taken one page at a time is much
 * dearer than populating pages in bulk, ~20x in virtual machines (measured: 13 us
 * against 0.6 us a page); start-up took ~200 of them. The memory goes back to malloc,
 * which keeps it (M_TRIM_THRESHOLD). Best effort: kernels before 5.14 lack the call.
 */
static void heap_prefault(void) {
  enum { CHUNK = 512 << 10, CHUNKS = 4 }; /* under M_MMAP_THRESHOLD: heap, not mmap */
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  char *chunk[CHUNKS];
  size_t n = 0;
  while (n < CHUNKS && (chunk[n] = malloc(CHUNK))) {
    uintptr_t start = ((uintptr_t)chunk[n] + page - 1) & ~(page - 1), end = ((uintptr_t)chunk[n] + CHUNK) & ~(page - 1);
    n++;
    /* Only a speed-up: an older kernel (EINVAL) or a memory limit just means faults later. */
    if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) < 0) break;
  }
  while (n) free(chunk[--n]);
}

/*
 * Gives the heap's free memory back to the system whenever the FUSE server has gone
 * quiet (a tick of supervise() in which it served nothing) after serving, during
 * the first 5 s: the start-up, however slow the machine makes it. Freed image blocks stay in
 * malloc between requests (M_TRIM_THRESHOLD, in main()), which is what keeps the
 * start and busy periods fast; a container that then sits idle for hours need not
 * hold them (measured: 1.4 of the server's 4.1 MiB). Returns 0 when done.
 */
static int trim_after_start(void) {
  static unsigned long seen, ticks;
  static int dirty = 1;
  unsigned long served = fuse_requests_served();
  if (served != seen) {
    seen = served;
    dirty = 1;
  } else if (dirty) {
    malloc_trim(0);
    dirty = 0;
  }
  if (++ticks < 5000 / SUPERVISE_TICK_MS) return 1;
  if (dirty) malloc_trim(0);
  return 0;
}

/* Shared containers: the child writes a byte here once the container is built, so
   that the server lets other ranks join it (they land in its root). */
static int built_fd = -1;

/* Builds the container and runs the payload in it (as PID 1's child with --pid). */
__attribute__((noreturn)) static void container_main(const struct plan *plan) {
  bind_sources_open(plan);
  rootfs_prepare(plan);
  rootfs_assemble(plan);
  ops_apply(plan, rootfs_fd(), hostfs_fd());
  rootfs_enter(plan);
  if (built_fd >= 0 && write(built_fd, "b", 1) != 1) die_errno("telling the server the container is built");
  if (!plan->new_pid) payload_exec(plan);
  pid_t payload = fork();
  if (payload < 0) die_errno("fork");
  if (payload == 0) payload_exec(plan);
  _exit(supervise(payload, NULL));
}

/* The files the parent holds, which the child must close. */
struct server_fds {
  int fuse, image, keeper, host, lower;
};

__attribute__((noreturn)) static void child_main(const struct plan *plan, pid_t server, const struct server_fds *fds) {
  /* Holding the FUSE device would keep the mount alive if the server died, and
     our own requests to it would then wait forever. */
  const int held[] = {fds->fuse, fds->image, fds->keeper, fds->host, fds->lower};
  for (size_t i = 0; i < sizeof held / sizeof *held; i++)
    if (held[i] >= 0) close(held[i]);
  /* Without the FUSE server the image is gone; do not outlive it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("PR_SET_PDEATHSIG");
  if (getppid() != server) _exit(EXIT_RUNTIME);
  if (!plan->new_pid) container_main(plan);
  /* The FUSE server cannot enter a new PID namespace (it could no longer start
     threads), so this child does, and its first child is the namespace's init. */
  if (unshare(CLONE_NEWPID) < 0) die_errno("creating a PID namespace");
  pid_t init = fork();
  if (init < 0) die_errno("fork");
  if (init == 0) {
    /* (Our parent is outside the new namespace, so getppid() says 0 here.) */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("PR_SET_PDEATHSIG");
    container_main(plan);
  }
  _exit(supervise(init, NULL));
}

/* A rank that joined the node's container (share.h): it only forks and supervises
   the payload, which starts in the container as it is. */
__attribute__((noreturn)) static void joined_main(const struct plan *plan, int keeper) {
  if (prctl(PR_SET_DUMPABLE, 0) < 0) die_errno("PR_SET_DUMPABLE");
  signals_block();
  pid_t self = getpid(), child = fork();
  if (child < 0) die_errno("fork");
  if (child == 0) {
    if (keeper >= 0) close(keeper);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("PR_SET_PDEATHSIG");
    if (getppid() != self) _exit(EXIT_RUNTIME);
    rootfs_enter_cwd(plan);
    payload_exec(plan);
  }
  if (keeper >= 0) close(keeper);
  _exit(supervise(child, NULL));
}

static void *trim_loop(void *unused) {
  const struct timespec tick = {.tv_sec = 0, .tv_nsec = SUPERVISE_TICK_MS * 1000000L};
  (void)unused;
  do nanosleep(&tick, NULL);
  while (trim_after_start());
  return NULL;
}

/*
 * The server's start, once it stands in the host's root (both kinds of server): serve,
 * start the read-ahead process with the pipe on which the server names files for it
 * (dir-ahead.h), and let go of what only the read-ahead needed.
 */
static void start_serving(const struct plan *plan, struct server_fds *fds) {
  crash_exit_install(plan->image);
  int hints = plan->no_read_ahead ? -1 : dir_ahead_start(squash_list_files_after);
  /* Serve first: the child is already waiting for its first answers. */
  fuse_serve_in_background(fuse_threads());
  /* The keeper goes with the read-ahead: closed when the busy part of the start is over. */
  if (fds->lower >= 0) {
    dir_ahead_process_is(prefetch_in_background(fds->lower, plan, fds->keeper, hints));
    close(fds->lower);
  }
  if (hints >= 0) close(hints);
  if (fds->keeper >= 0) close(fds->keeper);
  heap_prefault();
  ns_holder_start();
}

/*
 * The server of a shared container: a process of its own, forked by the first rank's
 * before any thread, so that that rank's sif exits with its payload (srun sees each
 * rank end when it ends) while the others still read the image. It lets ranks join
 * once the child says the container is built, and ends when the last rank has gone.
 * It ignores the signals a rank forwards (scancel's SIGTERM ends the ranks, and then
 * it); it keeps stderr, for its errors, and nothing else of the rank's.
 */
__attribute__((noreturn)) static void shared_server_main(const struct plan *plan, struct server_fds *fds, int built) {
  char b;
  pid_t anchor = share_anchor_start();
  if (fchdir(fds->host) < 0 || chroot(".") < 0 || chdir("/") < 0) die_errno("chroot to the host's root");
  close(fds->host);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0) die_errno("/dev/null");
  close(null);
  start_serving(plan, fds);
  pthread_t trim;
  if (!pthread_create(&trim, NULL, trim_loop, NULL)) pthread_detach(trim);
  ssize_t n;
  while ((n = read(built, &b, 1)) < 0 && errno == EINTR) {}
  /* Nothing read: the child failed before the container was built; no one joins. */
  if (n == 1) share_publish(anchor);
  close(built);
  share_wait_last_user();
  store_ahead_stop();
  _exit(0);
}

int main(int argc, char **argv) {
  struct plan plan;
  /* No privilege may come from this binary: it is never installed setuid. */
  if (getauxval(AT_SECURE) || getuid() != geteuid() || getgid() != getegid())
    die("sif-starter must not be setuid or setgid: remove the bit (chmod u-s,g-s)");
  int plan_fd;
  struct server_fds fds;
  parse_args(argc, argv, &plan_fd, &fds.keeper);
  /* One malloc arena for all threads: making a new one for each FUSE worker cost
     about 4 ms of every start (measured), more than their lock contention costs. */
  if (!mallopt(M_ARENA_MAX, 1)) die("mallopt(M_ARENA_MAX) failed");
  /* Memory freed by a request is kept for the next one. By default each image block
     and each zstd context above 128 KiB is a fresh mmap, or heap given back at once,
     and every first touch of a fresh page faults: most of the FUSE server's start-up
     time went there (measured with perf, page-faults). libfuse's 1 MiB request
     buffers, mostly untouched, stay mmaps. */
  if (!mallopt(M_MMAP_THRESHOLD, 1 << 20) || !mallopt(M_TRIM_THRESHOLD, 256 << 20)) die("mallopt failed");
  signals_reset();
  plan_read(plan_fd, &plan);
  close(plan_fd);
  enum share_role share = share_begin(&plan);
  if (share == SHARE_JOINED) joined_main(&plan, fds.keeper);

  fds.image = open(plan.image, O_RDONLY | O_CLOEXEC);
  if (fds.image < 0) die_errno("open %s", plan.image);
  if (share == SHARE_CREATE) share_check_image(&plan, fds.image);
  char why[512];
  if (squash_check(fds.image, plan.offset, why, sizeof why)) die("%s: corrupt squashfs: %s", plan.image, why);
  /* One instance more than workers: the store-ahead thread's (store-ahead.c). */
  squash_pool_init(fds.image, plan.offset, fuse_threads() + 1, getuid(), getgid());

  userns_enter(getuid(), getgid());
  if (share == SHARE_CREATE) share_note_namespaces();
  /* Not dumpable: no process of the caller's, the payload included, may reach into
     ours through /proc/<pid> (root, fd, mem); the server's root is the host's. Only
     after the id maps are written: our /proc/self files now belong to root. Inherited
     by the child and the holder; the payload's exec makes it dumpable again (its
     /proc/self stays its own). */
  if (prctl(PR_SET_DUMPABLE, 0) < 0) die_errno("PR_SET_DUMPABLE");
  /* The kernel wants the device opened by the namespace that mounts it. */
  fds.fuse = fuse_device_open();
  rootfs_stage();
  fuse_mount_image(fds.fuse, STAGE_LOWER, plan.store_ahead, !plan.no_read_ahead);
  if (plan.store_ahead) fuse_abort_arm(STAGE_LOWER, STAGE_OLDROOT);
  /* Opened before the fork: once the child has called pivot_root, these paths
     would name places in the container. lower is for the read-ahead only (best
     effort: without it, there is none). */
  fds.host = open(STAGE_OLDROOT, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fds.host < 0) die_errno("open %s", STAGE_OLDROOT);
  fds.lower = open(STAGE_LOWER, O_PATH | O_DIRECTORY | O_CLOEXEC);

  signals_block();
  pid_t self = getpid(), child;
  if (share == SHARE_CREATE) {
    int built[2];
    if (pipe2(built, O_CLOEXEC) < 0) die_errno("pipe");
    pid_t server = fork();
    if (server < 0) die_errno("fork");
    if (server == 0) {
      close(built[1]);
      shared_server_main(&plan, &fds, built[0]);
    }
    close(built[0]);
    built_fd = built[1];
    if ((child = fork()) < 0) die_errno("fork");
    if (child == 0) child_main(&plan, self, &fds);
    /* This rank's process: the payload's supervisor, no longer the server. */
    close(built_fd);
    const int held[] = {fds.fuse, fds.image, fds.keeper, fds.lower};
    for (size_t i = 0; i < sizeof held / sizeof *held; i++)
      if (held[i] >= 0) close(held[i]);
    share_rank_keep();
    if (fchdir(fds.host) < 0 || chroot(".") < 0 || chdir("/") < 0) die_errno("chroot to the host's root");
    close(fds.host);
    _exit(supervise(child, NULL));
  }
  child = fork();
  if (child < 0) die_errno("fork");
  if (child == 0) child_main(&plan, self, &fds);
  /* The child's pivot_root would move us into the container too, whose files we
     serve: any file our threads open there (glibc reads /sys lazily, for one)
     would wait on ourselves. Stay in the host's root instead. */
  if (fchdir(fds.host) < 0 || chroot(".") < 0 || chdir("/") < 0) die_errno("chroot to the host's root");
  close(fds.host);
  start_serving(&plan, &fds);
  int status = supervise(child, trim_after_start);
  store_ahead_stop();
  _exit(status);
}
