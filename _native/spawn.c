/* pc_spawn: clone3 a container child and run its whole setup in C.
 *
 * The parent (a Python process, possibly with many threads) calls pc_spawn() with a fully
 * resolved plan. After clone only async-signal-safe code runs in the child: no malloc, no
 * stdio, no locks. The child reports failures as struct pc_error on a SOCK_SEQPACKET
 * socket that is close-on-exec, so EOF on the parent's end means execve succeeded. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <grp.h>
#include <pthread.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* The message, with fd (>= 0) passed along it. */
void send_msg_fd(struct child *c, int stage, int err, int exit_code, int fd) {
    struct pc_error e;
    memset(&e, 0, sizeof(e));
    e.stage = stage;
    e.err = err;
    e.exit_code = exit_code;
    e.fd = -1;
    memcpy(e.message, c->msg.buf, c->msg.len + 1);
    if (c->sock >= 0)
        (void)send_with_fd(c->sock, &e, sizeof(e), fd);
}

void send_msg(struct child *c, int stage, int err, int exit_code) {
    send_msg_fd(c, stage, err, exit_code, -1);
}

__attribute__((noreturn)) void fail(struct child *c, int stage, int err, int exit_code) {
    send_msg(c, stage, err, exit_code);
    _exit(exit_code);
}

/* Start a message: "what target" */
struct pc_msg *say(struct child *c, const char *what, const char *arg) {
    msg_reset(&c->msg);
    msg_str(&c->msg, what);
    if (arg) {
        msg_str(&c->msg, " ");
        msg_str(&c->msg, arg);
    }
    return &c->msg;
}

static void close_except(const int *keep, int n) {
    /* keep[] sorted ascending; close every other fd */
    unsigned int next = 0;
    for (int i = 0; i <= n; i++) {
        unsigned int upto = i < n ? (unsigned int)keep[i] : ~0U;
        if (upto > next) {
            if (syscall(SYS_close_range, next, upto - 1, 0) < 0) {
                struct rlimit rl;
                unsigned int max = 65536;
                if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
                    max = (unsigned int)rl.rlim_cur;
                for (unsigned int fd = next; fd < upto && fd < max; fd++)
                    close((int)fd);
            }
        }
        if (i < n)
            next = (unsigned int)keep[i] + 1;
    }
}

