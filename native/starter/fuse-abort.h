/* The image's FUSE connection ended from our side, through its abort file
   (fuse-abort.c). */
#ifndef SIF_FUSE_ABORT_H
#define SIF_FUSE_ABORT_H

/* Opens the abort file of the FUSE mount at mountpoint, just mounted, finding the
   host's /proc and /sys under host_root (best effort: without fusectl there is
   none). */
void fuse_abort_arm(const char *mountpoint, const char *host_root);
/* The calling process is the one whose end should abort the connection. */
void fuse_abort_claim(void);
/* Fails every request in flight and to come, if armed and called by the claimant;
   async-signal-safe. */
void fuse_abort_now(void);

#endif
