/*
 * Reads ahead of a reader going through one large file in order (cat, cp, a tar or
 * checksum of a big library). The kernel reads ahead at most 128 KiB in a FUSE
 * file, the most a server may allow, so such a reader has one request in flight:
 * it waits while one thread decompresses a block or two, and the other CPUs idle.
 * Once two reads follow each other in a file, the next part of it is named to the
 * read-ahead process (dir-ahead.h), whose reads come back as requests served on the
 * other CPUs, in parallel, while the reader copies what it has.
 *
 * As for files (dir-ahead.c), one chunk in the middle of each window is left out:
 * the reader's miss there says how far it has come, and names the next window,
 * twice as large, up to WINDOW.
 */
#ifndef SIF_STREAM_AHEAD_H
#define SIF_STREAM_AHEAD_H

#include <stdint.h>

/* How the next part of a file is named; 0, or -1 when it cannot be. */
typedef int (*stream_ahead_namer)(uint64_t ino, uint64_t off, uint64_t len);

/* Called once, before serving (not at all: no read-ahead). */
void stream_ahead_init(stream_ahead_namer name);
/* A reader (not the read-ahead process) asked for size bytes of ino at off. */
void stream_ahead_read(uint64_t ino, uint64_t off, uint64_t size);

#endif