static void sort_ints(int *a, int n) {
    for (int i = 1; i < n; i++) {
        int v = a[i], j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

/* Move every fd the child needs above the highest target number, close all others, then
 * place the stdio/passed fds at their numbers (without close-on-exec). */
static void setup_fds(struct child *c, int *joinfds, int *cgfds, int *extra) {
    const struct pc_plan *p = c->plan;
    int floor = 3;
    for (int i = 0; i < p->n_fds; i++)
        if (p->fds[i].dst + 1 > floor)
            floor = p->fds[i].dst + 1;
    int keep[PC_MAX_FDS + PC_MAX_JOINS + PC_MAX_CGROUPS + PC_MAX_TREES + 4];
    int nkeep = 0;
    int srcs[PC_MAX_FDS];
    c->sock = fcntl(c->sock, F_DUPFD_CLOEXEC, floor);
    if (c->sock < 0)
        _exit(125);
    keep[nkeep++] = c->sock;
    if (*extra >= 0) {
        int moved = fcntl(*extra, F_DUPFD_CLOEXEC, floor);
        if (moved < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        close(*extra);
        *extra = moved;
        keep[nkeep++] = moved;
    }
    for (int i = 0; i < p->n_joins; i++) {
        joinfds[i] = fcntl(p->joins[i].fd, F_DUPFD_CLOEXEC, floor);
        if (joinfds[i] < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        keep[nkeep++] = joinfds[i];
    }
    if (p->rootfs_tree_fd >= 0) {
        c->tree_fd = fcntl(p->rootfs_tree_fd, F_DUPFD_CLOEXEC, floor);
        if (c->tree_fd < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        keep[nkeep++] = c->tree_fd;
    }
    if (p->start_fifo_fd >= 0) {
        c->fifo = fcntl(p->start_fifo_fd, F_DUPFD_CLOEXEC, floor);
        if (c->fifo < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        keep[nkeep++] = c->fifo;
    }
    for (int i = 0; i < p->n_mount_trees; i++) {
        c->trees[i] = fcntl(p->mount_trees[i], F_DUPFD_CLOEXEC, floor);
        if (c->trees[i] < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        keep[nkeep++] = c->trees[i];
    }
    for (int i = 0; i < p->n_cgroup_fds; i++) {
        cgfds[i] = fcntl(p->cgroup_fds[i], F_DUPFD_CLOEXEC, floor);
        if (cgfds[i] < 0)
            fail(c, PC_STAGE_FDS, errno, 125);
        keep[nkeep++] = cgfds[i];
    }
    for (int i = 0; i < p->n_fds; i++) {
        if (p->fds[i].src < 0)
            srcs[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        else
            srcs[i] = fcntl(p->fds[i].src, F_DUPFD_CLOEXEC, floor);
        if (srcs[i] < 0) {
            say(c, "duplicate fd", NULL);
            msg_int(&c->msg, p->fds[i].src);
            fail(c, PC_STAGE_FDS, errno, 125);
        }
        if (srcs[i] < floor) { /* /dev/null landed low: move it up */
            int moved = fcntl(srcs[i], F_DUPFD_CLOEXEC, floor);
            close(srcs[i]);
            srcs[i] = moved;
            if (moved < 0)
                fail(c, PC_STAGE_FDS, errno, 125);
        }
        keep[nkeep++] = srcs[i];
    }
    sort_ints(keep, nkeep);
    close_except(keep, nkeep);
    for (int i = 0; i < p->n_fds; i++) {
        if (dup3(srcs[i], p->fds[i].dst, 0) < 0) {
            say(c, "dup fd to", NULL);
            msg_int(&c->msg, p->fds[i].dst);
            fail(c, PC_STAGE_FDS, errno, 125);
        }
    }
    for (int i = 0; i < p->n_fds; i++)
        close(srcs[i]);
}

static void reset_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < _NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        (void)sigaction(sig, &sa, NULL);
    }
}

/* A new network namespace starts with lo down; containers expect it up (as Docker does). */
void loopback_up(struct child *c) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        say(c, "socket for bringing lo up", NULL);
        fail(c, PC_STAGE_JOIN, errno, 125);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        int err = errno;
        close(s);
        say(c, "bring lo up", NULL);
        fail(c, PC_STAGE_JOIN, err, 125);
    }
    close(s);
}

/* The time namespace just unshared (it holds our children and, after execve, the payload):
 * its clock offsets, which only a namespace nobody has entered yet accepts. */
static int open_timens_offsets(struct child *c) {
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        say(c, "open /proc/self/timens_offsets", NULL);
        fail(c, PC_STAGE_JOIN, errno, 125);
    }
    return fd;
}

/* fd: opened by open_timens_offsets while /proc/self was still ours to open (before the
 * child became non-dumpable); the write applies to the namespace our children get now. */
static void write_timens_offsets(struct child *c, int fd) {
    const char *text = c->plan->timens_offsets;
    size_t len = strlen(text);
    /* the kernel takes one clock per write */
    for (size_t start = 0; fd >= 0 && start < len;) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        if (end < len)
            end++;
        if (write(fd, text + start, end - start) != (ssize_t)(end - start)) {
            int err = errno;
            close(fd);
            say(c, "write the time namespace's offsets", text + start);
            fail(c, PC_STAGE_JOIN, err, 125);
        }
        start = end;
    }
    close(fd);
}

/* The terminal is also the container's /dev/console (as runc makes it): its pts node bound
 * on a regular file created there (never through a symlink). */
static void bind_console(struct child *c, int master) {
    unsigned int n = 0;
    if (ioctl(master, TIOCGPTN, &n) < 0) {
        say(c, "find the terminal's number", NULL);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    char src[32] = "/dev/pts/";
    struct pc_msg num;
    msg_reset(&num);
    msg_int(&num, (long long)n);
    memcpy(src + 9, num.buf, num.len + 1);
    int fd = open("/dev/console", O_WRONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode))) {
        say(c, "create /dev/console", NULL);
        fail(c, PC_STAGE_STDIO, fd < 0 ? errno : EINVAL, 125);
    }
    char target[32];
    proc_fd_path(target, fd);
    if (mount(src, target, NULL, MS_BIND, NULL) < 0) {
        say(c, "bind the terminal on /dev/console:", src);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    close(fd);
}

/* A terminal of the container's own devpts (so tty(1) inside can name it): open its
 * ptmx, make the peer our stdio and controlling terminal, and hand the master to the
 * monitor over console_sock (SCM_RIGHTS). */
static void make_console(struct child *c) {
    const struct pc_plan *p = c->plan;
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int unlock = 0;
    if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0) {
        say(c, "open the container's /dev/ptmx", NULL);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    if (p->console_rows || p->console_cols) {
        struct winsize ws;
        memset(&ws, 0, sizeof(ws));
        ws.ws_row = p->console_rows;
        ws.ws_col = p->console_cols;
        if (ioctl(master, TIOCSWINSZ, &ws) < 0) {
            say(c, "set the terminal's size", NULL);
            fail(c, PC_STAGE_STDIO, errno, 125);
        }
    }
    if (p->rootfs)
        bind_console(c, master);
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0) {
        say(c, "open the terminal's peer", NULL);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    if (slave > 2)
        close(slave);
    if (ioctl(0, TIOCSCTTY, 0) < 0) {
        say(c, "make the terminal the controlling one", NULL);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    char byte = 't';
    if (send_with_fd(p->console_sock, &byte, 1, master) < 0) {
        say(c, "hand the terminal to the monitor", NULL);
        fail(c, PC_STAGE_STDIO, errno, 125);
    }
    close(master);
    close(p->console_sock);
}

/* chdir to the process's working directory; with check, make sure that it is inside the
 * new root (CVE-2024-21626: a leaked fd of the host as cwd). A second chdir to the same path
 * in the same root resolves to the same place. */
static void enter_cwd(struct child *c, int check) {
    const struct pc_plan *p = c->plan;
    const char *cwd = p->cwd ? p->cwd : "/";
    if (chdir(cwd) < 0) {
        say(c, "chdir to working directory", cwd);
        fail(c, PC_STAGE_CWD, errno, 125);
    }
    if (check && p->rootfs) {
        char wd[PC_PATH_MAX];
        long r = syscall(SYS_getcwd, wd, sizeof(wd));
        if (r < 0 || wd[0] != '/') {
            say(c, "working directory is outside the container's root:", cwd);
            fail(c, PC_STAGE_CWD, r < 0 ? errno : EPERM, 125);
        }
    }
}

__attribute__((noreturn)) static void child_main(struct child *c) {
    const struct pc_plan *p = c->plan;
    int joinfds[PC_MAX_JOINS];
    int cgfds[PC_MAX_CGROUPS];
    char buf;

    /* nothing in the container may ptrace or read the memory of this copy of the parent
     * (execve resets this for the payload): at once when joining existing namespaces;
     * for new ones after the sync point, since an unprivileged parent can write the id
     * maps only of a dumpable child, and nothing else is in those namespaces yet */
    /* opened before anything else: a non-dumpable child (in a user namespace) could not */
    int timens_fd = p->timens_offsets ? open_timens_offsets(c) : -1;
    if (p->n_joins)
        (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    reset_signals();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    umask(0);
    setup_fds(c, joinfds, cgfds, &timens_fd);
    if (p->pdeathsig)
        (void)prctl(PR_SET_PDEATHSIG, p->pdeathsig, 0, 0, 0);

    /* sync point 1: wait until the parent wrote id maps, cgroups, network (unless the plan
     * says the parent has nothing to do: then go on at once) */
    ssize_t n;
    if (!p->no_sync) {
        /* the release byte may carry an fd: the rootfs as an idmapped mount tree */
        int received = -1;
        n = recv_with_fd(c->sock, &buf, 1, &received);
        if (n != 1)
            _exit(125); /* the parent gave up: nothing to report to */
        if (received >= 0) {
            if (c->tree_fd >= 0)
                close(c->tree_fd); /* the idmapped copy replaces the plain one */
            c->tree_fd = received;
        }
    }

    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    /* join the container's cgroup in every hierarchy ("0" moves the writer), then make the
     * cgroup namespace, so that it is rooted at the container's group */
    for (int i = 0; i < p->n_cgroup_fds; i++) {
        if (c->into_cgroup && i == p->cgroup_v2_slot - 1) { /* born there (CLONE_INTO_CGROUP) */
            close(cgfds[i]);
            continue;
        }
        if (write(cgfds[i], "0", 1) != 1) {
            say(c, "join the container's cgroup", NULL);
            fail(c, PC_STAGE_CGROUP, errno, 125);
        }
        close(cgfds[i]);
    }
    if (p->clone_flags & CLONE_NEWUSER) {
        if (pc_setresgid(0) < 0 || pc_setresuid(0) < 0) {
            say(c, "become root in the new user namespace (are uid_map/gid_map written?)", NULL);
            fail(c, PC_STAGE_USER, errno, 125);
        }
    }
    int joined_pid = 0;
    for (int i = 0; i < p->n_joins; i++) {
        if (setns(joinfds[i], p->joins[i].nstype) < 0) {
            say(c, "setns into namespace type", NULL);
            msg_int(&c->msg, p->joins[i].nstype);
            fail(c, PC_STAGE_JOIN, errno, 125);
        }
        close(joinfds[i]);
        if (p->joins[i].nstype == CLONE_NEWPID)
            joined_pid = 1;
        if (p->joins[i].nstype == CLONE_NEWUSER && (pc_setresgid(0) < 0 || pc_setresuid(0) < 0)) {
            say(c, "become root in the joined user namespace", NULL);
            fail(c, PC_STAGE_JOIN, errno, 125);
        }
    }
    /* new namespaces made now are owned by a joined user namespace (its root may then
     * mount in them); a new pid namespace holds only children: fork into it below */
    if (p->unshare_flags && unshare((int)p->unshare_flags) < 0) {
        say(c, "unshare namespaces after joining the cgroup and namespaces", NULL);
        fail(c, PC_STAGE_CGROUP, errno, 125);
    }
    if (p->unshare_flags & CLONE_NEWPID)
        joined_pid = 1;
    if (timens_fd >= 0)
        write_timens_offsets(c, timens_fd);
    if (joined_pid && p->rootfs) {
        /* a container's first process joining a pid namespace: fork into it now, so that
         * the /proc it mounts is that namespace's, not the host's (as the caller's child;
         * under a monitor, this process stays outside as the forwarder) */
        if (p->clone_parent)
            hand_off(c);
        else
            run_init(c, 0);
        joined_pid = 0;
    }
    if ((p->clone_flags | p->unshare_flags) & CLONE_NEWNET)
        loopback_up(c);
    if (p->new_session && setsid() < 0) {
        say(c, "setsid", NULL);
        fail(c, PC_STAGE_SETSID, errno, 125);
    }
    if (p->new_session == 2 && ioctl(0, TIOCSCTTY, 0) < 0) {
        say(c, "make the terminal on fd 0 the controlling one", NULL);
        fail(c, PC_STAGE_SETSID, errno, 125);
    }
    if (p->start_fifo && c->fifo < 0) {
        c->fifo = open(p->start_fifo, O_RDWR | O_CLOEXEC);
        if (c->fifo < 0) {
            say(c, "open start fifo", p->start_fifo);
            fail(c, PC_STAGE_START_WAIT, errno, 125);
        }
    }
    if (p->rootfs)
        setup_rootfs(c);
    if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) {
        say(c, "sethostname", p->hostname);
        fail(c, PC_STAGE_HOSTNAME, errno, 125);
    }
    if (p->domainname && setdomainname(p->domainname, strlen(p->domainname)) < 0) {
        say(c, "setdomainname", p->domainname);
        fail(c, PC_STAGE_HOSTNAME, errno, 125);
    }
    if (p->console_sock >= 0)
        make_console(c);
    for (int i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {p->rlimits[i].soft, p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0) {
            say(c, "setrlimit resource", NULL);
            msg_int(&c->msg, p->rlimits[i].resource);
            fail(c, PC_STAGE_RLIMIT, errno, 125);
        }
    }
    int listener = -1, seccomp_done = 0;
    if (!p->no_new_privs) { /* without no_new_privs, only CAP_SYS_ADMIN may load it: now */
        /* the filter may refuse getcwd (runtime-tools' linux_seccomp does): check first */
        enter_cwd(c, 1);
        listener = load_seccomp(c);
        seccomp_done = 1;
    }
    caps_before_ids(c);
    if (p->set_ids) {
        /* n_groups < 0: setgroups is denied in this user namespace (rootless): leave them */
        if ((p->n_groups >= 0 &&
             pc_setgroups((size_t)p->n_groups, p->n_groups ? (const gid_t *)p->groups : NULL) < 0) ||
            pc_setresgid(p->gid) < 0 || pc_setresuid(p->uid) < 0) {
            say(c, "switch to uid", NULL);
            msg_int(&c->msg, p->uid);
            msg_str(&c->msg, " gid ");
            msg_int(&c->msg, p->gid);
            fail(c, PC_STAGE_IDS, errno, 125);
        }
    }
    caps_after_ids(c);
    umask(p->umask >= 0 ? (mode_t)p->umask : 022);
    /* again as the container's user (its permissions); checked already if seccomp is on */
    enter_cwd(c, !seccomp_done);
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        say(c, "set no_new_privs", NULL);
        fail(c, PC_STAGE_EXEC, errno, 125);
    }
    if (p->argv == NULL) {
        /* hold: keep the namespaces alive until killed */
        say(c, "holding", NULL);
        send_msg(c, PC_STAGE_READY, 0, 0);
        close(c->sock);
        for (;;)
            pause();
    }
    lookup_exe(c);
    if (c->fifo >= 0) {
        if (p->seccomp_listener && !seccomp_done) {
            /* the notify fd must reach the runtime before it exits: load the filter now
             * (it then also covers the start wait and execve) */
            listener = load_seccomp(c);
            seccomp_done = 1;
        }
        say(c, "created", NULL);
        send_msg_fd(c, PC_STAGE_READY, 0, 0, listener);
        if (listener >= 0)
            close(listener);
        do {
            n = read(c->fifo, &buf, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) {
            say(c, "wait for the start signal", NULL);
            fail(c, PC_STAGE_START_WAIT, n < 0 ? errno : EPIPE, 125);
        }
        close(c->fifo);
        c->fifo = -1;
    }
    if (p->init || joined_pid)
        run_init(c, p->init && !(p->clone_flags & CLONE_NEWPID));
    if (!seccomp_done)
        (void)load_seccomp(c);
    execve(c->exe, p->argv, p->envp);
    say(c, "exec", c->exe);
    fail(c, PC_STAGE_EXEC, errno, errno == ENOENT ? 127 : 126);
}

/* clone3's arguments up to CLONE_ARGS_SIZE_VER2 (cgroup: Linux 5.7) */
struct clone_args_v2 {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size, cgroup;
};

/* The plan names its cgroup2 group (and that group's cgroup.procs is among cgroup_fds). */
static int wants_into(const struct pc_plan *plan) {
    return plan->cgroup_v2_slot > 0 && plan->cgroup_v2_slot <= plan->n_cgroup_fds && plan->cgroup_v2_fd >= 0;
}

/* clone3 refuses CLONE_INTO_CGROUP (or clone3 itself) as a kernel before 5.7 (or 5.3) does:
 * the child then joins by writing cgroup.procs. Any other error is the group's or the clone's. */
static int into_unsupported(int err) {
    return err == E2BIG || err == EINVAL || err == ENOSYS;
}

/* clone3 a fork-style child (the caller's own stack, a copy of its memory), into the plan's
 * cgroup2 group when it names one (c->into_cgroup says whether the child was). */
static long clone3_child(const struct pc_plan *plan, struct child *c, int *pidfd) {
    struct clone_args_v2 args;
    memset(&args, 0, sizeof(args));
    args.flags = plan->clone_flags | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)pidfd;
    args.exit_signal = SIGCHLD;
    c->into_cgroup = wants_into(plan);
    if (c->into_cgroup) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)plan->cgroup_v2_fd;
    }
    long pid = syscall(SYS_clone3, &args, sizeof(args));
    if (pid < 0 && c->into_cgroup && into_unsupported(errno)) {
        c->into_cgroup = 0;
        args.flags &= ~CLONE_INTO_CGROUP;
        args.cgroup = 0;
        pid = syscall(SYS_clone3, &args, sizeof(args));
    }
    if (pid < 0 && (errno == ENOSYS || errno == E2BIG)) {
        /* kernels before 5.3: clone(2) with the same flags (no CLONE_NEWTIME there) */
        c->into_cgroup = 0;
        pid = syscall(SYS_clone, (unsigned long)(plan->clone_flags | CLONE_PIDFD | SIGCHLD), 0, pidfd, 0, 0);
    }
    return pid;
}

