/* Internal helpers shared by the shim's C files. Everything here that can run in the
 * child after clone() is async-signal-safe: no malloc, no stdio, no locks. */
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include "shim.h"

#define PC_PID_PLACEHOLDER "@@@@PID@@@@@@@@"

#include <sys/types.h>
ssize_t send_with_fd(int sock, const void *data, size_t len, int fd);
ssize_t recv_with_fd(int sock, void *data, size_t len, int *fd);

#include <sys/syscall.h>
#include <unistd.h>

/* Credentials in the child: the raw system calls, never glibc's set*id wrappers. Those
 * broadcast the change to every thread glibc knows of (nptl's setxid) under its thread-list
 * lock; in a child cloned from a multi-threaded parent, that lock may have been held by a
 * parent thread (creating or ending a thread) at the instant of the clone, and the child
 * then waits on it for ever. The raw calls change the calling thread, the child's only one. */
static inline int pc_setresuid(uid_t u) {
    return (int)syscall(SYS_setresuid, u, u, u);
}
static inline int pc_setresgid(gid_t g) {
    return (int)syscall(SYS_setresgid, g, g, g);
}
static inline int pc_setgroups(size_t n, const gid_t *groups) {
    return (int)syscall(SYS_setgroups, n, groups);
}

/* struct mount_attr of mount_setattr(2) */
struct pc_mount_attr {
    unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

#define PC_MAX_FDS 256
#define PC_MAX_JOINS 16
#define PC_MAX_CGROUPS 32
#define PC_MAX_TREES 32
#define PC_PATH_MAX 4096

/* A fixed-size message buffer (no allocation). */
struct pc_msg {
    char buf[500];
    size_t len;
};

void msg_reset(struct pc_msg *m);
void msg_str(struct pc_msg *m, const char *s);
void msg_int(struct pc_msg *m, long long v);

/* Write "/proc/self/fd/N" into buf (at least 32 bytes). */
void proc_fd_path(char *buf, int fd);

/* Open path (absolute inside the root, e.g. "/proc") beneath rootfd without leaving it:
 * ".." above the root, absolute symlinks and magic links fail with EXDEV/ELOOP; with
 * strict, any symlink fails with ELOOP. Returns an fd or -errno. */
int open_beneath(int rootfd, const char *path, int flags, int strict);
/* Like open_beneath; with in_root, resolve as a process chrooted at rootfd would
 * (RESOLVE_IN_ROOT: ".." stops at the root, absolute symlinks restart there). Without
 * openat2 both walk component by component and refuse every symlink and "..". */
int open_resolved(int rootfd, const char *path, int flags, int strict, int in_root);

/* Create the missing components of path beneath rootfd (directories with mode 0755; the
 * last one a directory or, with is_file, an empty file) and return an O_PATH fd to it,
 * or -errno. */
int ensure_beneath(int rootfd, const char *path, int is_file, int strict);

/* Split path into an O_PATH fd of its parent (created if missing) and its last component.
 * Returns the fd or -errno; *base points into path. */
int parent_beneath(int rootfd, const char *path, const char **base, int strict);

struct child {
    const struct pc_plan *plan;
    int sock;
    int rootfd;
    int fifo;
    int maskdir;
    int tree_fd;   /* a detached (idmapped) mount of the rootfs sent by the parent, or -1 */
    int trees[PC_MAX_TREES]; /* plan->mount_trees, moved above the container's fd numbers */   /* O_PATH fd of the first masked directory's empty tmpfs, or -1 */
    int shared_vm; /* CLONE_VM|CLONE_VFORK: runs on its own stack in the parent's memory */
    int into_cgroup; /* cloned into the plan's cgroup2 group (CLONE_INTO_CGROUP): skip its write */
    struct pc_msg msg;
    char exe[PC_PATH_MAX];
};

/* Report (stage, errno, message) to the parent; fail() then exits with exit_code. */
void send_msg(struct child *c, int stage, int err, int exit_code);
void send_msg_fd(struct child *c, int stage, int err, int exit_code, int fd);
__attribute__((noreturn)) void fail(struct child *c, int stage, int err, int exit_code);
/* Start a message: "what arg". */
struct pc_msg *say(struct child *c, const char *what, const char *arg);

/* mounts.c: make / private, mount the rootfs, run the plan's ops, pivot_root. */
void setup_rootfs(struct child *c);
/* mounts.c: run the plan's ops, every target resolved beneath c->rootfd. */
void run_ops(struct child *c);
/* spawn.c: bring lo up in a new network namespace. */
void loopback_up(struct child *c);

/* security.c: capabilities (bounding, effective, permitted, inheritable, ambient) around
 * the uid switch, and the seccomp filter as the last step before execve. */
void caps_before_ids(struct child *c);
void caps_after_ids(struct child *c);
int load_seccomp(struct child *c);

/* exec.c: resolve the payload (plan path or PATH search) into c->exe, or fail 126/127. */
void lookup_exe(struct child *c);

/* init.c: fork the payload and become its init/forwarder; returns only in the payload. */
void run_init(struct child *c, int as_subreaper);
/* init.c: clone the container's process as the caller's child (CLONE_PARENT) in the pid
 * namespace our children enter, hand it over (PC_STAGE_HANDOFF) and exit; returns only in
 * that process. */
void hand_off(struct child *c);

#endif
