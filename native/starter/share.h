/*
 * One container per node for the ranks of a job step (the plan's "share" record;
 * docs/design.md, "One container per node"). In a directory only the user can enter,
 * three files named after the plan's key, each used only through flock(2), which
 * the kernel releases whenever a process ends, however it ends:
 *   KEY.lock   exclusive while deciding to make or join, and while the container
 *              is built; holds the anchor's pid and the namespaces' identities
 *   KEY.live   exclusive for the life of the server process
 *   KEY.users  shared by every rank's sif process while its payload runs; the
 *              server takes it exclusive to learn that the last rank has gone
 * The first rank makes the container and a server process that outlives it; the
 * others setns(2) into its user and mount namespaces through the anchor, a process
 * that does nothing but exist in them (see share.c). With a linger time, the server
 * waits that long after the last rank for the job's next step (share-linger.h).
 */
#ifndef SIF_SHARE_H
#define SIF_SHARE_H

#include <sys/types.h>

#include "plan.h"

enum share_role {
  SHARE_NONE,   /* not shared: a container of our own, as without the record */
  SHARE_CREATE, /* we make the container (holding KEY.lock until share_publish) */
  SHARE_JOINED, /* we are in the container's namespaces, at its root */
};

/* Decides, under KEY.lock, to make or join; joins (single-threaded callers only).
   NONE when the plan has no share record or the directory is not private (a
   warning says why). */
enum share_role share_begin(const struct plan *plan);
/* Creator: dies unless image_fd is the file the key was made for (dev, inode). */
void share_check_image(const struct plan *plan, int image_fd);
/* Creator, just after entering the new namespaces: notes their identities. */
void share_note_namespaces(void);
/* Creator's rank process, after forking the server: keeps only its KEY.users lock. */
void share_rank_keep(void);
/* Server: starts the anchor (before any thread exists); returns its pid. */
pid_t share_anchor_start(void);
/* Server, once the container is built: lets others join through the anchor. */
void share_publish(pid_t anchor);
/* Server: returns once no rank uses the container, it has waited the plan's linger
   time for another (or was told to end), and none can join it any more. */
void share_wait_last_user(void);

#endif
