/* Path lookups confined to a directory tree. */
#ifndef SIF_RESOLVE_H
#define SIF_RESOLVE_H

/* Opens path below dirfd as if dirfd were "/": ".." and absolute symlinks stay inside. */
int open_in(int dirfd, const char *path, int flags);

/* Like open_in, but follows no symbolic link at all (ELOOP): for paths that sif
   resolved already, where a link on the way means the path changed since. */
int open_exact_in(int dirfd, const char *path, int flags);

#endif
