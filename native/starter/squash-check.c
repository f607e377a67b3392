/*
 * See squash-check.h. The checks follow the layout every squashfs writer uses and
 * the Linux kernel enforces (fs/squashfs/super.c): after the superblock and the
 * data, the inode table, the directory table, then the fragment, export (lookup),
 * id and xattr tables, each of these four as metadata blocks followed by their
 * index (the u64 positions of those blocks), all of it within bytes_used. Walking
 * from the end, each index must fit before the table after it, and its blocks must
 * lie, in order, before the index.
 */
#define _GNU_SOURCE
#include "squash-check.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUPERBLOCK_SIZE 96
#define MAGIC 0x73717368 /* "hsqs" */
#define ABSENT UINT64_MAX
#define MD_SIZE 8192            /* a metadata block's content, uncompressed */
#define MD_BLOCK_MAX (2 + MD_SIZE) /* and on disk: header and content */
#define MAX_INDEX (1 << 20)     /* index entries: 512 Mi inodes for the export table */

struct check {
  int fd;
  uint64_t offset, used;
  char *why;
  size_t why_size;
};

__attribute__((format(printf, 2, 3))) static int bad(struct check *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why, c->why_size, fmt, ap);
  va_end(ap);
  return -1;
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p) { return le16(p) | (uint32_t)le16(p + 2) << 16; }
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Reads len bytes at pos of the filesystem (already checked to lie within it). */
static int read_at(struct check *c, void *buf, size_t len, uint64_t pos, const char *what) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(c->fd, (char *)buf + done, len - done, (off_t)(c->offset + pos + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return bad(c, "cannot read the %s: %s", what, strerror(errno));
    if (n == 0) return bad(c, "the file ends inside the %s", what);
    done += (size_t)n;
  }
  return 0;
}

/*
 * A table of count entries of each bytes: its index at start must end by *next, and
 * the blocks it lists lie in order after byte after, each at most one block long,
 * the last one ending where the index starts. On success *next becomes the first
 * block's position: where the table before this one must end.
 */
static int check_table(struct check *c, const char *name, uint64_t start, uint64_t count, unsigned each,
                       uint64_t after, uint64_t *next) {
  unsigned char chunk[4096];
  uint64_t blocks = (count * each + MD_SIZE - 1) / MD_SIZE, first = 0, prev = after;
  if (count == 0 || blocks > MAX_INDEX) return bad(c, "the %s table has %llu entries", name, (unsigned long long)count);
  if (start < SUPERBLOCK_SIZE || start > *next || *next - start < blocks * 8)
    return bad(c, "the %s table's index (%llu bytes at byte %llu) is not inside the filesystem, before byte %llu", name,
               (unsigned long long)(blocks * 8), (unsigned long long)start, (unsigned long long)*next);
  for (uint64_t i = 0; i < blocks; i++) {
    size_t at = (size_t)(i % (sizeof chunk / 8)) * 8;
    if (at == 0) {
      uint64_t left = (blocks - i) * 8;
      if (read_at(c, chunk, left < sizeof chunk ? (size_t)left : sizeof chunk, start + i * 8, "table index")) return -1;
    }
    uint64_t pos = le64(chunk + at);
    /* Each block starts after the one before and at most one block later. */
    if ((i ? pos <= prev : pos < prev) || pos >= start || (i && pos - prev > MD_BLOCK_MAX))
      return bad(c, "block %llu of the %s table is at byte %llu, not after byte %llu or not before its index (byte %llu)",
                 (unsigned long long)i, name, (unsigned long long)pos, (unsigned long long)prev,
                 (unsigned long long)start);
    if (i == 0) first = pos;
    prev = pos;
  }
  if (start - prev > MD_BLOCK_MAX)
    return bad(c, "the last block of the %s table (byte %llu) ends more than a block before its index (byte %llu)", name,
               (unsigned long long)prev, (unsigned long long)start);
  *next = first;
  return 0;
}

