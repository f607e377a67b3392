/*
 * userEntry(): the caller's passwd entry and primary group name, through the C
 * library's name service (files, LDAP, sssd: whatever nsswitch.conf says), as
 * `id` and Apptainer see them. Node's os.userInfo() has no gecos and no group.
 */
#define _GNU_SOURCE
#include "user-entry.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sets obj[key] to a string (or to the number n when s is NULL); false on failure. */
static int set(napi_env env, napi_value obj, const char *key, const char *s, double n) {
  napi_value v;
  napi_status st = s ? napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) : napi_create_double(env, n, &v);
  return st == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

/* Buffer sizes for the *_r lookups: doubled on ERANGE, up to 1 MiB. */
enum { FIRST_SIZE = 4096, MAX_SIZE = 1 << 20 };

/* The passwd entry of uid in *pw (strings in *buf, which the caller frees), or NULL. */
static struct passwd *passwd_of(uid_t uid, struct passwd *pw, char **buf) {
  struct passwd *found = NULL;
  for (size_t size = FIRST_SIZE; size <= MAX_SIZE; size *= 2) {
    char *b = realloc(*buf, size);
    if (!b) return NULL;
    *buf = b;
    if (getpwuid_r(uid, pw, b, size, &found) != ERANGE) return found;
  }
  return NULL;
}

/* The group entry of gid in *gr (strings in *buf, which the caller frees), or NULL. */
static struct group *group_of(gid_t gid, struct group *gr, char **buf) {
  struct group *found = NULL;
  for (size_t size = FIRST_SIZE; size <= MAX_SIZE; size *= 2) {
    char *b = realloc(*buf, size);
    if (!b) return NULL;
    *buf = b;
    if (getgrgid_r(gid, gr, b, size, &found) != ERANGE) return found;
  }
  return NULL;
}

napi_value user_entry(napi_env env, napi_callback_info info) {
  struct passwd pw, *pwp;
  struct group gr, *grp;
  char *pwbuf = NULL, *grbuf = NULL;
  uid_t uid = getuid();
  gid_t gid = getgid();
  napi_value out = NULL;
  (void)info;

  if (!(pwp = passwd_of(uid, &pw, &pwbuf))) {
    /* No entry, or the lookup failed: null, and the caller says what is missing. */
    napi_get_null(env, &out);
  } else {
    grp = group_of(gid, &gr, &grbuf);
    if (napi_create_object(env, &out) != napi_ok || !set(env, out, "uid", NULL, uid) || !set(env, out, "gid", NULL, gid) ||
        !set(env, out, "user", pwp->pw_name, 0) || !set(env, out, "home", pwp->pw_dir, 0) ||
        !set(env, out, "shell", pwp->pw_shell ? pwp->pw_shell : "", 0) ||
        !set(env, out, "gecos", pwp->pw_gecos ? pwp->pw_gecos : "", 0) || (grp && !set(env, out, "group", grp->gr_name, 0)))
      out = NULL;
  }
  free(pwbuf);
  free(grbuf);
  return out;
}
