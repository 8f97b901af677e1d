/* The sealed health-check entry of pycontainers-monitor (monitor_entry.c).
 *
 * Python computes, once per start of the container, the process a health check becomes —
 * through the same functions as `exec` (open_entry, confinement, exec_plan) — and seals it
 * in DIR/health.entry (pycontainers/runtime/health_entry.py describes the format). Before
 * every check the monitor reads and verifies the file, checks that it still describes the
 * running container, and spawns the command with the shim's own code (pc_spawn). Anything
 * missing, corrupt, unknown or changed refuses the check; nothing runs unconfined. */
#ifndef PC_MONITOR_ENTRY_H
#define PC_MONITOR_ENTRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h" /* shim.h, once */

#define HEALTH_ENTRY_MAGIC "pycontainers-health-entry"
#define HEALTH_ENTRY_VERSION 1

/* monitor_sha256.c: the lowercase hex SHA-256 of data */
void sha256_hex(const void *data, size_t n, char out[65]);

struct entry_ns {
    const char *kind; /* "user", "mnt", ... (a name under /proc/PID/ns) */
    int nstype;       /* CLONE_NEW* */
    int join;         /* 1: the container's own (join it); 0: shared with the monitor */
    unsigned long long dev, ino;
};

struct health_entry {
    char *data;           /* the whole file; strings point into it */
    const char *refusal;  /* Python could not compute the entry: why */
    long long pid;        /* the container process the entry was computed for */
    char spec_sha256[65]; /* digest of the config.json it was computed from */
    struct entry_ns *ns;
    int n_ns;
    char **cgroups; /* cgroup.procs files, one per hierarchy */
    int n_cgroups;
    struct pc_plan plan; /* everything but the fds, which are opened per check */
};

/* Read, verify and parse the entry at path; NULL with why filled on any problem. */
struct health_entry *entry_load(const char *path, char *why, size_t n);
void entry_free(struct health_entry *e);
/* Check that e still describes the running container (its pid, its spec digest, its
 * namespaces, not paused, started) and spawn its command with stdout and stderr on out_fd:
 * 0 with *res filled, -1 with why filled. */
int entry_spawn(struct health_entry *e, pid_t container, const char *state_dir, int out_fd,
                struct pc_spawn_result *res, char *why, size_t n);

#endif
