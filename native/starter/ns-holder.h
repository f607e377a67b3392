/* A process that keeps the container's namespaces alive past the starter's exit. */
#ifndef SIF_NS_HOLDER_H
#define SIF_NS_HOLDER_H

/* Starts it (best effort: without it the starter's own exit tears everything down). */
void ns_holder_start(void);

#endif
