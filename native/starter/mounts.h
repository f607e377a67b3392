/*
 * Building the container's root.
 *   stage_enter():  (parent) a private tmpfs becomes "/", the host moves to /oldroot;
 *                   the image is FUSE-mounted at STAGE_LOWER by the caller.
 *   root_assemble(): (child) overlay of the image and a tmpfs at STAGE_ROOT.
 *   ops_apply():    the plan's mount operations, destinations resolved inside
 *                   the new root so symlinks in the image cannot lead outside it.
 *   root_enter():   the new root becomes "/", the staging tree is detached.
 */
#ifndef SIF_MOUNTS_H
#define SIF_MOUNTS_H

#include "plan.h"

#define STAGE_LOWER "/lower"
#define STAGE_ROOT "/root"

void stage_enter(void);
/* (child) mount points the image lacks, made in the upper layer. */
void mountpoints_prepare(const struct plan *plan);
void root_assemble(void);
void ops_apply(const struct plan *plan);
void root_enter(const struct plan *plan);

#endif
