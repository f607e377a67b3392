/* The image's FUSE mount and the threads that serve it. */
#ifndef SIF_FUSE_SESSION_H
#define SIF_FUSE_SESSION_H

/* Opens /dev/fuse (before the host's /dev leaves our view); dies with advice on error. */
int fuse_device_open(void);
/* Mounts the squashfs served by squash_ops() at mountpoint over fuse_fd, storing
   files ahead of readers walking a listing when store_ahead is set, else naming them
   to the read-ahead process when read_ahead is (store-ahead.c); dies on error. */
void fuse_mount_image(int fuse_fd, const char *mountpoint, int store_ahead, int read_ahead);
/* Starts serving requests on background threads (call after fork). */
void fuse_serve_in_background(unsigned max_threads);
/* How many requests have been served so far. */
unsigned long fuse_requests_served(void);

#endif
