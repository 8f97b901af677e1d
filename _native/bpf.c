/* Device programs on cgroup2 directories: load a BPF_PROG_TYPE_CGROUP_DEVICE program (the
 * instructions pycontainers.cgroups._devbpf generates) and attach it to a group, then
 * detach the device programs that were attached there before, so the group is never
 * without one. Called from Python only, never from a container child. Each returns 0 or a
 * count, or -errno; *step says which call failed (PC_BPF_STEP_*). */
#include "internal.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef BPF_F_ALLOW_MULTI
#define BPF_F_ALLOW_MULTI (1U << 1)
#endif

#define MAX_OLD 64 /* the kernel's limit of programs per group and attach type */

static int sys_bpf(int cmd, union bpf_attr *attr) {
    return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr(const void *p) { return (uint64_t)(uintptr_t)p; }

int pc_bpf_device_query(int cgroup_fd, unsigned int *ids, unsigned int capacity,
                        unsigned int *attach_flags) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = ptr(ids);
    attr.query.prog_cnt = capacity;
    if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
        return -errno;
    if (attach_flags)
        *attach_flags = attr.query.attach_flags;
    return (int)attr.query.prog_cnt;
}

static int detach_id(int cgroup_fd, unsigned int id) {
    union bpf_attr attr;
    int fd, rc, err = 0;
    memset(&attr, 0, sizeof(attr));
    attr.prog_id = id;
    fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno; /* gone meanwhile */
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    rc = sys_bpf(BPF_PROG_DETACH, &attr);
    if (rc < 0 && errno != ENOENT)
        err = -errno;
    close(fd);
    return err;
}

int pc_bpf_device_attach(int cgroup_fd, const void *insns, unsigned int insn_count,
                         char *log, unsigned int log_size, int *step) {
    union bpf_attr attr;
    unsigned int old[MAX_OLD], flags = 0, i;
    int prog, n, rc;

    *step = PC_BPF_STEP_LOAD;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.expected_attach_type = BPF_CGROUP_DEVICE;
    attr.insns = ptr(insns);
    attr.insn_cnt = insn_count;
    attr.license = ptr("Apache");
    if (log && log_size)
        log[0] = '\0';
    prog = sys_bpf(BPF_PROG_LOAD, &attr); /* no log: the verifier is faster without one */
    if (prog < 0 && log && log_size) {
        int err = errno; /* again with the verifier's log, to say why */
        attr.log_buf = ptr(log);
        attr.log_size = log_size;
        attr.log_level = 1;
        prog = sys_bpf(BPF_PROG_LOAD, &attr);
        if (prog >= 0)
            close(prog);
        errno = err;
        prog = -1;
    }
    if (prog < 0)
        return -errno;

    *step = PC_BPF_STEP_QUERY;
    n = pc_bpf_device_query(cgroup_fd, old, MAX_OLD, &flags);
    if (n < 0) {
        rc = n;
        goto out;
    }
    *step = PC_BPF_STEP_ATTACH;
    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0) {
        rc = -errno;
        goto out;
    }
    /* the new program runs from here on (all of a group's programs must allow an access):
     * the old ones can go */
    *step = PC_BPF_STEP_DETACH;
    rc = 0;
    for (i = 0; i < (unsigned int)n && i < MAX_OLD; i++) {
        int err = detach_id(cgroup_fd, old[i]);
        if (err && !rc)
            rc = err;
    }
out:
    close(prog);
    return rc;
}
