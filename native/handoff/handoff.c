/*
 * handoff: replaces the Node process with the starter (execve), so no Node
 * process stays resident while the container runs. The plan travels in a sealed
 * memfd that the starter inherits; its number is given as --plan-fd N (and that
 * of the memory keeper's pipe, below, as --keeper-fd N).
 * The addon also answers who the caller is (user-entry.c): exec needs both, and
 * one addon loads faster than two.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "idle-holder.h"
#include "user-entry.h"

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, err == ENOENT ? "ENOENT" : "EHANDOFF", msg);
  return NULL;
}

static char *string_arg(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

/* A NULL-terminated copy of a JS string array. */
static char **string_array(napi_env env, napi_value arr, size_t extra) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc((size_t)n + extra + 1, sizeof *v);
  for (uint32_t i = 0; v && i < n; i++) {
    napi_value el;
    if (napi_get_element(env, arr, i, &el) != napi_ok || !(v[i] = string_arg(env, el))) return NULL;
  }
  return v;
}

static int plan_memfd(const void *data, size_t len) {
  int fd = memfd_create("sif-plan", MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, (const char *)data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    off += (size_t)w;
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) return -1;
  if (lseek(fd, 0, SEEK_SET) < 0) return -1;
  return fd;
}

/*
 * execve() tears down the old address space before it returns, and Node's is large
 * (~3 ms of a start, measured in a VM, on top of what exec-ing from a small process
 * costs). An idle holder sharing our memory (../common/idle-holder.h) keeps it alive
 * through the exec: the teardown then happens in its exit, at idle priority. It
 * exits when the write end of a pipe closes. The starter inherits that end (its
 * --keeper-fd) and closes it once its own busy start-up is over: the teardown still
 * occupies a CPU for several ms, which idle priority does not give back in time
 * (measured). Returns the write end, close-on-exec, or -1. The starter, which
 * inherits the holder as a child, reaps it like any other.
 */
static int memory_keeper(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  int pid = idle_holder_start(p[0], NULL);
  close(p[0]);
  if (pid < 0) {
    close(p[1]);
    return -1;
  }
  return p[1];
}

/* execStarter(path: string, plan: Buffer, env: string[]): never returns on success. */
static napi_value exec_starter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value args[3];
  void *plan;
  size_t plan_len;
  char fdnum[16], keepernum[16];

  if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, NULL, "execStarter(path, plan, env)");
    return NULL;
  }
  char *path = string_arg(env, args[0]);
  char **envp = string_array(env, args[2], 0);
  if (!path || !envp || napi_get_buffer_info(env, args[1], &plan, &plan_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "execStarter(path: string, plan: Buffer, env: string[])");
    return NULL;
  }
  int fd = plan_memfd(plan, plan_len);
  if (fd < 0) return throw_errno(env, "writing the launch plan", errno);
  snprintf(fdnum, sizeof fdnum, "%d", fd);
  char *argv[] = {path, "--plan-fd", fdnum, NULL, NULL, NULL};
  /* libuv marks stdio close-on-exec and may make the shared descriptions
     non-blocking; the payload needs them inherited and blocking. */
  for (int i = 0; i <= 2; i++) {
    int fd_flags = fcntl(i, F_GETFD), fl = fcntl(i, F_GETFL);
    if (fd_flags >= 0 && (fd_flags & FD_CLOEXEC)) fcntl(i, F_SETFD, fd_flags & ~FD_CLOEXEC);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(i, F_SETFL, fl & ~O_NONBLOCK);
  }
  /* Node calls libuv's uv_disable_stdio_inheritance at start-up, which marks every
     inherited descriptor below 16 close-on-exec. A PMI launcher (SLURM's pmi2 plugin,
     MPICH's Hydra) hands each rank its socket as PMI_FD: it must reach the payload. */
  const char *pmi_fd = getenv("PMI_FD");
  if (pmi_fd != NULL) {
    char *end;
    long n = strtol(pmi_fd, &end, 10);
    if (*pmi_fd != '\0' && *end == '\0' && n > 2 && n < 1 << 20) {
      int fd_flags = fcntl((int)n, F_GETFD);
      if (fd_flags >= 0 && (fd_flags & FD_CLOEXEC)) fcntl((int)n, F_SETFD, fd_flags & ~FD_CLOEXEC);
    }
  }
  int keeper = memory_keeper();
  /* Left close-on-exec if this fails: the holder then lets go at the exec. */
  if (keeper >= 0 && fcntl(keeper, F_SETFD, 0) == 0) {
    snprintf(keepernum, sizeof keepernum, "%d", keeper);
    argv[3] = "--keeper-fd";
    argv[4] = keepernum;
  }
  execve(path, argv, envp);
  int err = errno;
  close(fd);
  if (keeper >= 0) close(keeper);
  return throw_errno(env, path, err);
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, name, fn) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!export_function(env, exports, "execStarter", exec_starter) || !export_function(env, exports, "userEntry", user_entry))
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
