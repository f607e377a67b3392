/*
 * The plan's mount operations, applied to the new root that rootfs.c built.
 * Destinations are resolved inside the new root (so symlinks in the image cannot
 * lead outside it), and missing ones made only on the container's own filesystems
 * (own-fs.h); bind sources were opened before, in the host's root (bind-sources.h).
 */
#ifndef SIF_MOUNTS_H
#define SIF_MOUNTS_H

#include "plan.h"

void ops_apply(const struct plan *plan, int new_root_fd, int host_root_fd);

#endif