static int check_xattrs(struct check *c, uint64_t start, uint64_t after, uint64_t *next) {
  unsigned char head[16];
  if (start < SUPERBLOCK_SIZE || start > *next || *next - start < sizeof head)
    return bad(c, "the xattr id table (at byte %llu) is not inside the filesystem", (unsigned long long)start);
  if (read_at(c, head, sizeof head, start, "xattr id table")) return -1;
  uint64_t table = le64(head);
  uint32_t ids = le32(head + 8);
  if (table <= after || table >= start)
    return bad(c, "the xattr table starts at byte %llu, not between the directory table and the xattr id table (byte %llu)",
               (unsigned long long)table, (unsigned long long)start);
  /* The id table's index follows its 16-byte header; its blocks come after the
     xattrs themselves, which start at table. */
  uint64_t index_end = *next;
  if (check_table(c, "xattr id", start + sizeof head, ids, 16, table, &index_end)) return -1;
  *next = table;
  return 0;
}

int squash_check(int fd, unsigned long long offset, char *why, size_t why_size) {
  struct check c = {.fd = fd, .offset = offset, .why = why, .why_size = why_size};
  unsigned char sb[SUPERBLOCK_SIZE];
  struct stat st;
  if (fstat(fd, &st) < 0) return bad(&c, "cannot stat it: %s", strerror(errno));
  uint64_t size = (uint64_t)st.st_size;
  if (offset > size || size - offset < SUPERBLOCK_SIZE)
    return bad(&c, "its squashfs superblock at byte %llu is cut short (the file has %llu bytes)", offset,
               (unsigned long long)size);
  if (read_at(&c, sb, sizeof sb, 0, "superblock")) return -1;
  if (le32(sb) != MAGIC) return bad(&c, "no squashfs magic \"hsqs\" at byte %llu", offset);
  if (le16(sb + 28) != 4 || le16(sb + 30) != 0)
    return bad(&c, "squashfs version %u.%u, only 4.0 is supported", le16(sb + 28), le16(sb + 30));
  uint32_t inodes = le32(sb + 4), block_size = le32(sb + 12), fragments = le32(sb + 16);
  uint16_t compression = le16(sb + 20), block_log = le16(sb + 22), ids = le16(sb + 26);
  uint64_t root = le64(sb + 32), used = le64(sb + 40), id_start = le64(sb + 48), xattr_start = le64(sb + 56),
           inode_start = le64(sb + 64), dir_start = le64(sb + 72), frag_start = le64(sb + 80),
           export_start = le64(sb + 88);
  if (compression < 1 || compression > 6) return bad(&c, "unknown compression id %u", compression);
  if (block_log < 12 || block_log > 20 || block_size != 1u << block_log)
    return bad(&c, "block size %u with block_log %u (a power of two from 4 KiB to 1 MiB, 2^block_log)", block_size,
               block_log);
  if (inodes == 0) return bad(&c, "it has no inodes");
  if (used < SUPERBLOCK_SIZE || used > size - offset)
    return bad(&c, "bytes_used %llu is not between the superblock's size and the %llu bytes present",
               (unsigned long long)used, (unsigned long long)(size - offset));
  c.used = used;
  if (inode_start < SUPERBLOCK_SIZE || dir_start <= inode_start || dir_start >= used)
    return bad(&c, "the inode table (byte %llu) and directory table (byte %llu) are not in order inside the filesystem",
               (unsigned long long)inode_start, (unsigned long long)dir_start);
  uint64_t next = used;
  if (xattr_start != ABSENT && check_xattrs(&c, xattr_start, dir_start, &next)) return -1;
  if (check_table(&c, "id", id_start, ids, 4, dir_start, &next)) return -1;
  if (export_start != ABSENT && check_table(&c, "export", export_start, inodes, 8, dir_start, &next)) return -1;
  if (fragments && check_table(&c, "fragment", frag_start, fragments, 16, dir_start, &next)) return -1;
  if (dir_start > next)
    return bad(&c, "the directory table (byte %llu) starts after the tables that follow it (byte %llu)",
               (unsigned long long)dir_start, (unsigned long long)next);
  if (inode_start + (root >> 16) >= dir_start || (root & 0xffff) >= MD_SIZE)
    return bad(&c, "the root inode (block %llu, offset %llu) is outside the inode table", (unsigned long long)(root >> 16),
               (unsigned long long)(root & 0xffff));
  return 0;
}
