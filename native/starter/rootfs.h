/*
 * The container's root filesystem.
 *   rootfs_stage():    (parent) a private tmpfs becomes "/", the host moves to
 *                      STAGE_OLDROOT; the caller FUSE-mounts the image at STAGE_LOWER.
 *   rootfs_prepare():  (child) finds the mount points the image lacks.
 *   rootfs_assemble(): (child) builds STAGE_ROOT from the image seen through a
 *                      read-only overlay of its own (no FUSE round trip for the ioctls
 *                      of isatty): the image, or a tmpfs holding binds of its top-level
 *                      entries, with a writable overlay only on the image directories
 *                      that must gain mount points; with --writable-tmpfs, one
 *                      writable overlay over the whole image.
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
#define STAGE_EMPTY "/empty"

void rootfs_stage(void);
void rootfs_prepare(const struct plan *plan);
void rootfs_assemble(const struct plan *plan);
int rootfs_fd(void);
int hostfs_fd(void);
void rootfs_enter(const struct plan *plan);
void rootfs_enter_cwd(const struct plan *plan);

#endif
