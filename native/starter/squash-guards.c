/*
 * Bounds checks that libsquashfuse lacks, put around its functions at link time
 * (-Wl,--wrap, see the Makefile: a call from one of its files to another, or from
 * ours, reaches the wrapper). It trusts positions and sizes read from the image:
 * a metadata cursor past the end of its block made it copy (size_t)-N bytes (the
 * SIGSEGV behind issue 10's unkillable processes); a name size of up to 64 KiB
 * was read into a 257-byte buffer; a table index past the table read a wild
 * block position; a short data block was copied from as if full. Each wrapper
 * turns those into SQFS_ERR, which the FUSE operations answer with EIO.
 * Found with test/native/squash-walk.c (sanitizers, mutated images).
 */
#include <malloc.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <squashfuse/squashfuse.h>

#include "squash-guards.h"

/* The name buffers handed to squashfuse for directory entries (sqfs_dentry_init):
   reads into them are at most a name long. A few per thread: one per request,
   and the walk of the tests holds two. */
#define NAME_BUFFERS 4
static __thread char *name_buffers[NAME_BUFFERS];
static __thread unsigned name_buffer_next;

static int is_name_buffer(const void *buf) {
  for (unsigned i = 0; i < NAME_BUFFERS; i++)
    if (buf && buf == name_buffers[i]) return 1;
  return 0;
}

void __real_sqfs_dentry_init(sqfs_dir_entry *entry, char *namebuf);
void __wrap_sqfs_dentry_init(sqfs_dir_entry *entry, char *namebuf) {
  if (namebuf && !is_name_buffer(namebuf)) name_buffers[name_buffer_next++ % NAME_BUFFERS] = namebuf;
  __real_sqfs_dentry_init(entry, namebuf);
}

/* Whether offset lies within (or just at the end of) the metadata block at pos. */
static int md_offset_ok(sqfs *fs, sqfs_off_t pos, size_t offset) {
  sqfs_block *block;
  if (sqfs_md_cache(fs, &pos, &block) != SQFS_OK || !block) return 0;
  return offset <= block->size; /* the cache's block: not ours to dispose */
}

sqfs_err __real_sqfs_md_read(sqfs *fs, sqfs_md_cursor *cur, void *buf, size_t size);
sqfs_err __wrap_sqfs_md_read(sqfs *fs, sqfs_md_cursor *cur, void *buf, size_t size) {
  if (!md_offset_ok(fs, cur->block, cur->offset)) return SQFS_ERR;
  /* dir.c then writes name[size]: the buffer holds SQUASHFS_NAME_LEN + 1. */
  if (size > SQUASHFS_NAME_LEN && is_name_buffer(buf)) return SQFS_ERR;
  return __real_sqfs_md_read(fs, cur, buf, size);
}

sqfs_err __real_sqfs_inode_get(sqfs *fs, sqfs_inode *inode, sqfs_inode_id id);
sqfs_err __wrap_sqfs_inode_get(sqfs *fs, sqfs_inode *inode, sqfs_inode_id id) {
  /* fs.c reads the inode without the wrapper above: check its position here. */
  if (!md_offset_ok(fs, (sqfs_off_t)(fs->sb.inode_table_start + (id >> 16)), id & 0xffff)) return SQFS_ERR;
  sqfs_err err = __real_sqfs_inode_get(fs, inode, id);
  if (err) return err;
  /* A fragment lies inside its block (read_range copies from there unchecked). */
  if (S_ISREG(inode->base.mode) && inode->xtra.reg.frag_idx != SQUASHFS_INVALID_FRAG) {
    uint64_t tail = inode->xtra.reg.file_size % fs->sb.block_size;
    if (inode->xtra.reg.frag_off > fs->sb.block_size - tail) return SQFS_ERR;
  }
  return SQFS_OK;
}

/* table.c does not check idx against the table's size, nor the entry against its block. */
static size_t table_count(sqfs *fs, sqfs_table *table) {
  if (table == &fs->id_table) return fs->sb.no_ids;
  if (table == &fs->frag_table) return fs->sb.fragments;
  if (table == &fs->export_table) return fs->sb.inodes;
  if (table == &fs->xattr_table) return fs->xattr_info.xattr_ids;
  return 0;
}

sqfs_err __wrap_sqfs_table_get(sqfs_table *table, sqfs *fs, size_t idx, void *buf);
sqfs_err __wrap_sqfs_table_get(sqfs_table *table, sqfs *fs, size_t idx, void *buf) {
  sqfs_block *block;
  if (idx >= table_count(fs, table) || !table->blocks) return SQFS_ERR;
  size_t pos = idx * table->each, offset = pos % SQUASHFS_METADATA_SIZE;
  sqfs_off_t at = (sqfs_off_t)table->blocks[pos / SQUASHFS_METADATA_SIZE];
  if (sqfs_md_cache(fs, &at, &block) != SQFS_OK || !block) return SQFS_ERR;
  if (offset + table->each > block->size) return SQFS_ERR;
  memcpy(buf, (char *)block->data + offset, table->each);
  return SQFS_OK;
}

