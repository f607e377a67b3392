/*
 * Checks a squashfs superblock and the headers of its tables before squashfuse
 * trusts them: squashfuse reads wherever they point, and a corrupt image made its
 * reads fault (a crash of the FUSE server). Cheap: one superblock and a few table
 * indexes (a few hundred bytes, which squashfuse then reads from the page cache).
 */
#ifndef SIF_SQUASH_CHECK_H
#define SIF_SQUASH_CHECK_H

#include <stddef.h>

/* Checks the squashfs at offset in fd (which ends at the end of the file at the
   latest). Returns 0, or -1 with what is wrong written to why. */
int squash_check(int fd, unsigned long long offset, char *why, size_t why_size);

#endif
