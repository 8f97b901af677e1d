/* Wrappers over the fd-based mount API (fsopen, fsconfig, fsmount, move_mount, open_tree,
 * mount_setattr), openat2 and syncfs, and mount(2) from a helper thread with a working
 * directory of its own. Each returns the result, or -errno; pycontainers._sys turns that
 * into an OSError naming the call. Called from Python only, never from a container child. */
#include "internal.h"
#include "sysconsts.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define RET(expr) return (expr) < 0 ? -errno : 0
#define RETFD(expr)                          \
    do {                                     \
        long fd_ = (expr);                   \
        return fd_ < 0 ? -errno : (int)fd_;  \
    } while (0)

int pc_fsopen(const char *fstype, unsigned int flags) {
    RETFD(syscall(SYS_fsopen, fstype, flags));
}

int pc_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux) {
    RET(syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

int pc_fsmount(int fd, unsigned int flags, unsigned int attr_flags) {
    RETFD(syscall(SYS_fsmount, fd, flags, attr_flags));
}

int pc_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                  unsigned int flags) {
    RET(syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

int pc_open_tree(const char *path, unsigned int flags) {
    RETFD(syscall(SYS_open_tree, AT_FDCWD, path, flags));
}

int pc_mount_setattr_idmap(int tree_fd, int userns_fd, unsigned int flags) {
    struct pc_mount_attr attr = {MOUNT_ATTR_IDMAP, 0, 0, (unsigned long long)userns_fd};
    RET(syscall(SYS_mount_setattr, tree_fd, "", flags, &attr, sizeof(attr)));
}

int pc_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
               unsigned long long resolve) {
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = flags;
    how.mode = mode;
    how.resolve = resolve;
    RETFD(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
}

int pc_syncfs(int fd) { RET(syncfs(fd)); }

/* -- mount(2) with a working directory of its own ------------------------------------------ */

struct mount_job {
    int cwd_fd;
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    int detached;
    int result;
};

static int mount_job_run(struct mount_job *j) {
    /* cwd and root of this thread only: the process's own cwd never changes */
    if (unshare(CLONE_FS) < 0)
        return -errno;
    if (j->cwd_fd >= 0 && fchdir(j->cwd_fd) < 0)
        return -errno;
    if (j->detached) {
        /* a mount namespace of this thread only (cwd and root follow into it), with no
         * propagation back to the host; it dies with the thread, the clone lives on */
        if (unshare(CLONE_NEWNS) < 0)
            return -errno;
        if (syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            return -errno;
    }
    if (syscall(SYS_mount, j->source, j->target, j->fstype, j->flags, j->data) < 0)
        return -errno;
    if (!j->detached)
        return 0;
    long fd = syscall(SYS_open_tree, AT_FDCWD, j->target, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

static void *mount_thread(void *arg) {
    struct mount_job *j = arg;
    j->result = mount_job_run(j);
    return NULL;
}

int pc_mount_in(int cwd_fd, const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data, int detached) {
    struct mount_job job = {cwd_fd, source, target, fstype, data, flags, detached, -EIO};
    sigset_t all, old;
    pthread_t th;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the helper takes none of our signals */
    int rc = pthread_create(&th, NULL, mount_thread, &job);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return -rc;
    pthread_join(th, NULL);
    return job.result;
}
