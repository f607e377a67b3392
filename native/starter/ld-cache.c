/* See ld-cache.h. The layout is glibc's (elf/dl-cache.h). */
#include "ld-cache.h"

#include <string.h>

#define OLD_MAGIC "ld.so-1.7.0"
#define NEW_MAGIC "glibc-ld.so.cache1.1"
#define OLD_HEADER 16 /* magic (11 bytes, padded to 12), nlibs */
#define OLD_ENTRY 12  /* flags, key, value */
#define NEW_HEADER 48 /* magic and version (20), nlibs, len_strings, flags, extension offset, unused */
#define NEW_ENTRY 24  /* flags, key, value, osversion, hwcap */

static uint32_t u32(const char *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static uint64_t u64(const char *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* The string at off in [base, end), or NULL when it is not NUL-terminated there. */
static const char *string_at(const char *base, const char *end, uint32_t off) {
  if (off >= (size_t)(end - base)) return NULL;
  const char *s = base + off;
  return memchr(s, '\0', (size_t)(end - s)) ? s : NULL;
}

const char *ld_cache_find(const char *cache, size_t len, const char *name, uint32_t flags) {
  const char *end = cache + len, *table = cache;
  if (len >= OLD_HEADER && !memcmp(cache, OLD_MAGIC, sizeof OLD_MAGIC - 1)) {
    uint64_t skip = OLD_HEADER + (uint64_t)u32(cache + 12) * OLD_ENTRY;
    skip = (skip + 7) & ~(uint64_t)7; /* the new table is aligned for its 64-bit fields */
    if (skip > len) return NULL;
    table = cache + skip;
  }
  if ((size_t)(end - table) < NEW_HEADER || memcmp(table, NEW_MAGIC, sizeof NEW_MAGIC - 1)) return NULL;
  uint64_t n = u32(table + 20);
  if (n > ((size_t)(end - table) - NEW_HEADER) / NEW_ENTRY) return NULL;
  for (uint64_t i = 0; i < n; i++) {
    const char *e = table + NEW_HEADER + i * NEW_ENTRY;
    if (u32(e) != flags || u64(e + 16)) continue;
    /* String offsets count from the new table's start (the file's, in a new-only cache). */
    const char *key = string_at(table, end, u32(e + 4)), *value = string_at(table, end, u32(e + 8));
    if (key && value && !strcmp(key, name)) return value;
  }
  return NULL;
}