#define PC_VFORK_STACK (256 * 1024)

static int vfork_child(void *arg) {
    child_main((struct child *)arg);
}

#if defined(__x86_64__)
/* clone3 with the child on its own stack (glibc's clone() has no clone3 form that takes a
 * cgroup): the child calls fn(arg) there and exits with its value; it never returns into
 * the caller's frames. Returns the pid, or -1 with errno. */
static long clone3_on_stack(struct clone_args_v2 *args, int (*fn)(void *), void *arg) {
    long ret;
    register void *r12 __asm__("r12") = (void *)fn;
    register void *r13 __asm__("r13") = arg;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %%r13, %%rdi\n\t"
                     "call *%%r12\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov %[nr_exit], %%eax\n\t"
                     "syscall\n\t"
                     "hlt\n"
                     "1:\n\t"
                     : "=a"(ret)
                     : "0"((long)SYS_clone3), "D"(args), "S"(sizeof(*args)), "r"(r12), "r"(r13),
                       [nr_exit] "i"(SYS_exit)
                     : "rcx", "r11", "memory");
    if (ret < 0 && ret > -4096) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}
#endif

/* The fast path, like posix_spawn: the child shares the parent's memory (no page tables to
 * copy, no copy-on-write faults afterwards) and the calling thread is suspended until the
 * child calls execve or exits. Only for plans where the parent has nothing to do between
 * clone and execve and the child never waits (no user namespace maps, no start signal, no
 * init). The child writes only its own stack (and errno, which the suspended caller does
 * not read after a successful clone). */
