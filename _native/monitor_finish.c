/* Finishing a container without Python: what the monitor does once the container has
 * exited for good (no restart). It reads whether the OOM killer struck (before the cgroup
 * goes), removes the container's cgroup directories, and decides whether the caller's exit
 * command (network clean-up, auto-remove: Python) still has to run.
 *
 * A client that will delete the container itself (a foreground `run --rm`) holds a shared
 * flock on the claim file while it waits; then the monitor leaves the clean-up to it. When
 * that client dies, the kernel drops its lock and the monitor does the clean-up again. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define MAX_CGROUPS 32
#define RMDIR_TRIES 50 /* EBUSY right after the last exit: retry for up to 50 ms */

static const char *cgroups[MAX_CGROUPS], *parents[MAX_CGROUPS];
static int n_cgroups, n_parents;

int finish_add_cgroup(const char *dir, int parent) {
    if ((parent ? n_parents : n_cgroups) >= MAX_CGROUPS || dir[0] != '/')
        return -1;
    if (parent)
        parents[n_parents++] = dir;
    else
        cgroups[n_cgroups++] = dir;
    return 0;
}

/* the "oom_kill N" counter of one cgroup file (v2 memory.events, v1 memory.oom_control) */
static long long oom_kills_in(const char *dir, const char *file) {
    char path[4096], data[1024];
    if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, data, sizeof(data) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    data[n] = 0;
    for (char *line = data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, "oom_kill ", 9) == 0)
            return strtoll(line + 9, NULL, 10);
    return 0;
}

int finish_oom_killed(void) {
    for (int i = 0; i < n_cgroups; i++)
        if (oom_kills_in(cgroups[i], "memory.events") > 0 ||
            oom_kills_in(cgroups[i], "memory.oom_control") > 0)
            return 1;
    return 0;
}

void finish_release_cgroups(void) {
    const struct timespec ms = {0, 1000000};
    for (int i = 0; i < n_cgroups; i++) {
        int tries = 0;
        while (rmdir(cgroups[i]) < 0) {
            if (errno == ENOENT)
                break;
            if (errno != EBUSY || ++tries >= RMDIR_TRIES) {
                /* something still runs in it (a shared pid namespace): the next process that
                 * touches the container kills what is left and removes the group */
                mon_warn(cgroups[i], errno);
                break;
            }
            nanosleep(&ms, NULL);
        }
    }
    /* the parent group goes once no other container uses it, as Python's clean-up does;
     * EBUSY/ENOTEMPTY: others still do */
    for (int i = 0; i < n_parents; i++)
        (void)rmdir(parents[i]);
}

int finish_claimed(const char *claim_file) {
    if (!claim_file)
        return 0;
    int fd = open(claim_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return held;
}
