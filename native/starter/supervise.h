/* Waiting for the payload while passing signals on to it. */
#ifndef SIF_SUPERVISE_H
#define SIF_SUPERVISE_H

#include <sys/types.h>

/* Blocks the signals supervise() handles; call before fork so none is lost. */
void signals_block(void);
/* Restores the default disposition of ignored signals and unblocks all (at start:
   what the caller passed on must not reach the payload). */
void signals_reset(void);
/* Unblocks all signals (dispositions are already the defaults after signals_reset). */
void signals_unblock(void);

#define SUPERVISE_TICK_MS 50

/* Forwards signals to child and reaps every child until this one ends;
   returns its exit status, or 128+n for death by signal n. Calls tick, when
   not NULL, whenever SUPERVISE_TICK_MS pass without a signal, until it returns 0
   (no timer is left running then: periodic wake-ups disturb the jobs on the node). */
int supervise(pid_t child, int (*tick)(void));

#endif
