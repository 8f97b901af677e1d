/* Capabilities and seccomp in the child, between clone() and execve(): async-signal-safe
 * code only (raw syscalls and prctl). */
#include "internal.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* Before the uid switch: shrink the bounding set (needs CAP_SETPCAP, still held) and keep
 * the permitted set across setresuid() to a non-zero uid. */
void caps_before_ids(struct child *c) {
    const struct pc_plan *p = c->plan;
    if (!p->set_caps)
        return;
    for (int cap = 0; cap <= p->cap_last && cap < 64; cap++) {
        if (p->cap_bounding & (1ULL << cap))
            continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
            say(c, "drop capability from the bounding set:", NULL);
            msg_int(&c->msg, cap);
            fail(c, PC_STAGE_CAPS, errno, 125);
        }
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
        say(c, "keep capabilities across the uid switch", NULL);
        fail(c, PC_STAGE_CAPS, errno, 125);
    }
}

/* After the uid switch: set effective, permitted and inheritable exactly, then the ambient
 * set (cleared, then raised one by one: each must be permitted and inheritable). */
void caps_after_ids(struct child *c) {
    const struct pc_plan *p = c->plan;
    if (!p->set_caps)
        return;
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    for (int i = 0; i < 2; i++) {
        data[i].effective = (__u32)(p->cap_effective >> (32 * i));
        data[i].permitted = (__u32)(p->cap_permitted >> (32 * i));
        data[i].inheritable = (__u32)(p->cap_inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0) {
        say(c, "set the capability sets", NULL);
        fail(c, PC_STAGE_CAPS, errno, 125);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        say(c, "clear the ambient capabilities", NULL);
        fail(c, PC_STAGE_CAPS, errno, 125);
    }
    for (int cap = 0; cap <= p->cap_last && cap < 64; cap++) {
        if (!(p->cap_ambient & (1ULL << cap)))
            continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) {
            say(c, "raise ambient capability", NULL);
            msg_int(&c->msg, cap);
            fail(c, PC_STAGE_CAPS, errno, 125);
        }
    }
    (void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/* The filter was compiled (by libseccomp, in the parent) before the clone. Returns the
 * notify fd when the flags ask for a listener, else -1. */
int load_seccomp(struct child *c) {
    const struct pc_plan *p = c->plan;
    if (p->seccomp_bpf == NULL || p->seccomp_len == 0)
        return -1;
    struct sock_fprog prog;
    prog.len = (unsigned short)(p->seccomp_len / sizeof(struct sock_filter));
    prog.filter = (struct sock_filter *)p->seccomp_bpf;
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog);
    if (rc < 0) {
        say(c, "load the seccomp filter", NULL);
        fail(c, PC_STAGE_SECCOMP, errno, 125);
    }
    return p->seccomp_listener ? (int)rc : -1;
}
