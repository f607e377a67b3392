/*
 * Where each inode the kernel was given sits: its directory and its name, as a
 * lookup or a listing (READDIRPLUS) gave it. FUSE names files by inode number
 * only, and a squashfs file does not know its directory; the read-ahead
 * (dir-ahead.c) needs both, and a path from the root to hand to its reader.
 * Thread-safe. Bounded: past KNOWN_NAMES_MAX entries nothing more is noted.
 */
#ifndef SIF_KNOWN_NAMES_H
#define SIF_KNOWN_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define KNOWN_NAMES_MAX (1u << 20)
/* A squashfs name is at most 256 bytes. */
#define KNOWN_NAME_SIZE 257

/* Called once, before serving: until then nothing is noted (no read-ahead, no
   memory spent). */
void known_names_start(void);
/* Whether name could be a path component: not "", ".", "..", too long, or holding
   '/' or a NUL (a hostile image's listing may give any bytes). */
int known_name_ok(const char *name, size_t len);
/* The kernel was given inode ino as name in directory parent. Names that could not
   be a path component are not noted. */
void known_names_add(uint64_t parent, const char *name, size_t len, uint64_t ino);
/* ino's directory and name (name: KNOWN_NAME_SIZE bytes); 0, or -1 when unknown. */
int known_names_get(uint64_t ino, uint64_t *parent, char *name);
/* The path of directory ino from the mount's root, without a leading '/' ("" for the
   root); 0, or -1 when unknown, too deep, or longer than size. */
int known_names_path(uint64_t ino, char *path, size_t size);

#endif
