/*
 * writer: builds a squashfs image with libsquashfs from a tree described node by
 * node. Knows nothing about Node-API; addon.c drives it. Not thread-safe: one
 * caller at a time (addon.c runs the blocking calls on the libuv pool, one at a
 * time; libsquashfs's block processor compresses on its own worker threads).
 */
#ifndef SQW_WRITER_H
#define SQW_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sqw sqw_t;

/* What failed: a step name, the libsquashfs error code (SQFS_ERROR_*, < 0) or 0,
   and errno where the step was an I/O one (0 otherwise). */
typedef struct {
  char step[160];
  int code;
  int sys_errno;
} sqw_error_t;

typedef struct {
  int compressor;       /* SQFS_COMP_* */
  int level;            /* -1: the compressor's default */
  uint32_t block_size;  /* power of two, 4 KiB .. 1 MiB */
  uint32_t workers;     /* compression threads; 0 or 1: compress on the calling thread */
  uint32_t backlog;     /* blocks in flight; 0: 10 per worker */
  uint32_t mtime;       /* super block modification time */
  bool export_table;    /* write an NFS export table */
} sqw_options_t;

typedef struct {
  uint64_t bytes_used;  /* image size without the padding to 4 KiB */
  uint64_t file_size;   /* image size on disk */
  uint32_t inodes;
  uint64_t input_bytes;
  uint64_t data_blocks;
  uint64_t frag_blocks;
  uint64_t sparse_blocks;
} sqw_stats_t;

#define SQW_ROOT 0u
#define SQW_NO_NODE UINT32_MAX

/* No I/O: checks the options and creates the compressor. */
int sqw_create(const sqw_options_t *opt, sqw_t **out, sqw_error_t *err);
/* Blocking: creates `path` (must not exist), writes a provisional super block. */
int sqw_open(sqw_t *w, const char *path, sqw_error_t *err);
void sqw_destroy(sqw_t *w);

/* Adds a node under directory `parent`; `mode` carries the S_IFMT type bits.
   `target` is the symlink target (S_IFLNK only); major/minor for S_IFCHR/S_IFBLK.
   Returns the node id through `id`. Names and targets are copied. */
int sqw_add_node(sqw_t *w, uint32_t parent, const uint8_t *name, size_t name_len, uint32_t mode,
                 uint32_t uid, uint32_t gid, uint32_t mtime, const uint8_t *target, size_t target_len,
                 uint32_t major, uint32_t minor, uint32_t *id, sqw_error_t *err);
/* A second name for the inode of node `target` (not a directory). */
int sqw_add_hardlink(sqw_t *w, uint32_t parent, const uint8_t *name, size_t name_len, uint32_t target,
                     uint32_t *id, sqw_error_t *err);
/* Replaces the permission bits (07777), owner and mtime of a node. */
int sqw_set_attrs(sqw_t *w, uint32_t id, uint32_t perm, uint32_t uid, uint32_t gid, uint32_t mtime,
                  sqw_error_t *err);
int sqw_add_xattr(sqw_t *w, uint32_t id, const char *key, const void *value, size_t len, sqw_error_t *err);
/* Unlinks node `id` (not the root) and, for a directory, everything below it, as
   `rm -r` would: the names are gone, but a file's inode (its data already written)
   stays in the image while another name links to it. */
int sqw_remove(sqw_t *w, uint32_t id, sqw_error_t *err);

/* Blocking (may wait for the compression workers). Data of one regular file at a
   time: append chunks, then end it. A file never written is stored empty. */
int sqw_file_append(sqw_t *w, uint32_t id, const void *data, size_t len, sqw_error_t *err);
int sqw_file_end(sqw_t *w, uint32_t id, sqw_error_t *err);

/* Blocking: flushes the data, writes inode and directory tables, fragment, export,
   id and xattr tables and the super block, pads to 4 KiB and closes the file. */
int sqw_finish(sqw_t *w, sqw_stats_t *stats, sqw_error_t *err);

/* Name of a libsquashfs error code, e.g. "SQFS_ERROR_IO". */
const char *sqw_error_name(int code);

#endif
