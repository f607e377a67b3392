/* Path lookups confined to a directory tree. */
#ifndef SIF_RESOLVE_H
#define SIF_RESOLVE_H

/* Opens path below dirfd as if dirfd were "/": ".." and absolute symlinks stay inside. */
int open_in(int dirfd, const char *path, int flags);

#endif