static long spawn_vfork(const struct pc_plan *plan, struct child *c, int *pidfd) {
    void *stack = mmap(NULL, PC_VFORK_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return -1;
    c->shared_vm = 1;
    long pid = -1;
    c->into_cgroup = 0;
#if defined(__x86_64__)
    if (wants_into(plan)) {
        struct clone_args_v2 args;
        memset(&args, 0, sizeof(args));
        args.flags = plan->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP;
        args.pidfd = (uint64_t)(uintptr_t)pidfd;
        args.exit_signal = SIGCHLD;
        args.stack = (uint64_t)(uintptr_t)stack;
        args.stack_size = PC_VFORK_STACK;
        args.cgroup = (uint64_t)plan->cgroup_v2_fd;
        c->into_cgroup = 1; /* the child reads it from the memory it shares */
        pid = clone3_on_stack(&args, vfork_child, c);
        if (pid < 0 && into_unsupported(errno))
            c->into_cgroup = 0;
        else if (pid < 0)
            c->into_cgroup = -1;
    }
#endif
    if (pid < 0 && c->into_cgroup == 0) {
        int flags = (int)plan->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD;
        pid = clone(vfork_child, (char *)stack + PC_VFORK_STACK, flags, c, pidfd);
    }
    int err = errno;
    munmap(stack, PC_VFORK_STACK);
    errno = err;
    return pid;
}

static int can_vfork(const struct pc_plan *plan) {
    if (plan->clone_flags & (CLONE_NEWUSER | CLONE_NEWTIME))
        return 0;
    if (plan->start_fifo || plan->start_fifo_fd >= 0 || plan->init || plan->argv == NULL || plan->n_joins)
        return 0;
    return plan->no_sync;
}

int pc_spawn(const struct pc_plan *plan, struct pc_spawn_result *res) {
    if (plan->n_fds < 0 || plan->n_fds > PC_MAX_FDS || plan->n_joins < 0 || plan->n_joins > PC_MAX_JOINS ||
        plan->n_cgroup_fds < 0 || plan->n_cgroup_fds > PC_MAX_CGROUPS ||
        plan->n_mount_trees < 0 || plan->n_mount_trees > PC_MAX_TREES)
        return -EINVAL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pidfd = -1;
    long pid;
    struct child c;
    memset(&c, 0, sizeof(c));
    c.plan = plan;
    c.sock = sv[1];
    c.rootfd = -1;
    c.fifo = -1;
    c.maskdir = -1;
    c.tree_fd = -1;
    if (can_vfork(plan)) {
        pid = spawn_vfork(plan, &c, &pidfd);
    } else {
        pid = clone3_child(plan, &c, &pidfd);
        if (pid < 0 && c.into_cgroup)
            c.into_cgroup = -1; /* the group's (or the clone's) failure: never a plain clone */
        if (pid == 0) {
            close(sv[0]);
            child_main(&c);
        }
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    res->into_cgroup = c.into_cgroup;
    if (pid < 0) {
        close(sv[0]);
        return -err;
    }
    res->pid = (int)pid;
    res->pidfd = pidfd;
    res->sock = sv[0];
    return 0;
}

/* -- detached containers: the monitor as the container's parent ------------------------ */

#define PC_MONITOR_MAX_FDS 16

struct monitor_hello {
    int pid;
    int err;
    int monitor_pid;
    int into_cgroup; /* as pc_spawn_result's */
};

static void send_hello(int ctl, int pid, int err, int pidfd, int into) {
    struct monitor_hello h = {pid, err, (int)getpid(), into};
    (void)send_with_fd(ctl, &h, sizeof(h), pidfd);
}

/* In the second intermediate (async-signal-safe code only): clone the container child,
 * report it, arrange the monitor's fds and become the monitor. */
__attribute__((noreturn)) static void monitor_main(const struct pc_plan *plan, const struct pc_monitor *mon,
                                                   int ctl, int child_sock, int parent_sock) {
    close(parent_sock);
    (void)setsid();
    struct child c;
    memset(&c, 0, sizeof(c));
    c.plan = plan;
    c.sock = child_sock;
    c.rootfd = -1;
    c.fifo = -1;
    c.maskdir = -1;
    c.tree_fd = -1;
    int pidfd = -1;
    long pid = clone3_child(plan, &c, &pidfd);
    if (pid == 0) {
        close(ctl);
        child_main(&c);
    }
    if (pid < 0) {
        send_hello(ctl, 0, errno, -1, c.into_cgroup ? -1 : 0);
        _exit(1);
    }
    close(child_sock);
    /* the caller wrote PC_PID_PLACEHOLDER where the monitor's argv needs the container's
     * pid (unknown until now): fill it in place (no allocation after fork) */
    for (char **a = mon->argv; a && *a; a++) {
        if (strcmp(*a, PC_PID_PLACEHOLDER) == 0) {
            char digits[16];
            int nd = 0;
            for (long v = pid; v > 0 && nd < 15; v /= 10)
                digits[nd++] = (char)('0' + v % 10);
            for (int k = 0; k < nd; k++)
                (*a)[k] = digits[nd - 1 - k];
            (*a)[nd] = '\0';
        }
    }
    send_hello(ctl, (int)pid, 0, pidfd, c.into_cgroup);
    close(pidfd);
    /* fds for the monitor: ctl -> 3, mon->fds[i] -> 4 + i. Lift everything above the
     * targets first so no dup2 overwrites a source still needed. */
    int lifted[PC_MONITOR_MAX_FDS + 1];
    int n = mon->n_fds + 1;
    int ctl_now = ctl;
    for (int i = 0; i < n; i++) {
        int src = i == 0 ? ctl : mon->fds[i - 1];
        lifted[i] = fcntl(src, F_DUPFD_CLOEXEC, 3 + n);
        if (lifted[i] < 0)
            goto fail;
    }
    for (int i = 0; i < n; i++) {
        if (dup2(lifted[i], 3 + i) < 0)
            goto fail;
    }
    ctl_now = 3;
    syscall(SYS_close_range, 3 + n, ~0U, 0);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        close(devnull);
    }
    reset_signals();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(mon->path, mon->argv, mon->envp);
fail:;
    int err = errno;
    kill((pid_t)pid, SIGKILL);
    struct monitor_hello h = {-1, err, (int)getpid(), 0};
    (void)send(ctl_now, &h, sizeof(h), MSG_NOSIGNAL);
    _exit(127);
}

int pc_spawn_monitored(const struct pc_plan *plan, const struct pc_monitor *mon,
                       struct pc_spawn_result *res, int *ctl_out, int *monitor_pid) {
    if (plan->n_fds < 0 || plan->n_fds > PC_MAX_FDS || plan->n_joins < 0 || plan->n_joins > PC_MAX_JOINS ||
        plan->n_cgroup_fds < 0 || plan->n_cgroup_fds > PC_MAX_CGROUPS ||
        plan->n_mount_trees < 0 || plan->n_mount_trees > PC_MAX_TREES || mon->n_fds < 0 ||
        mon->n_fds > PC_MONITOR_MAX_FDS)
        return -EINVAL;
    int sv[2], ctl[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        return -err;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long first = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, NULL, NULL, 0);
    if (first == 0) {
        /* the first intermediate: fork the monitor-to-be and leave, so it is re-parented */
        close(ctl[0]);
        long second = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, NULL, NULL, 0);
        if (second == 0)
            monitor_main(plan, mon, ctl[1], sv[1], sv[0]);
        if (second < 0)
            send_hello(ctl[1], 0, errno, -1, 0);
        _exit(second < 0);
    }
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(sv[1]);
    close(ctl[1]);
    if (first < 0) {
        close(sv[0]);
        close(ctl[0]);
        return -err;
    }
    int status;
    while (waitpid((pid_t)first, &status, __WALL) < 0 && errno == EINTR)
        ;
    struct monitor_hello h = {0, EPIPE, 0, 0};
    int pidfd = -1;
    ssize_t got = recv_with_fd(ctl[0], &h, sizeof(h), &pidfd);
    res->into_cgroup = h.into_cgroup;
    if (got <= 0 || h.pid <= 0 || pidfd < 0) {
        if (pidfd >= 0)
            close(pidfd);
        close(sv[0]);
        close(ctl[0]);
        return h.err ? h.err : EPIPE;
    }
    res->pid = h.pid;
    res->pidfd = pidfd;
    res->sock = sv[0];
    *ctl_out = ctl[0];
    *monitor_pid = h.monitor_pid;
    return 0;
}
