/*
 * Reads ahead the files of a directory that a reader is taking in order (a tar or
 * rsync of a tree, Python importing a package's modules): each small file read
 * through FUSE is a round trip, where the kernel's own squashfs pays none. Once two
 * files of one directory are read from their start in the directory's order, the
 * next ones are named to the read-ahead process (prefetch.c), which asks the kernel
 * to read them (the reads come back here, and run on another CPU while the reader
 * works), so the reader finds them in the page cache.
 *
 * The read-ahead is a process of its own, holding no FUSE device, for the reason
 * prefetch.c gives: a server thread waiting on its own mount could never exit.
 * That is also why this is not done with FUSE_NOTIFY_STORE (see store-ahead.c).
 */
#ifndef SIF_DIR_AHEAD_H
#define SIF_DIR_AHEAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Files named whole, at most (by this file's windows and store-ahead.c's): larger
   ones are left to stream-ahead.c, window by window, if a reader goes through them. */
#define DIR_AHEAD_WHOLE_MAX (16u << 20)

/* Called for each regular file and symlink of a listing (name, its length, the
   file's size; link: a symlink); returns 1 to stop. */
typedef int (*dir_ahead_each)(void *ctx, const char *name, size_t len, uint64_t size, int link);
/* Lists directory dir's regular files and symlinks after the entry named after
   ("": from the first), in the image's order; 0, or -1 when the directory cannot be
   read. */
typedef int (*dir_ahead_lister)(uint64_t dir, const char *after, dir_ahead_each each, void *ctx);

/* Called once, before serving: makes the pipe on which the parts of files to read
   ahead are named, each in one write as "OFF LEN PATH" and a NUL: LEN bytes from
   OFF (decimal; LEN 0: to the end) of the file at PATH below the mount's root, or
   the target of the symlink there.
   Returns its read end for the read-ahead process (-1 when it cannot be made: then
   there is no read-ahead). */
int dir_ahead_start(dir_ahead_lister list);
/* The read-ahead process's pid: its own reads are followed by no window (they are
   the windows; taken for a reader's, they would run ahead through whole listings). */
void dir_ahead_process_is(pid_t pid);
/* Whether a request came from the read-ahead process. */
int dir_ahead_is_process(pid_t pid);

/* The kernel asked for, and got, a read of ino at off. */
void dir_ahead_read(uint64_t ino, uint64_t off);
/* Names one file to the read-ahead process (store-ahead.c, when it does not store). */
void dir_ahead_name_file(uint64_t ino);
/* Names len bytes of file ino from off (stream-ahead.c); 0, or -1 when there is no
   read-ahead, or the file's name is not known. */
int dir_ahead_name_range(uint64_t ino, uint64_t off, uint64_t len);

#endif
