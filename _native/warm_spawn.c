/* The OCI runtime front end's spawn channel (pycontainers/runtime/_remote.py says the
 * protocol): a warm worker of `pycontainers-runtime create` sends the container's plan,
 * packed (plan_wire.c), and this process -- the caller's child, as a cold create is --
 * clones the container's process from it with pc_spawn, the shim's own code, so that the
 * caller (conmon, containerd-shim: subreapers) is its ancestor. The pidfd and the sync
 * socket go back to the worker, which releases the child as after its own spawn. A child the
 * worker needs reaped (a pid namespace handoff's intermediate, a child killed by an abort)
 * is reaped here on its word; if the command fails, every child spawned here that was not
 * reaped is killed and reaped before this process leaves.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"
#include "warm_conn.h"
#include "warm_spawn.h"

#define MAX_FDS 253
#define MAX_PAYLOAD (64u << 20)
#define MAX_KIDS 64

struct kid {
    int pid;
    int pidfd;
};

static struct kid kids[MAX_KIDS];
static int nkids;

static int read_exact(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r, n -= (size_t)r;
    }
    return 0;
}

static int send_msg(int fd, char kind, const void *payload, uint32_t len, const int *fds, int nfds) {
    char head[8] = {'P', 'C', 'S', kind};
    memcpy(head + 4, &len, 4);
    union {
        char buf[CMSG_SPACE(sizeof(int) * 2)];
        struct cmsghdr align;
    } u;
    struct iovec iov[2] = {{head, sizeof head}, {(void *)payload, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    if (nfds > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t sent;
    do
        sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent == (ssize_t)(sizeof head + len) ? 0 : -1; /* 20 bytes at most: no short write */
}

static void close_all(const int *fds, int n) {
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static int spawn(int fd, unsigned char *buf, size_t len, const int *fds, int nfds) {
    int32_t answer[3] = {-EINVAL, 0, 0};
    struct pc_spawn_result res = {.pid = 0, .pidfd = -1, .sock = -1, .into_cgroup = 0};
    struct pc_plan *plan = pc_plan_unpack(buf, len, fds, nfds);
    if (plan && nkids == MAX_KIDS)
        answer[0] = -EAGAIN;
    else if (plan)
        answer[0] = pc_spawn(plan, &res);
    close_all(fds, nfds); /* the child has its own (or none): these were the worker's */
    answer[1] = res.pid;
    answer[2] = res.into_cgroup;
    if (answer[0] < 0)
        return send_msg(fd, 'R', answer, sizeof answer, NULL, 0);
    kids[nkids++] = (struct kid){res.pid, res.pidfd};
    int back[2] = {res.pidfd, res.sock};
    int rc = send_msg(fd, 'R', answer, sizeof answer, back, 2);
    close(res.sock); /* the worker's now: its EOF must come when the child execs */
    return rc;
}

static int pending_pid; /* the child a wait is pending for (its pidfd: s->wait_fd) */

static int answer_wait(int fd, int pid, int flags) {
    int32_t answer[2] = {0, 0};
    int status = 0;
    pid_t r;
    do
        r = waitpid(pid, &status, flags);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 1; /* (WNOHANG) still running */
    answer[0] = r < 0 ? errno : 0;
    answer[1] = status;
    for (int i = 0; r > 0 && i < nkids; i++)
        if (kids[i].pid == pid) {
            close(kids[i].pidfd);
            kids[i] = kids[--nkids];
            break;
        }
    return send_msg(fd, 'w', answer, sizeof answer, NULL, 0);
}

/* A wait: answered at once if the child has ended (or is not ours), else once its pidfd is
 * readable (the relay polls it meanwhile, so that signals still reach the worker). */
static int reap(struct warm_spawner *s, const unsigned char *buf, size_t len) {
    int32_t pid;
    if (len != sizeof pid)
        return -1;
    memcpy(&pid, buf, sizeof pid);
    int rc = answer_wait(s->fd, pid, WNOHANG);
    if (rc != 1)
        return rc;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        return answer_wait(s->fd, pid, 0); /* (cannot happen for a live child of ours) */
    pending_pid = pid;
    s->wait_fd = pidfd;
    return 0;
}

int warm_spawn_waited(struct warm_spawner *s) {
    close(s->wait_fd);
    s->wait_fd = -1;
    return answer_wait(s->fd, pending_pid, 0);
}

int warm_spawn_serve(struct warm_spawner *s) {
    int fd = s->fd;
    char head[8];
    int fds[MAX_FDS], nfds = 0;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {head, sizeof head};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof u.buf};
    ssize_t got;
    do
        got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)n);
            nfds += n;
        }
    uint32_t len = 0;
    if (got <= 0 || (msg.msg_flags & MSG_CTRUNC) ||
        (got < (ssize_t)sizeof head && read_exact(fd, head + got, sizeof head - (size_t)got)) ||
        memcmp(head, "PCS", 3) != 0) {
        close_all(fds, nfds);
        return -1; /* EOF (the worker is done with it) or a broken message */
    }
    memcpy(&len, head + 4, 4);
    unsigned char *buf = len <= MAX_PAYLOAD ? malloc(len ? len : 1) : NULL;
    if (!buf || read_exact(fd, buf, len)) {
        free(buf);
        close_all(fds, nfds);
        return -1;
    }
    int rc;
    if (head[3] == 'S') {
        rc = spawn(fd, buf, len, fds, nfds);
    } else {
        close_all(fds, nfds);
        rc = head[3] == 'W' ? reap(s, buf, len) : -1;
    }
    free(buf);
    return rc;
}

void warm_spawn_finish(int status) {
    if (status == 0)
        return; /* created: the container's process stays, the caller's (subreaper's) now */
    for (int i = 0; i < nkids; i++) {
        syscall(SYS_pidfd_send_signal, kids[i].pidfd, SIGKILL, NULL, 0);
        while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
        close(kids[i].pidfd);
    }
    nkids = 0;
}
