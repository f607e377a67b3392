/*
 * A process that shares our memory and keeps one file open, at idle priority, until
 * that file polls ready (readable, or hung up). What it holds (our memory, our
 * namespaces) is then released by its exit, in the background, instead of by an exit
 * or exec that someone waits for. Used by the starter (ns-holder.c) and the handoff
 * addon (handoff.c).
 */
#ifndef SIF_IDLE_HOLDER_H
#define SIF_IDLE_HOLDER_H

/* Starts it, holding fd (which the caller may close now) and no other file; named
   `name` when not NULL. Returns its pid, or -1: callers treat failure as "no holder".
   SIGCHLD tells our process (or whatever replaces it by exec) when it ends. */
int idle_holder_start(int fd, const char *name);

#endif
