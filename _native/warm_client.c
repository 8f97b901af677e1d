/* pycontainers-front: the `pycontainers` command's warm start client (pycontainers/warmstart
 * is the server; warm_conn.c is the client's side of the protocol, shared with the OCI
 * runtime's front end; docs/howto/warm-start.md says why and how it is safe).
 *
 * The launcher script runs it as `pycontainers-front --fallback N PROG ARG... CLI-ARGS...`
 * (as pycontainers-runtime's runs its front end): the first N words are the cold command
 * (`"$py" -S "$0"`). When the command is allowlisted and a server of this very context is
 * listening, its worker runs the command (warm_run); anything else execs the cold command
 * exactly as the launcher would have.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "warm_conn.h"

#define PROG "pycontainers-front"

static char **fallback;
static int debug;

/* The cold path: the launcher's own command, untouched. */
__attribute__((noreturn)) static void cold(const char *why) {
    if (debug)
        dprintf(2, PROG ": cold (%s)\n", why);
    execvp(fallback[0], fallback);
    int err = errno;
    dprintf(2, PROG ": cannot run %s: %s\n", fallback[0], strerror(err));
    exit(127);
}

/* the commands a worker may run (pycontainers.warmstart.server.COMMANDS says the same) */
static const char *const ALLOWED[] = {
    "run", "create", "start", "stop", "restart", "kill", "rm", "ps", "inspect", "logs", "wait",
    "pause", "unpause", "port", "top", "exec", "version", "images", "volume", "network",
};

static int allowed(const char *command) {
    for (size_t i = 0; i < sizeof ALLOWED / sizeof *ALLOWED; i++)
        if (!strcmp(command, ALLOWED[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "--fallback") != 0) {
        dprintf(2, "usage: " PROG " --fallback N PROG ARG... CLI-ARGS...\n");
        return 127;
    }
    char *end;
    long nf = strtol(argv[2], &end, 10);
    if (*end || nf < 1 || nf > argc - 3) {
        dprintf(2, "usage: " PROG " --fallback N PROG ARG... CLI-ARGS...\n");
        return 127;
    }
    /* the cold command: the fallback words, then the CLI's arguments (argv is NULL-ended) */
    fallback = argv + 3;
    const char *d = getenv("PYCONTAINERS_LAUNCH_DEBUG");
    debug = d && *d;
    struct warm_call call = {
        .prog = PROG,
        .fallback = fallback,
        .nfallback = (int)nf,
        .args = argv + 3 + nf,
        .nargs = argc - 3 - (int)nf,
        .debug = debug,
        .spawner = NULL,
    };
    if (call.nargs < 1 || !allowed(call.args[0]))
        cold("not a warm command");
    cold(warm_run(&call));
}
