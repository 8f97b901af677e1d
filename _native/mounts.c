/* Mounts inside the child's new mount namespace: the rootfs, the plan's ops (every target
 * resolved beneath the rootfs), masked and read-only paths, and pivot_root. Runs in the
 * child between clone() and execve(): async-signal-safe code only. */
#include "internal.h"
#include "sysconsts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

/* Mount helpers operate on "/proc/self/fd/N" of an fd resolved beneath the rootfs. */
static int mount_on_fd(const char *src, int fd, const char *fstype, unsigned long flags,
                       const char *data) {
    char target[32];
    proc_fd_path(target, fd);
    return mount(src, target, fstype, flags, data);
}

static unsigned long locked_flags(int fd) {
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return 0;
    return (unsigned long)sfs.f_flags &
           (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
}

/* Masked paths hide kernel interfaces; read-only paths stop writes to them. The /dev/null
 * bound on masked files is the host's, opened and checked here before pivot_root, never
 * one from the container's /dev that a payload could have swapped for a symlink
 * (CVE-2025-31133). */
static void mask_or_readonly(struct child *c, const struct pc_op *op) {
    int fd = open_beneath(c->rootfd, op->target, O_PATH | O_NOFOLLOW, 1);
    if (fd == -ENOENT)
        return;
    if (fd < 0) {
        say(c, op->kind == PC_OP_MASK ? "mask" : "make read-only", op->target);
        fail(c, PC_STAGE_MOUNT, -fd, 125);
    }
    struct stat st;
    int rc, err;
    if (fstat(fd, &st) < 0) {
        err = errno;
        close(fd);
        say(c, "stat", op->target);
        fail(c, PC_STAGE_MOUNT, err, 125);
    }
    if (op->kind == PC_OP_MASK) {
        if (S_ISDIR(st.st_mode) && c->maskdir >= 0) {
            /* one empty read-only tmpfs serves every masked directory: a bind is cheaper
             * than a new superblock */
            char src[32];
            proc_fd_path(src, c->maskdir);
            rc = mount_on_fd(src, fd, NULL, MS_BIND, NULL);
        } else if (S_ISDIR(st.st_mode)) {
            rc = mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555");
            if (rc == 0)
                c->maskdir = open_beneath(c->rootfd, op->target, O_PATH | O_NOFOLLOW, 1);
        } else {
            int null = open("/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC);
            struct stat nst;
            if (null < 0 || fstat(null, &nst) < 0 || !S_ISCHR(nst.st_mode) || nst.st_rdev != makedev(1, 3)) {
                say(c, "the host's /dev/null is not the null device; refusing to mask", op->target);
                fail(c, PC_STAGE_MOUNT, EPERM, 125);
            }
            char src[32];
            proc_fd_path(src, null);
            rc = mount_on_fd(src, fd, NULL, MS_BIND, NULL);
            err = errno;
            close(null);
            errno = err;
        }
    } else {
        char src[32];
        proc_fd_path(src, fd);
        rc = mount_on_fd(src, fd, NULL, MS_BIND | MS_REC, NULL);
        if (rc == 0) {
            int nfd = open_beneath(c->rootfd, op->target, O_PATH | O_NOFOLLOW, 1);
            rc = nfd < 0 ? -1 : mount_on_fd(NULL, nfd, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(nfd), NULL);
            err = nfd < 0 ? -nfd : errno;
            if (nfd >= 0)
                close(nfd);
            errno = err;
        }
    }
    err = errno;
    close(fd);
    if (rc < 0) {
        say(c, op->kind == PC_OP_MASK ? "mask" : "make read-only", op->target);
        fail(c, PC_STAGE_MOUNT, err, 125);
    }
}

/* PC_OP_DEVICE: the node is made on the container's own /dev (a tmpfs of its mount
 * namespace: nothing is left on the host), with the spec's owner and mode. A node that is
 * already there (a default device, bound from the host) is accepted only if it is that very
 * device, and is left as it is: chmod/chown of a bound host node would change the host's. */
static void bind_host_node(struct child *c, const struct pc_op *op, int strict) {
    struct stat st;
    int src = open(op->target, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0 || fstat(src, &st) < 0 || (st.st_mode & S_IFMT) != (op->mode & S_IFMT) ||
        (!S_ISFIFO(st.st_mode) && st.st_rdev != (dev_t)op->dev)) {
        int err = src < 0 ? errno : ENODEV;
        say(c, "in a user namespace a device node cannot be made; the host has no such node at",
            op->target);
        fail(c, PC_STAGE_MOUNT, err, 125);
    }
    int fd = ensure_beneath(c->rootfd, op->target, 1, strict);
    char path[32];
    int rc = -1, err = -fd;
    if (fd >= 0) {
        proc_fd_path(path, src);
        rc = mount_on_fd(path, fd, NULL, MS_BIND, NULL);
        err = errno;
        close(fd);
    }
    close(src);
    if (rc < 0) {
        say(c, "bind the host's device node on", op->target);
        fail(c, PC_STAGE_MOUNT, err, 125);
    }
}

static void make_device(struct child *c, const struct pc_op *op, int strict) {
    const char *base;
    if (op->options & PC_OPT_HOSTNODE) {
        bind_host_node(c, op, strict);
        return;
    }
    int dir = parent_beneath(c->rootfd, op->target, &base, strict);
    if (dir < 0) {
        say(c, "parent directory of device", op->target);
        fail(c, PC_STAGE_MOUNT, -dir, 125);
    }
    int err = 0;
    const char *what = "mknod";
    if (mknodat(dir, base, op->mode, (dev_t)op->dev) < 0) {
        struct stat st;
        err = errno;
        if (err == EEXIST && fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (st.st_mode & S_IFMT) == (op->mode & S_IFMT) &&
            (S_ISFIFO(st.st_mode) || st.st_rdev == (dev_t)op->dev)) {
            close(dir);
            return;
        }
        if (err == EEXIST)
            what = "a different file exists at device path";
    } else if (fchownat(dir, base, (uid_t)op->flags, (gid_t)op->propagation, AT_SYMLINK_NOFOLLOW) < 0) {
        err = errno;
        what = "chown device";
    } else if (fchmodat(dir, base, op->mode & 07777, 0) < 0) {
        err = errno; /* mknod applied the umask: set the mode asked for */
        what = "chmod device";
    } else if (S_ISCHR(op->mode) || S_ISBLK(op->mode)) {
        int node = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        char src[32];
        if (node < 0) {
            err = errno;
            what = "open device";
        } else {
            proc_fd_path(src, node);
            if (mount_on_fd(src, node, NULL, MS_BIND, NULL) < 0) {
                err = errno;
                what = "bind device on itself";
            }
            close(node);
        }
        if (!err) {
            /* reopen: the bind's top; only this node's mount loses nodev */
            node = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
            if (node < 0 || mount_on_fd(NULL, node, NULL, MS_BIND | MS_REMOUNT | (locked_flags(node) & ~MS_NODEV), NULL) < 0) {
                err = errno;
                what = "allow the device on its mount (remount without nodev)";
            }
            if (node >= 0)
                close(node);
        }
    }
    close(dir);
    if (err) {
        say(c, what, op->target);
        fail(c, PC_STAGE_MOUNT, err, 125);
    }
}

static void do_op(struct child *c, const struct pc_op *op) {
    int strict = (op->options & PC_OPT_STRICT) != 0;
    int is_file = (op->options & PC_OPT_FILE) != 0;
    int fd, rc;
    const char *base;
    switch (op->kind) {
    case PC_OP_MOUNT:
    case PC_OP_BIND:
    case PC_OP_BIND_DEV: {
        int srcfd = -1;
        int tree = (op->options & PC_OPT_TREE) && op->kind == PC_OP_BIND;
        if (tree) {
            if (op->mode >= (unsigned int)c->plan->n_mount_trees) {
                say(c, "no detached mount for", op->target);
                fail(c, PC_STAGE_MOUNT, EINVAL, 125);
            }
            srcfd = dup(c->trees[op->mode]);
            if (srcfd < 0) {
                say(c, "bind source", op->source);
                fail(c, PC_STAGE_MOUNT, errno, 125);
            }
            struct stat st;
            if (fstat(srcfd, &st) == 0 && !S_ISDIR(st.st_mode))
                is_file = 1;
        } else if (op->kind != PC_OP_MOUNT) {
            srcfd = open(op->source, O_PATH | O_CLOEXEC);
            if (srcfd < 0) {
                if (errno == ENOENT && (op->options & PC_OPT_OPTIONAL))
                    return;
                say(c, "bind source", op->source);
                fail(c, PC_STAGE_MOUNT, errno, 125);
            }
            struct stat st;
            if (fstat(srcfd, &st) == 0 && !S_ISDIR(st.st_mode))
                is_file = 1;
        }
        fd = ensure_beneath(c->rootfd, op->target, is_file, strict);
        if (fd < 0) {
            say(c, "mount target", op->target);
            msg_str(&c->msg, " (must stay inside the rootfs, no symlink or .. out of it)");
            fail(c, PC_STAGE_MOUNT, -fd, 125);
        }
        if (op->kind == PC_OP_MOUNT) {
            rc = mount_on_fd(op->source ? op->source : op->fstype, fd, op->fstype, op->flags,
                             op->data);
        } else if (tree) {
            rc = (int)syscall(SYS_move_mount, srcfd, "", fd, "",
                              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
        } else {
            char src[32];
            proc_fd_path(src, srcfd);
            unsigned long bflags = MS_BIND | ((op->options & PC_OPT_RECURSIVE) ? MS_REC : 0);
            rc = mount_on_fd(src, fd, NULL, bflags, NULL);
        }
        int err = errno;
        close(fd);
        if (srcfd >= 0)
            close(srcfd);
        if (rc < 0) {
            say(c, op->kind == PC_OP_MOUNT ? "mount" : "bind mount", op->source ? op->source : op->fstype);
            msg_str(&c->msg, " on ");
            msg_str(&c->msg, op->target);
            fail(c, PC_STAGE_MOUNT, err, 125);
        }
        unsigned long remount = op->kind == PC_OP_MOUNT ? 0 : (op->flags & ~(MS_BIND | MS_REC));
        int rro = (op->options & PC_OPT_RRO) != 0;
        if (remount || op->propagation || rro) {
            /* reopen: the fd above still points at the covered directory */
            fd = open_beneath(c->rootfd, op->target, O_PATH, strict);
            if (fd < 0) {
                say(c, "reopen mount target", op->target);
                fail(c, PC_STAGE_MOUNT, -fd, 125);
            }
            if (remount) {
                struct statfs sfs;
                unsigned long locked = 0;
                if (fstatfs(fd, &sfs) == 0)
                    locked = (unsigned long)sfs.f_flags &
                             (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
                if (mount_on_fd(NULL, fd, NULL, MS_BIND | MS_REMOUNT | remount | locked, NULL) < 0) {
                    err = errno;
                    close(fd);
                    say(c, "remount", op->target);
                    fail(c, PC_STAGE_MOUNT, err, 125);
                }
            }
            if (rro) {
                struct pc_mount_attr attr = {MOUNT_ATTR_RDONLY, 0, 0, 0};
                if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                            sizeof(attr)) < 0) {
                    err = errno;
                    close(fd);
                    say(c, "make read-only recursively (rro)", op->target);
                    fail(c, PC_STAGE_MOUNT, err, 125);
                }
            }
            if (op->propagation && mount_on_fd(NULL, fd, NULL, op->propagation, NULL) < 0) {
                err = errno;
                close(fd);
                say(c, "set propagation of", op->target);
                fail(c, PC_STAGE_MOUNT, err, 125);
            }
            close(fd);
        }
        return;
    }
    case PC_OP_MKDIR:
        fd = ensure_beneath(c->rootfd, op->target, 0, strict);
        if (fd < 0) {
            say(c, "mkdir", op->target);
            fail(c, PC_STAGE_MOUNT, -fd, 125);
        }
        close(fd);
        return;
    case PC_OP_MKNOD:
    case PC_OP_SYMLINK:
    case PC_OP_WRITE:
        fd = parent_beneath(c->rootfd, op->target, &base, strict);
        if (fd < 0) {
            say(c, "parent directory of", op->target);
            fail(c, PC_STAGE_MOUNT, -fd, 125);
        }
        if (op->kind == PC_OP_MKNOD) {
            rc = mknodat(fd, base, op->mode, (dev_t)op->dev);
        } else if (op->kind == PC_OP_SYMLINK) {
            rc = symlinkat(op->source, fd, base);
        } else {
            int wfd = openat(fd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, op->mode);
            rc = wfd;
            if (wfd >= 0) {
                size_t off = 0;
                while (off < op->data_len) {
                    ssize_t w = write(wfd, op->data + off, op->data_len - off);
                    if (w < 0) {
                        if (errno == EINTR)
                            continue;
                        rc = -1;
                        break;
                    }
                    off += (size_t)w;
                }
                int err = errno;
                close(wfd);
                errno = err;
            }
        }
        int err = errno;
        close(fd);
        if (rc < 0 && !(err == EEXIST && op->kind == PC_OP_SYMLINK)) {
            say(c, op->kind == PC_OP_MKNOD ? "mknod" : op->kind == PC_OP_SYMLINK ? "symlink" : "write",
                op->target);
            fail(c, PC_STAGE_MOUNT, err, 125);
        }
        return;
    case PC_OP_MASK:
    case PC_OP_READONLY:
        mask_or_readonly(c, op);
        return;
    case PC_OP_DEVICE:
        make_device(c, op, strict);
        return;
    default:
        say(c, "unknown operation on", op->target);
        fail(c, PC_STAGE_MOUNT, EINVAL, 125);
    }
}

void run_ops(struct child *c) {
    const struct pc_plan *p = c->plan;
    for (int i = 0; i < p->n_ops; i++)
        do_op(c, &p->ops[i]);
    if (c->maskdir >= 0) {
        close(c->maskdir);
        c->maskdir = -1;
    }
}

/* The rootfs propagation: private or slave is applied to the old / before anything (a slave
 * receives the host's later mounts); shared or unbindable only to the new / after pivot_root
 * (the old / is made private first), so that a shared root is a peer group of the container's
 * own mount namespace and nothing mounted in the container reaches the host. */
void setup_rootfs(struct child *c) {
    const struct pc_plan *p = c->plan;
    unsigned long prop = p->rootfs_propagation ? p->rootfs_propagation : (MS_REC | MS_PRIVATE);
    unsigned long after = prop & (MS_SHARED | MS_UNBINDABLE) ? prop : 0;
    if (mount(NULL, "/", NULL, after ? (MS_REC | MS_PRIVATE) : prop, NULL) < 0) {
        say(c, "make / private", NULL);
        fail(c, PC_STAGE_PROPAGATION, errno, 125);
    }
    int rc;
    if (p->rootfs_fstype) {
        rc = mount(p->rootfs_source ? p->rootfs_source : p->rootfs_fstype, p->rootfs, p->rootfs_fstype,
                   p->rootfs_flags, p->rootfs_data);
    } else {
        if (c->tree_fd >= 0) {
            /* the parent made an idmapped copy of the rootfs mount: attach it here */
            rc = (int)syscall(SYS_move_mount, c->tree_fd, "", AT_FDCWD, p->rootfs, MOVE_MOUNT_F_EMPTY_PATH);
            close(c->tree_fd);
            c->tree_fd = -1;
        } else {
            rc = mount(p->rootfs, p->rootfs, NULL, MS_BIND | MS_REC, NULL);
        }
        if (rc == 0 && p->rootfs_flags) {
            /* e.g. nodev: a device node made inside the rootfs cannot be opened */
            struct statfs sfs;
            unsigned long keep = 0;
            if (statfs(p->rootfs, &sfs) == 0)
                keep = (unsigned long)sfs.f_flags &
                       (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
            rc = mount(NULL, p->rootfs, NULL, MS_BIND | MS_REMOUNT | p->rootfs_flags | keep, NULL);
        }
    }
    if (rc < 0) {
        say(c, "mount rootfs", p->rootfs);
        fail(c, PC_STAGE_ROOTFS, errno, 125);
    }
    c->rootfd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->rootfd < 0) {
        say(c, "open rootfs", p->rootfs);
        fail(c, PC_STAGE_ROOTFS, errno, 125);
    }
    run_ops(c);
    if (fchdir(c->rootfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
        say(c, "pivot_root to", p->rootfs);
        fail(c, PC_STAGE_PIVOT, errno, 125);
    }
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        say(c, "detach the old root", NULL);
        fail(c, PC_STAGE_PIVOT, errno, 125);
    }
    close(c->rootfd);
    c->rootfd = -1;
    if (after && mount(NULL, "/", NULL, after, NULL) < 0) {
        say(c, "set the propagation of the new /", NULL);
        fail(c, PC_STAGE_PROPAGATION, errno, 125);
    }
    if (p->readonly_rootfs) {
        struct statfs sfs;
        unsigned long locked = 0;
        if (statfs("/", &sfs) == 0)
            locked = (unsigned long)sfs.f_flags &
                     (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked, NULL) < 0) {
            say(c, "remount / read-only", NULL);
            fail(c, PC_STAGE_READONLY, errno, 125);
        }
    }
}
