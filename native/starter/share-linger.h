/*
 * What a shared container's server (share.h) waits for while it lingers, no rank in
 * it, for the job's next step: a rank opening KEY.users (it may be joining), the end
 * of the window, or what ends it at once: its image file written, replaced, removed or
 * its attributes changed, or SIGTERM, SIGINT or SIGHUP (blocked since the start, so
 * one that came while ranks ran counts too: scancel's, say).
 */
#ifndef SIF_SHARE_LINGER_H
#define SIF_SHARE_LINGER_H

enum linger_event {
  LINGER_WAKE,    /* KEY.users was opened, or the wait was interrupted: look */
  LINGER_TIMEOUT, /* the time given passed */
  LINGER_STOP,    /* the image changed, or a signal asked us to end */
};

/* Watches the image (from now on) and those signals; -1, with a warning, when it
   cannot (the container then does not linger). users: the path of KEY.users. */
int linger_watch_open(const char *image, const char *users);
/* Starts a window: watches opens of KEY.users; STOP if something ended it already
   or the watch cannot be made, else WAKE. */
enum linger_event linger_begin(void);
/* Waits up to ms for an event. */
enum linger_event linger_wait(long ms);
/* Ends a window that a rank joined: opens of KEY.users no longer matter. */
void linger_end(void);

#endif
