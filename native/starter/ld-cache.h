/*
 * Looks a library up in a copy of an image's /etc/ld.so.cache, as glibc's dynamic
 * loader does for a DT_NEEDED name. The "glibc-ld.so.cache1.1" format, alone or after
 * the old "ld.so-1.7.0" table. The file comes from the image: every offset is checked.
 */
#ifndef SIF_LD_CACHE_H
#define SIF_LD_CACHE_H

#include <stddef.h>
#include <stdint.h>

/* The path of the first entry named name whose flags equal flags (the library type
   and the architecture, as glibc compares them), or NULL. Entries for a glibc-hwcaps
   subdirectory are skipped: the base library is the one every machine loads. The
   result points into cache. */
const char *ld_cache_find(const char *cache, size_t len, const char *name, uint32_t flags);

#endif
