/*
 * Reads ahead, through the image's FUSE mount, the files that the payload's exec
 * will load: its program, and (as for almost any program) the dynamic loader, its
 * cache and the C library.
 *
 * Started by the FUSE server once its workers serve, in a child process (never in
 * the server itself, see prefetch.c), it fills the page cache while the container
 * is still being built, so that the payload's exec finds those pages there. Then it
 * reads ahead the files the server names while the payload runs (dir-ahead.h). Best
 * effort: what is missing, or not a regular file, is skipped.
 */
#ifndef SIF_PREFETCH_H
#define SIF_PREFETCH_H

#include <sys/types.h>

#include "plan.h"

/* Forks the read-ahead process. lower: a directory fd on the image's mount; keeper:
   a file to hold open until the start-up files are read (or -1); hints: the read end
   of the pipe on which the server names files to read ahead (dir-ahead.h), followed
   until it closes (or -1). The caller closes its own copies of all three. The
   process dies with the caller. Returns its pid, or -1. */
pid_t prefetch_in_background(int lower, const struct plan *plan, int keeper, int hints);

#endif
