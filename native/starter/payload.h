/* Executing the payload inside the finished container. */
#ifndef SIF_PAYLOAD_H
#define SIF_PAYLOAD_H

#include "plan.h"

/* Never returns: execs argv (searched in the plan's PATH) or exits 126/127. */
__attribute__((noreturn)) void payload_exec(const struct plan *plan);

#endif
