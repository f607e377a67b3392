/*
 * The plan's bind sources, each opened once, before anything is mounted, and bound
 * from that descriptor (open_tree): what was looked at is what gets mounted. Node
 * gives them as canonical paths, so no symbolic link is followed here: one on the
 * way means the path changed since Node resolved it (swapped, say), and the start
 * is refused rather than bind what the link now names.
 */
#ifndef SIF_BIND_SOURCES_H
#define SIF_BIND_SOURCES_H

#include <stddef.h>

#include "plan.h"

void bind_sources_open(const struct plan *plan);
/* The O_PATH descriptor of bind op i's source; -1 when it is optional and absent. */
int bind_source_fd(size_t i);
int bind_source_is_dir(size_t i);

#endif
