/* pycontainers-runtime-front: the plain cases of `pycontainers-runtime state|start|kill|delete`
 * in C, so that a shim (conmon, containerd-shim), which runs the runtime as a new process for
 * every command, pays ~1 ms for them instead of a Python start.
 *
 * It does exactly what pycontainers/ociruntime/quick.py does, through main.py's `_quick`
 * command-line rules: the same files, the same checks (pid + start time, pidfd), the same
 * output (json.dumps's text), the same state.json update under the same `lock` flock and
 * atomic rename, the same cgroup and state-directory removal. Everything else -- any other
 * command or option, any case quick.py declines, any value it would read differently, any
 * error -- makes it execvp the Python runtime with the original arguments and environment:
 * nothing is opened without O_CLOEXEC, no fd is closed or moved, no variable is set. So it is
 * faster, never different.
 *
 * Invocation (the Python fallback command comes first):
 *   pycontainers-runtime-front --fallback N PROG ARG... (N words) RUNTIME-ARGS...
 *       (the `#!/bin/sh` launcher setup.py writes: N=3, `"$py" -S "$0"`)
 *   a script whose first line is `#!/path/pycontainers-runtime-front` and whose second line
 *   is `# fallback:` followed by tab-separated words (the interpreter and its flags): the
 *   kernel runs `front SCRIPT RUNTIME-ARGS...`, the fallback is `WORDS... SCRIPT ARGS...`
 *       (the lean launcher of pycontainers/ociruntime/launcher.py).
 * `create` and `exec` go to a warm start server's worker where one runs for this context
 * (warm_conn.c; the worker sends the process's plan back and this process clones it:
 * warm_spawn.c), else to Python as every other command.
 * PYCONTAINERS_NO_FAST_START (or COVERAGE_PROCESS_START) set: always Python.
 * PYCONTAINERS_LAUNCH_DEBUG set: one line on stderr says which path answered.
 *
 * This file: the way out (python()) and the command line; runtime_front_cmds.c: the
 * commands; runtime_front_json.c: the files' JSON as Python reads and writes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime_front.h"
#include "warm_conn.h"
#include "warm_spawn.h"

#define DEFAULT_ROOT "/run/pycontainers-runtime" /* main.py: DEFAULT_ROOT */
#define ROOT_ENV "PYCONTAINERS_RUNTIME_ROOT"     /* main.py: ROOT_ENV */

char **front_fallback;
static int front_nfallback; /* the cold command's own words (without the runtime's arguments) */
int front_debug;

/* ---- the way out: Python, untouched ------------------------------------------------- */

