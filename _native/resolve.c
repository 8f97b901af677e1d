/* Path resolution inside a rootfs that never leaves it, and small async-signal-safe
 * helpers. Used by the child between clone() and execve(). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sysconsts.h"

void msg_reset(struct pc_msg *m) {
    m->len = 0;
    m->buf[0] = '\0';
}

void msg_str(struct pc_msg *m, const char *s) {
    if (s == NULL)
        s = "(null)";
    while (*s && m->len + 1 < sizeof(m->buf))
        m->buf[m->len++] = *s++;
    m->buf[m->len] = '\0';
}

void msg_int(struct pc_msg *m, long long v) {
    char tmp[24];
    int i = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-v) : (unsigned long long)v;
    do {
        tmp[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && i < 22);
    if (v < 0)
        tmp[i++] = '-';
    while (i > 0 && m->len + 1 < sizeof(m->buf))
        m->buf[m->len++] = tmp[--i];
    m->buf[m->len] = '\0';
}

void proc_fd_path(char *buf, int fd) {
    struct pc_msg m;
    msg_reset(&m);
    msg_str(&m, "/proc/self/fd/");
    msg_int(&m, fd);
    memcpy(buf, m.buf, m.len + 1);
}

static int openat2_state = 0; /* 0 unknown, 1 works, -1 missing (ENOSYS) */

/* Fallback without openat2: walk component by component refusing every symlink and "..".
 * Stricter than openat2's RESOLVE_BENEATH, never less safe. */
static int walk_nofollow(int rootfd, const char *rel, int flags) {
    char comp[256];
    int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return -errno;
    const char *p = rel;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (p[n] && p[n] != '/')
            n++;
        if (n >= sizeof(comp)) {
            close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        while (*p == '/')
            p++;
        if (strcmp(comp, "..") == 0) {
            close(cur);
            return -EXDEV;
        }
        int last = (*p == '\0');
        int next = openat(cur, comp, (last ? flags : O_PATH) | O_NOFOLLOW | O_CLOEXEC);
        int err = errno;
        close(cur);
        if (next < 0)
            return -err;
        struct stat st;
        if (fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(next);
            return -ELOOP;
        }
        cur = next;
    }
    return cur;
}

int open_beneath(int rootfd, const char *path, int flags, int strict) {
    return open_resolved(rootfd, path, flags, strict, 0);
}

int open_resolved(int rootfd, const char *path, int flags, int strict, int in_root) {
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        rel = ".";
    if (openat2_state >= 0) {
        struct open_how how;
        memset(&how, 0, sizeof(how));
        how.flags = (unsigned long long)(flags | O_CLOEXEC);
        how.resolve = (in_root ? RESOLVE_IN_ROOT : RESOLVE_BENEATH) | RESOLVE_NO_MAGICLINKS |
                      (strict ? RESOLVE_NO_SYMLINKS : 0);
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        if (fd >= 0) {
            openat2_state = 1;
            return (int)fd;
        }
        if (errno != ENOSYS)
            return -errno;
        openat2_state = -1;
    }
    return walk_nofollow(rootfd, rel, flags);
}

int parent_beneath(int rootfd, const char *path, const char **base, int strict) {
    char parent[PC_PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/')
        slash--;
    if (len >= sizeof(parent) || slash == len)
        return -EINVAL;
    *base = path + slash;
    memcpy(parent, path, slash);
    parent[slash] = '\0';
    int fd = open_beneath(rootfd, parent, O_PATH | O_DIRECTORY, strict);
    if (fd == -ENOENT) {
        fd = ensure_beneath(rootfd, parent, 0, strict);
        if (fd >= 0) {
            close(fd);
            fd = open_beneath(rootfd, parent, O_PATH | O_DIRECTORY, strict);
        }
    }
    return fd;
}

int ensure_beneath(int rootfd, const char *path, int is_file, int strict) {
    int fd = open_beneath(rootfd, path, O_PATH, strict);
    if (fd != -ENOENT)
        return fd;
    char prefix[PC_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(prefix))
        return -ENAMETOOLONG;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start)
            break;
        int last = 1;
        for (size_t j = i; j < len; j++)
            if (path[j] != '/') {
                last = 0;
                break;
            }
        memcpy(prefix, path, i);
        prefix[i] = '\0';
        int cfd = open_beneath(rootfd, prefix, O_PATH, strict);
        if (cfd >= 0) {
            close(cfd);
            continue;
        }
        if (cfd != -ENOENT)
            return cfd;
        /* create this component inside its (already resolved) parent */
        char name[256];
        size_t n = i - start;
        if (n >= sizeof(name))
            return -ENAMETOOLONG;
        memcpy(name, path + start, n);
        name[n] = '\0';
        prefix[start] = '\0';
        int pfd = open_beneath(rootfd, start ? prefix : "/", O_PATH | O_DIRECTORY, strict);
        if (pfd < 0)
            return pfd;
        int rc;
        if (last && is_file) {
            rc = mknodat(pfd, name, S_IFREG | 0644, 0);
        } else {
            rc = mkdirat(pfd, name, 0755);
        }
        int err = errno;
        close(pfd);
        if (rc < 0 && err != EEXIST)
            return -err;
    }
    return open_beneath(rootfd, path, O_PATH, strict);
}
