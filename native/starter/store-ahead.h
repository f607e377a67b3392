/* Files a reader walks through in listing order: found ahead of it, and either
   decompressed on another thread and pushed into the kernel's page cache
   (--store-ahead), or named to the read-ahead process (dir-ahead.h), which has the
   kernel read them (store-ahead.c). */
#ifndef SIF_STORE_AHEAD_H
#define SIF_STORE_AHEAD_H

#include <stdint.h>

struct fuse_session;

/* How the storing thread gets a file's bytes: fills buf with the first size bytes of
   inode ino; returns 0, or -1 when it cannot. */
typedef int (*store_ahead_reader)(uint64_t ino, char *buf, uint64_t size);

/* The other way: names file ino to the read-ahead process. */
typedef void (*store_ahead_namer)(uint64_t ino);

/* Called once, before serving: where to store, and how to read; or, with read_file
   NULL, how to name instead. */
void store_ahead_init(struct fuse_session *se, store_ahead_reader read_file, store_ahead_namer name_file);
/* A listing gave this entry (READDIRPLUS: the kernel now knows its inode): a
   regular file, a symlink (link), or neither. */
void store_ahead_listed(uint64_t ino, uint64_t size, int regular, int link);
/* The kernel asked for a read of ino at off: the reader's position. */
void store_ahead_read(uint64_t ino, uint64_t off);
/* Stops storing, and returns once no store is under way. Call while the FUSE
   workers still serve, before the server exits (see store-ahead.c). */
void store_ahead_stop(void);

#endif