void front_say(const char *fmt, ...) {
    if (!front_debug)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

__attribute__((noreturn)) void python(const char *why) {
    front_say(PROG ": python (%s)\n", why);
    execvp(front_fallback[0], front_fallback);
    int err = errno;
    dprintf(2, PROG ": cannot run %s: %s\n", front_fallback[0], strerror(err));
    exit(127);
}

__attribute__((noreturn)) void answered(const char *command) {
    front_say(PROG ": answered %s\n", command);
    fflush(stdout); /* as Python's print: a closed stdout is no failure of the command */
    exit(0);
}

/* ---- the command line: main.py's _quick ------------------------------------------------ */

/* argv of the shebang form: the fallback words from the script's second line */
static char **from_script(int argc, char **argv) {
    char *script = argv[1];
    char head[4096];
    int fd = open(script, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, head, sizeof head - 1);
    if (fd >= 0)
        close(fd);
    char *line = n > 0 ? memchr(head, '\n', (size_t)n) : NULL;
    static const char tag[] = "\n# fallback:\t";
    if (!line || (size_t)(head + n - line) < sizeof tag ||
        memcmp(line, tag, sizeof tag - 1) != 0) {
        dprintf(2, PROG ": %s: no `# fallback:` line after the first\n", script);
        exit(127);
    }
    head[n] = 0;
    char *words = line + sizeof tag - 1;
    char *end = strchr(words, '\n');
    if (!end) {
        dprintf(2, PROG ": %s: the `# fallback:` line is cut\n", script);
        exit(127);
    }
    *end = 0;
    char **out = calloc((size_t)argc + 64, sizeof *out);
    if (!out)
        exit(127);
    int k = 0;
    for (char *save, *w = strtok_r(words, "\t", &save); w && k < 60; w = strtok_r(NULL, "\t", &save))
        out[k++] = strdup(w);
    if (k == 0) {
        dprintf(2, PROG ": %s: an empty `# fallback:` line\n", script);
        exit(127);
    }
    front_nfallback = k + 1; /* the words and the script */
    for (int i = 1; i < argc; i++)
        out[k++] = argv[i]; /* the script, then the runtime's arguments */
    out[k] = NULL;
    return out;
}

static int is_global(const char *name, size_t n) {
    static const char *const globals[] = {"--root", "--log", "--log-format", "--criu",
                                          "--rootless"};
    for (size_t i = 0; i < 5; i++)
        if (strlen(globals[i]) == n && !strncmp(name, globals[i], n))
            return 1;
    return 0;
}

int main(int argc, char **argv) {
    char **args; /* the runtime's own arguments */
    int nargs;
    if (argc >= 3 && !strcmp(argv[1], "--fallback")) {
        char *end;
        long n = strtol(argv[2], &end, 10);
        if (*end || n < 1 || n > argc - 3) {
            dprintf(2, "usage: " PROG " --fallback N PROG ARG... RUNTIME-ARGS...\n");
            return 127;
        }
        front_fallback = argv + 3;
        front_nfallback = (int)n;
        args = argv + 3 + n;
        nargs = argc - 3 - (int)n;
    } else if (argc >= 2) {
        front_fallback = from_script(argc, argv);
        args = argv + 2;
        nargs = argc - 2;
    } else {
        dprintf(2, "usage: " PROG " --fallback N PROG ARG... RUNTIME-ARGS... | SCRIPT ARGS...\n");
        return 127;
    }
    const char *env = getenv("PYCONTAINERS_LAUNCH_DEBUG");
    front_debug = env && *env;
    env = getenv("PYCONTAINERS_NO_FAST_START");
    const char *cov = getenv("COVERAGE_PROCESS_START");
    if ((env && *env) || (cov && *cov))
        python("PYCONTAINERS_NO_FAST_START");
    const char *root = getenv(ROOT_ENV);
    if (!root || !*root)
        root = DEFAULT_ROOT;
    int i = 0;
    while (i < nargs) {
        const char *arg = args[i], *eq = strchr(arg, '=');
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
        if (!eq && !strcmp(arg, "--debug")) {
            i++;
            continue;
        }
        if (!is_global(arg, n))
            break;
        const char *value = eq ? eq + 1 : NULL;
        if (!eq) {
            if (i + 1 >= nargs)
                python("a global option without its value");
            value = args[++i];
        }
        if (n == 6 && !strncmp(arg, "--root", 6))
            root = value;
        else if (n == 12 && !strncmp(arg, "--log-format", 12) && strcmp(value, "text") != 0 &&
                 strcmp(value, "json") != 0)
            python("--log-format");
        i++;
    }
    if (i >= nargs)
        python("no command");
    const char *command = args[i];
    if (!strcmp(command, "create") || !strcmp(command, "exec")) {
        struct warm_spawner spawner = {-1, warm_spawn_serve, -1, warm_spawn_waited,
                                       warm_spawn_finish};
        struct warm_call call = {
            .prog = PROG,
            .fallback = front_fallback,
            .nfallback = front_nfallback,
            .args = args,
            .nargs = nargs,
            .debug = front_debug,
            .spawner = &spawner,
        };
        python(warm_run(&call));
    }
    int low = 1, high = 1;
    if (!strcmp(command, "kill"))
        high = 2;
    else if (strcmp(command, "state") != 0 && strcmp(command, "start") != 0 &&
             strcmp(command, "delete") != 0)
        python("not state/start/kill/delete");
    const char *positionals[3];
    int np = 0;
    for (int k = i + 1; k < nargs; k++) {
        const char *a = args[k];
        if (a[0] == '-') {
            if (strcmp(command, "delete") != 0 || (strcmp(a, "-f") != 0 && strcmp(a, "--force") != 0))
                python("an option");
        } else if (np < 3) {
            positionals[np++] = a;
        } else {
            python("too many arguments");
        }
    }
    if (np < low || np > high || !*root)
        python("arguments");
    if (!strcmp(command, "state"))
        cmd_state(root, positionals[0]);
    if (!strcmp(command, "start"))
        cmd_start(root, positionals[0]);
    if (!strcmp(command, "kill"))
        cmd_kill(root, positionals[0], np == 2 ? positionals[1] : "SIGTERM");
    cmd_delete(root, positionals[0]);
    return 0;
}

