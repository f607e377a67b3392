/* Test driver for native/starter/ld-cache.c: ld-cache-find FILE NAME FLAGS prints
   the path that ld_cache_find() gives, or "(none)". */
#include <stdio.h>
#include <stdlib.h>

#include "ld-cache.h"

int main(int argc, char **argv) {
  static char cache[1 << 20];
  if (argc != 4) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  size_t len = fread(cache, 1, sizeof cache, f);
  fclose(f);
  const char *path = ld_cache_find(cache, len, argv[2], (uint32_t)strtoul(argv[3], NULL, 0));
  puts(path ? path : "(none)");
  return 0;
}
