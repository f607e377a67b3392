/*
 * Reads ahead, through the image's FUSE mount, the files that the payload's exec
 * will load: its program, and (as for almost any program) the dynamic loader, its
 * cache and the C library.
 *
 * Called by the FUSE server's main thread once its workers serve, it fills the page
 * cache while the child is still building the container, so that the payload's exec
 * finds those pages there. Best effort: what is missing, or not a regular file, is
 * skipped.
 */
#ifndef SIF_PREFETCH_H
#define SIF_PREFETCH_H

#include "plan.h"

/* lower: a directory fd on the image's mount. Must not run on a FUSE worker thread
   (its reads wait on the workers). */
void prefetch_startup_files(int lower, const struct plan *plan);

#endif
