/* The caller's user database entry, for the container's /etc/passwd and /etc/group. */
#ifndef SIF_USER_ENTRY_H
#define SIF_USER_ENTRY_H

#include <node_api.h>

/* userEntry(): {uid, gid, user, home, shell, gecos, group?} or null when there is no entry. */
napi_value user_entry(napi_env env, napi_callback_info info);

#endif
