/* Thin wrappers over syscalls that Python's os module lacks (on 3.11); those of the mount
 * API, openat2 and syncfs are in fsapi.c. Each returns the result, or -errno;
 * pycontainers._sys turns that into an OSError naming the call. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define RET(expr) return (expr) < 0 ? -errno : 0

int pc_setns(int fd, int nstype) { RET(setns(fd, nstype)); }
int pc_unshare(int flags) { RET(unshare(flags)); }
int pc_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data) {
    RET(mount(source, target, fstype, flags, data));
}
int pc_umount2(const char *target, int flags) { RET(umount2(target, flags)); }
int pc_pivot_root(const char *new_root, const char *put_old) {
    RET(syscall(SYS_pivot_root, new_root, put_old));
}
int pc_pidfd_open(int pid, unsigned int flags) {
    long fd = syscall(SYS_pidfd_open, pid, flags);
    return fd < 0 ? -errno : (int)fd;
}
int pc_pidfd_send_signal(int pidfd, int sig, unsigned int flags) {
    RET(syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags));
}
int pc_close_range(unsigned int first, unsigned int last, unsigned int flags) {
    RET(syscall(SYS_close_range, first, last, flags));
}
int pc_sethostname(const char *name, size_t len) { RET(sethostname(name, len)); }
int pc_openat2_beneath(int dirfd, const char *path, int flags, int in_root) {
    return open_resolved(dirfd, path, flags, 0, in_root);
}

int pc_recv_error(int sock, struct pc_error *out) {
    ssize_t n;
    int fd = -1;
    memset(out, 0, sizeof(*out));
    n = recv_with_fd(sock, out, sizeof(*out), &fd);
    out->fd = fd;
    if (n < 0)
        return -errno;
    if (n == 0)
        return 0;
    out->message[sizeof(out->message) - 1] = '\0';
    return 1;
}

int pc_release(int sock, struct pc_error *out) {
    char go = 'g';
    ssize_t n;
    do {
        n = send(sock, &go, 1, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return pc_recv_error(sock, out);
}

/* Send len bytes, with fd as SCM_RIGHTS when fd >= 0 (async-signal-safe). */
ssize_t send_with_fd(int sock, const void *data, size_t len, int fd) {
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctrl;
    struct iovec iov = {(void *)data, len};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    memset(&ctrl, 0, sizeof(ctrl));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd >= 0) {
        mh.msg_control = ctrl.buf;
        mh.msg_controllen = sizeof(ctrl.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* Receive up to len bytes; *fd gets a passed fd (close-on-exec) or -1. */
ssize_t recv_with_fd(int sock, void *data, size_t len, int *fd) {
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctrl;
    struct iovec iov = {data, len};
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctrl.buf;
    mh.msg_controllen = sizeof(ctrl.buf);
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    *fd = -1;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(cm), sizeof(int));
    return n;
}

int pc_release_fd(int sock, int fd, struct pc_error *out) {
    char go = 'g';
    if (send_with_fd(sock, &go, 1, fd) < 0)
        return -errno;
    return pc_recv_error(sock, out);
}
