/*
 * The container's own filesystems: the tmpfs'es and overlays sif mounts for it. Only
 * in them is a missing mount point made. Anywhere else a destination leads into a
 * host directory bound in earlier (through a symbolic link of the image, /etc -> /tmp
 * say, or as a bind below another bind), and making it there would write to the host.
 * Known by device number: one fstat per check, and checks are made only when
 * something is to be created.
 */
#ifndef SIF_OWN_FS_H
#define SIF_OWN_FS_H

/* Adds the filesystem that path (relative to dirfd; "" for dirfd itself) is on. */
void own_fs_add(int dirfd, const char *path);
/* Whether fd is on one of them. */
int own_fs_holds(int fd);

#endif
