/* A crash of the FUSE server (a worker reading a corrupt image) ends the starter
   with a clean error: a message naming the image, exit status 125. */
#ifndef SIF_CRASH_EXIT_H
#define SIF_CRASH_EXIT_H

/* Installs the handlers; call in the server, before its threads start. */
void crash_exit_install(const char *image);

#endif
