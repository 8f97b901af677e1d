/* The warm start's context (pycontainers/warmstart, _native/warm_client.c): what a process
 * inherits from its parent that decides how a command behaves, as one deterministic text.
 * The client hashes it into the server's socket name; the server's worker compares it with
 * its own before it runs a request. */
#ifndef PYCONTAINERS_WARM_CONTEXT_H
#define PYCONTAINERS_WARM_CONTEXT_H

#include <stddef.h>

/* Write the context of the calling process into buf (NUL-terminated): its length, or -1
 * when it does not fit or a part that is always there cannot be read. */
long pc_warm_context(char *buf, size_t size);
/* A standby or worker of the warm start dies with its server (PR_SET_PDEATHSIG, SIGKILL):
 * 0, or -ESRCH when the server (pid parent) is already gone, or -errno. */
int pc_warm_bind_to_parent(int parent);

#endif
