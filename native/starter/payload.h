/* Executing the payload inside the finished container. */
#ifndef SIF_PAYLOAD_H
#define SIF_PAYLOAD_H

#include "plan.h"

/* The directories, ':'-separated, that a command name is searched in: the
   payload's PATH, or a default when it has none. */
const char *payload_search_path(const struct plan *plan);

/* Never returns: execs argv (searched in the plan's PATH) or exits 126/127. */
__attribute__((noreturn)) void payload_exec(const struct plan *plan);

#endif
