/* Entering the user and mount namespaces as the caller. */
#ifndef SIF_USERNS_H
#define SIF_USERNS_H

#include <sys/types.h>

/* Unshares and maps only uid -> uid and gid -> gid (setgroups denied). */
void userns_enter(uid_t uid, gid_t gid);

#endif
