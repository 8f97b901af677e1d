/* The tiny init (PID 1 of a container, or the forwarder of an exec into a pid namespace):
 * forks the payload, forwards signals, reaps, exits with the payload's status. And the
 * handoff of a container's first process into a pid namespace, which needs no forwarder. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

static int exit_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

/* Tiny init / forwarder: fork the payload, forward signals to it, reap every child, exit
 * with the payload's status. Returns only in the payload child. */
/* Blank this process's command line (the spawner's, inherited through the clone) so that
 * /proc/PID/cmdline, which anyone may read, tells the container nothing of the host. The
 * argument area's bounds are fields 48 and 49 of /proc/self/stat. */
static void blank_cmdline(void) {
    char buf[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return;
    /* after ") " comes field 3; walk to field 48 */
    int field = 2;
    unsigned long long vals[2] = {0, 0};
    for (p++; *p && field < 49; p++) {
        if (*p == ' ') {
            field++;
            if (field == 48 || field == 49) {
                unsigned long long v = 0;
                const char *q = p + 1;
                while (*q >= '0' && *q <= '9')
                    v = v * 10 + (unsigned long long)(*q++ - '0');
                vals[field - 48] = v;
            }
        }
    }
    if (vals[0] && vals[1] > vals[0] && vals[1] - vals[0] < (1u << 20)) {
        char *start = (char *)(uintptr_t)vals[0];
        size_t len = (size_t)(vals[1] - vals[0]);
        memset(start, 0, len);
        if (len > 5)
            memcpy(start, "init", 5);
    }
}

void run_init(struct child *c, int as_subreaper) {
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    if (as_subreaper)
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    /* raw clone, not fork(): glibc's fork runs atfork handlers and takes malloc locks that
     * another thread of the parent may have held at the instant we were cloned */
    pid_t child = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    if (child < 0) {
        say(c, "fork the payload", NULL);
        fail(c, PC_STAGE_INIT, errno, 125);
    }
    if (child == 0) {
        /* the payload must not outlive its init or forwarder (a forwarder outside the pid
         * namespace cannot pass SIGKILL on) */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        sigprocmask(SIG_SETMASK, &old, NULL);
        return;
    }
    /* init: keep nothing open but stdio, so readers see EOF when the payload exits */
    (void)prctl(PR_SET_NAME, "init", 0, 0, 0);
    blank_cmdline();
    close(c->sock);
    c->sock = -1;
    if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&all, &si);
        if (sig < 0)
            continue;
        if (sig == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid == child)
                    _exit(exit_status(status));
            }
            continue;
        }
        (void)kill(child, sig);
    }
}

/* A container's first process must be in the pid namespace it joins (or unshared after
 * joining a user namespace), and the caller's child: setns() and unshare() place only our
 * children there. Clone it with CLONE_PARENT (the caller's child, our sibling), tell the
 * caller its pid with its pidfd, and exit: the caller then holds, signals and reaps that
 * process itself, and a subreaper above the caller gets it once the caller exits, as under
 * runc (libcontainer/nsenter does the same). The new process waits for our word that the
 * handoff is sent, so that message comes before any of its own on the shared socket.
 * Returns only in the new process. */
void hand_off(struct child *c) {
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) {
        say(c, "pipe for the handoff", NULL);
        fail(c, PC_STAGE_INIT, errno, 125);
    }
    int pidfd = -1;
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_PARENT | CLONE_PIDFD | SIGCHLD), 0, &pidfd, 0, 0);
    if (pid < 0) {
        say(c, "clone the container's process into its pid namespace", NULL);
        fail(c, PC_STAGE_INIT, errno, 125);
    }
    if (pid == 0) {
        char byte;
        ssize_t n;
        close(gate[1]);
        do { /* a byte once the handoff is sent; EOF without it: the caller never heard of
                us (it killed the cloning child meanwhile), so there is nobody to set up for */
            n = read(gate[0], &byte, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            _exit(125);
        close(gate[0]);
        /* the death signal is not inherited; the caller is now the parent it refers to */
        if (c->plan->pdeathsig)
            (void)prctl(PR_SET_PDEATHSIG, c->plan->pdeathsig, 0, 0, 0);
        return;
    }
    close(gate[0]);
    struct pc_error e;
    memset(&e, 0, sizeof(e));
    e.stage = PC_STAGE_HANDOFF;
    e.fd = -1;
    e.pid = (int)pid;
    if (send_with_fd(c->sock, &e, sizeof(e), pidfd) < 0 || write(gate[1], "h", 1) != 1)
        (void)kill((pid_t)pid, SIGKILL); /* the caller is gone: nobody would release it */
    _exit(0);
}