int squash_block_pad(sqfs *fs, sqfs_block *b) {
  size_t full = fs->sb.block_size;
  if (b->size < full && malloc_usable_size(b->data) < full) {
    char *data = realloc(b->data, full);
    if (!data) return -1;
    memset(data + b->size, 0, full - b->size);
    b->data = data;
  }
  return 0;
}

/* The starter's cache shared by its instances (block-cache.c); where it is not
   linked in (the tests' walk), each instance's own caches. */
__attribute__((weak)) sqfs_err block_cache_get(sqfs *fs, sqfs_off_t pos, uint32_t hdr, sqfs_block **block);

/* A data or fragment block takes at most the block size on disk (a writer stores it
   uncompressed when compressing does not make it smaller): a size of up to 4 GiB
   was allocated and read. One shorter than the block size (corrupt, or the last of
   a file) gets zeroed memory up to it, so that a copy within a block stays inside. */
sqfs_err __real_sqfs_data_cache(sqfs *fs, sqfs_cache *cache, sqfs_off_t pos, uint32_t hdr, sqfs_block **block);
sqfs_err __wrap_sqfs_data_cache(sqfs *fs, sqfs_cache *cache, sqfs_off_t pos, uint32_t hdr, sqfs_block **block) {
  if ((hdr & ~SQUASHFS_COMPRESSED_BIT_BLOCK) > fs->sb.block_size) return SQFS_ERR;
  if (block_cache_get) return block_cache_get(fs, pos, hdr, block); /* padded before it is shared */
  sqfs_err err = __real_sqfs_data_cache(fs, cache, pos, hdr, block);
  if (err) return err;
  if (!*block || squash_block_pad(fs, *block)) return SQFS_ERR;
  return SQFS_OK;
}

/* read_range copies block->size - offset bytes, which wraps around for a block
   shorter than the offset: read one block at a time, so that a copy never goes past
   the block size (above). */
sqfs_err __real_sqfs_read_range(sqfs *fs, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size, void *buf);
sqfs_err __wrap_sqfs_read_range(sqfs *fs, sqfs_inode *inode, sqfs_off_t start, sqfs_off_t *size, void *buf) {
  sqfs_off_t done = 0, block = (sqfs_off_t)fs->sb.block_size;
  while (done < *size) {
    sqfs_off_t at = start + done, want = block - at % block;
    if (want > *size - done) want = *size - done;
    sqfs_off_t got = want;
    sqfs_err err = __real_sqfs_read_range(fs, inode, at, &got, (char *)buf + done);
    if (err) return err;
    if (got < 0 || got > want) return SQFS_ERR;
    done += got;
    if (got < want) break;
  }
  *size = done;
  return SQFS_OK;
}

/*
 * xattr.c's lookup reads the name of every entry of the wanted prefix into a
 * buffer the size of the wanted name (it skips only entries that differ in both
 * prefix and size). The same lookup, with the test the other way round, through
 * its iterator.
 */
sqfs_err __wrap_sqfs_xattr_lookup(sqfs *fs, sqfs_inode *inode, const char *name, void *buf, size_t *size);
sqfs_err __wrap_sqfs_xattr_lookup(sqfs *fs, sqfs_inode *inode, const char *name, void *buf, size_t *size) {
  static const char *const prefixes[] = {"user.", "trusted.", "security."}; /* by type, 0 to 2 */
  char found_name[SQUASHFS_NAME_LEN];
  sqfs_xattr x;
  uint16_t type = 0;
  while (type < 3 && strncmp(name, prefixes[type], strlen(prefixes[type]))) type++;
  const char *rest = name + (type < 3 ? strlen(prefixes[type]) : 0);
  size_t len = strlen(rest);
  sqfs_err err = sqfs_xattr_open(fs, inode, &x);
  if (err) return err;
  while (type < 3 && len <= sizeof found_name && x.remain) {
    if ((err = sqfs_xattr_read(&x))) return err;
    if (x.type != type || x.entry.size != len) continue;
    if ((err = sqfs_xattr_name(&x, found_name, false))) return err;
    if (memcmp(found_name, rest, len)) continue;
    size_t real;
    if ((err = sqfs_xattr_value_size(&x, &real))) return err;
    if (buf && *size >= real && (err = sqfs_xattr_value(&x, buf))) return err;
    *size = real;
    return SQFS_OK;
  }
  *size = 0;
  return SQFS_OK;
}
