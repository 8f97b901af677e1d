/* A warm sandbox's call confines itself in place (no execve follows), in two steps.
 *
 * The zygote (a single-threaded Python process in a container of its own) forks a standby
 * as pid 1 of a fresh pid namespace; the standby runs pc_sandbox_prepare at once (the
 * cgroup its call will have — joining one can wait for an RCU grace period, so it is done
 * ahead — then its own cgroup, mnt, uts, ipc and net namespaces, a fresh /proc and /tmp
 * with the masked and read-only paths over them, a host name) and then waits for a call.
 * With the call in hand it runs pc_sandbox_confine (rlimits, ids, capabilities,
 * no_new_privs, seccomp) before it reads anything of the call. The steps
 * and their order are those of a container's first process in spawn.c, with the same
 * helpers; what it may do comes from the plan, built from the sandbox's spec by
 * confinement() in the caller's process. Any failure reports (stage, errno, message) on
 * report_sock and exits: the functions return only when their step is done. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static void init_child(struct child *c, const struct pc_plan *plan, int report_sock) {
    memset(c, 0, sizeof(*c));
    c->plan = plan;
    c->sock = report_sock;
    c->rootfd = -1;
    c->fifo = -1;
    c->maskdir = -1;
    c->tree_fd = -1;
}

int pc_sandbox_prepare(const struct pc_plan *plan, int report_sock) {
    struct child c;
    init_child(&c, plan, report_sock);
    const struct pc_plan *p = plan;
    for (int i = 0; i < p->n_cgroup_fds; i++) {
        if (write(p->cgroup_fds[i], "0", 1) != 1) {
            say(&c, "join the call's cgroup", NULL);
            fail(&c, PC_STAGE_CGROUP, errno, 125);
        }
    }
    /* after joining: a cgroup namespace is rooted at the call's own group */
    unsigned long long flags = p->unshare_flags;
    if (flags && unshare((int)flags) < 0) {
        say(&c, "unshare the call's namespaces", NULL);
        fail(&c, PC_STAGE_JOIN, errno, 125);
    }
    if (flags & CLONE_NEWNET)
        loopback_up(&c);
    if (flags & CLONE_NEWNS) {
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
            say(&c, "make / private", NULL);
            fail(&c, PC_STAGE_PROPAGATION, errno, 125);
        }
        c.rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (c.rootfd < 0) {
            say(&c, "open /", NULL);
            fail(&c, PC_STAGE_ROOTFS, errno, 125);
        }
        run_ops(&c);
        close(c.rootfd);
        c.rootfd = -1;
    } else if (p->n_ops) {
        say(&c, "mounts need a mount namespace of the call's own", NULL);
        fail(&c, PC_STAGE_MOUNT, EINVAL, 125);
    }
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) {
        say(&c, "sethostname", p->hostname);
        fail(&c, PC_STAGE_HOSTNAME, errno, 125);
    }
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0) {
        say(&c, "setdomainname", p->domainname);
        fail(&c, PC_STAGE_HOSTNAME, errno, 125);
    }
    return 0;
}

int pc_sandbox_confine(const struct pc_plan *plan, int report_sock) {
    struct child c;
    init_child(&c, plan, report_sock);
    const struct pc_plan *p = plan;
    if (!p->set_caps) { /* fail closed: never run a call with the zygote's own set */
        say(&c, "a sandbox call needs its capabilities from confinement()", NULL);
        fail(&c, PC_STAGE_CAPS, EINVAL, 125);
    }
    for (int i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0) {
            say(&c, "setrlimit resource", NULL);
            msg_int(&c.msg, p->rlimits[i].resource);
            fail(&c, PC_STAGE_RLIMIT, errno, 125);
        }
    }
    if (!p->no_new_privs)
        load_seccomp(&c); /* without no_new_privs only CAP_SYS_ADMIN may load it: now */
    caps_before_ids(&c);
    if (p->set_ids) {
        if ((p->n_groups >= 0 &&
             pc_setgroups((size_t)p->n_groups, p->n_groups ? (const gid_t *)p->groups : NULL) < 0) ||
            pc_setresgid(p->gid) < 0 || pc_setresuid(p->uid) < 0) {
            say(&c, "switch to uid", NULL);
            msg_int(&c.msg, p->uid);
            fail(&c, PC_STAGE_IDS, errno, 125);
        }
    }
    caps_after_ids(&c);
    umask(p->umask >= 0 ? (mode_t)p->umask : 022);
    const char *cwd = p->cwd ? p->cwd : "/";
    if (chdir(cwd) < 0) {
        say(&c, "chdir to working directory", cwd);
        fail(&c, PC_STAGE_CWD, errno, 125);
    }
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        say(&c, "set no_new_privs", NULL);
        fail(&c, PC_STAGE_EXEC, errno, 125);
    }
    if (p->no_new_privs)
        load_seccomp(&c);
    return 0;
}
