/*
 * The container's root filesystem.
 *   rootfs_stage():    (parent) a private tmpfs becomes "/", the host moves to
 *                      STAGE_OLDROOT; the caller FUSE-mounts the image at STAGE_LOWER.
 *   rootfs_prepare():  (child) finds the mount points the image lacks.
 *   rootfs_assemble(): (child) builds STAGE_ROOT: a tmpfs holding binds of the
 *                      image's top-level entries, with an overlay only on the image
 *                      directories that must gain mount points (overlayfs slows
 *                      reads, so the rest of the image is bound directly); with
 *                      --writable-tmpfs, one writable overlay over the whole image.
 *   rootfs_enter():    seals it read-only, makes it "/" and detaches the staging tree.
 *   rootfs_enter_cwd(): (a rank that joined a shared container, at its root) enters
 *                      the plan's working directory.
 */
#ifndef SIF_ROOTFS_H
#define SIF_ROOTFS_H

#include "plan.h"

#define STAGE_LOWER "/lower"
#define STAGE_ROOT "/root"
#define STAGE_OLDROOT "/oldroot"
#define STAGE_FILES "/files"

void rootfs_stage(void);
void rootfs_prepare(const struct plan *plan);
void rootfs_assemble(const struct plan *plan);
int rootfs_fd(void);
int hostfs_fd(void);
void rootfs_enter(const struct plan *plan);
void rootfs_enter_cwd(const struct plan *plan);

#endif
