/* Reading the sealed health-check entry and spawning a check from it (monitor_entry.h).
 *
 * File: "pycontainers-health-entry 1\n" "sha256 HEX\n" then records "KEY LEN\n" LEN bytes
 * "\n", where HEX is the SHA-256 of everything after its line. Every key is known, each
 * single one present exactly once; an unknown key, version or a bad value refuses. */
#include "monitor_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ENTRY_MAX (4 << 20)

enum {
    K_REFUSE, K_PID, K_SPEC, K_NS, K_CGROUP, K_ARGV, K_ENV, K_CWD, K_UMASK, K_UID, K_GID,
    K_GROUP, K_SETGROUPS, K_CAPS, K_CAP_LAST, K_SECCOMP, K_SECCOMP_FLAGS, K_NNP, K_RLIMIT,
    K_NEW_SESSION, K_COUNT
};
static const char *const KEYS[K_COUNT] = {
    "refuse", "pid", "spec_sha256", "ns", "cgroup", "argv", "env", "cwd", "umask", "uid", "gid",
    "group", "setgroups", "caps", "cap_last", "seccomp", "seccomp_flags", "no_new_privs",
    "rlimit", "new_session",
};
/* keys that may repeat (lists); every other one must appear once (refuse: alone) */
static const int LIST = 1 << K_NS | 1 << K_CGROUP | 1 << K_ARGV | 1 << K_ENV | 1 << K_GROUP |
                        1 << K_RLIMIT;

static int refuse(char *why, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int read_file(const char *path, char **out, size_t *len, size_t max) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)max) {
        int err = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        close(fd);
        return -err;
    }
    char *p = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (p && got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!p || got != (size_t)st.st_size) {
        free(p);
        return p ? -EIO : -ENOMEM;
    }
    p[got] = '\0';
    *out = p;
    *len = got;
    return 0;
}

/* unsigned decimal, no sign or spaces, at most max */
static int num(const char *s, unsigned long long max, unsigned long long *out) {
    unsigned long long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (unsigned long long)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *out = v;
    return 0;
}

/* split s in place at single spaces into exactly n words */
static int words(char *s, char **w, int n) {
    for (int i = 0; i < n; i++) {
        w[i] = s;
        char *sp = strchr(s, ' ');
        if (i == n - 1)
            return sp ? -1 : 0;
        if (!sp)
            return -1;
        *sp = '\0';
        s = sp + 1;
    }
    return 0;
}

struct rec {
    int key;
    char *val;
    size_t len;
};

/* the next record at *pos; 1, 0 at the end, -1. Reading does not change the buffer, so a
 * first pass can count; with terminate, the value's trailing newline becomes a NUL. */
static int next_rec(char **pos, char *end, struct rec *r, int terminate, char *why, size_t n) {
    char *p = *pos;
    if (p == end)
        return 0;
    char *sp = memchr(p, ' ', (size_t)(end - p));
    char *nl = sp ? memchr(sp, '\n', (size_t)(end - sp)) : NULL;
    if (!sp || !nl || sp - p > 32 || nl - sp > 21)
        return refuse(why, n, "malformed record");
    r->key = -1;
    for (int k = 0; k < K_COUNT; k++)
        if ((size_t)(sp - p) == strlen(KEYS[k]) && memcmp(p, KEYS[k], (size_t)(sp - p)) == 0)
            r->key = k;
    if (r->key < 0)
        return refuse(why, n, "unknown field \"%.*s\"", (int)(sp - p), p);
    char digits[24];
    memcpy(digits, sp + 1, (size_t)(nl - sp - 1));
    digits[nl - sp - 1] = '\0';
    unsigned long long len;
    if (num(digits, ENTRY_MAX, &len) < 0 || len >= (unsigned long long)(end - nl) - 1 ||
        nl[1 + len] != '\n')
        return refuse(why, n, "bad length of field %s", KEYS[r->key]);
    r->val = nl + 1;
    r->len = (size_t)len;
    if (terminate)
        r->val[len] = '\0';
    *pos = nl + 2 + len;
    return 1;
}

static const char *ns_path_kind(const char *kind) {
    static const char *const known[] = {"user", "cgroup", "ipc", "uts", "net", "time", "mnt", "pid"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(kind, known[i]) == 0)
            return known[i];
    return NULL;
}

/* one record into e (second pass; the arrays are sized by the first) */
static int take(struct health_entry *e, struct rec *r, int *counts, char *why, size_t n) {
    struct pc_plan *p = &e->plan;
    unsigned long long v;
    char *w[5];
    const char *key = KEYS[r->key];
    int is_string = r->key == K_REFUSE || r->key == K_CGROUP || r->key == K_ARGV ||
                    r->key == K_ENV || r->key == K_CWD;
    if (is_string && strlen(r->val) != r->len)
        return refuse(why, n, "field %s holds a NUL byte", key);
    switch (r->key) {
    case K_REFUSE: e->refusal = r->val; return 0;
    case K_PID:
        if (num(r->val, 4194304, &v) < 0 || v == 0)
            break;
        e->pid = (long long)v;
        return 0;
    case K_SPEC:
        if (r->len != 64 || strspn(r->val, "0123456789abcdef") != 64)
            break;
        memcpy(e->spec_sha256, r->val, 65);
        return 0;
    case K_NS: {
        struct entry_ns *ns = &e->ns[e->n_ns];
        unsigned long long t, j, d, i;
        if (words(r->val, w, 5) < 0 || !(ns->kind = ns_path_kind(w[0])) ||
            num(w[1], 0x7fffffff, &t) < 0 || num(w[2], 1, &j) < 0 || num(w[3], ~0ULL, &d) < 0 ||
            num(w[4], ~0ULL, &i) < 0)
            break;
        ns->nstype = (int)t, ns->join = (int)j, ns->dev = d, ns->ino = i;
        e->n_ns++;
        return 0;
    }
    case K_CGROUP:
        if (r->val[0] != '/')
            break;
        e->cgroups[e->n_cgroups++] = r->val;
        return 0;
    case K_ARGV: p->argv[counts[K_ARGV]++] = r->val; return 0;
    case K_ENV: p->envp[counts[K_ENV]++] = r->val; return 0;
    case K_CWD:
        if (r->val[0] != '/')
            break;
        p->cwd = r->val;
        return 0;
    case K_UMASK:
        if (num(r->val, 0777, &v) < 0)
            break;
        p->umask = (int)v;
        return 0;
    case K_UID:
    case K_GID:
    case K_GROUP:
        if (num(r->val, 0xffffffffULL, &v) < 0)
            break;
        if (r->key == K_UID)
            p->uid = (unsigned int)v;
        else if (r->key == K_GID)
            p->gid = (unsigned int)v;
        else
            p->groups[counts[K_GROUP]++] = (unsigned int)v;
        return 0;
    case K_SETGROUPS:
        if (num(r->val, 1, &v) < 0)
            break;
        p->n_groups = v ? 0 : -1; /* the count is filled in at the end */
        return 0;
    case K_CAPS:
        if (words(r->val, w, 5) < 0 || num(w[0], ~0ULL, &p->cap_bounding) < 0 ||
            num(w[1], ~0ULL, &p->cap_effective) < 0 || num(w[2], ~0ULL, &p->cap_permitted) < 0 ||
            num(w[3], ~0ULL, &p->cap_inheritable) < 0 || num(w[4], ~0ULL, &p->cap_ambient) < 0)
            break;
        p->set_caps = 1;
        return 0;
    case K_CAP_LAST:
        if (num(r->val, 63, &v) < 0)
            break;
        p->cap_last = (int)v;
        return 0;
    case K_SECCOMP:
        if (r->len % 8 != 0 || r->len / 8 > 0xffff)
            break;
        if (r->len) { /* a copy of its own: the value need not be aligned for sock_filter */
            unsigned char *bpf = malloc(r->len);
            if (!bpf)
                return refuse(why, n, "out of memory");
            memcpy(bpf, r->val, r->len);
            p->seccomp_bpf = bpf;
            p->seccomp_len = r->len;
        }
        return 0;
    case K_SECCOMP_FLAGS:
        if (num(r->val, 0xffffffffULL, &v) < 0)
            break;
        p->seccomp_flags = (unsigned int)v;
        return 0;
    case K_NNP:
        if (num(r->val, 1, &v) < 0)
            break;
        p->no_new_privs = (int)v;
        return 0;
    case K_RLIMIT: {
        struct pc_rlimit *rl = &p->rlimits[p->n_rlimits];
        if (words(r->val, w, 3) < 0 || num(w[0], 63, &v) < 0 || num(w[1], ~0ULL, &rl->soft) < 0 ||
            num(w[2], ~0ULL, &rl->hard) < 0)
            break;
        rl->resource = (int)v;
        p->n_rlimits++;
        return 0;
    }
    case K_NEW_SESSION:
        if (num(r->val, 2, &v) < 0)
            break;
        p->new_session = (int)v;
        return 0;
    }
    return refuse(why, n, "bad value of field %s", key);
}

void entry_free(struct health_entry *e) {
    if (!e)
        return;
    free((void *)e->plan.seccomp_bpf);
    free(e->plan.argv);
    free(e->plan.envp);
    free(e->plan.groups);
    free(e->plan.rlimits);
    free(e->ns);
    free(e->cgroups);
    free(e->data);
    free(e);
}

static int parse(struct health_entry *e, char *body, char *end, char *why, size_t n) {
    int counts[K_COUNT] = {0};
    struct rec r;
    int got;
    for (char *pos = body; (got = next_rec(&pos, end, &r, 0, why, n)) == 1;)
        counts[r.key]++;
    if (got < 0)
        return -1;
    for (int k = 0; k < K_COUNT; k++) {
        if (counts[k] > 1 && !(LIST & 1 << k))
            return refuse(why, n, "field %s given %d times", KEYS[k], counts[k]);
        if (counts[K_REFUSE] && k != K_REFUSE && counts[k])
            return refuse(why, n, "a refusal with field %s", KEYS[k]);
        if (!counts[K_REFUSE] && !counts[k] && !(LIST & 1 << k) && k != K_REFUSE)
            return refuse(why, n, "no field %s", KEYS[k]);
    }
    if (!counts[K_REFUSE] && !counts[K_ARGV])
        return refuse(why, n, "no command (field argv)");
    struct pc_plan *p = &e->plan;
    p->argv = calloc((size_t)counts[K_ARGV] + 1, sizeof(char *));
    p->envp = calloc((size_t)counts[K_ENV] + 1, sizeof(char *));
    p->groups = calloc((size_t)counts[K_GROUP] + 1, sizeof(unsigned int));
    p->rlimits = calloc((size_t)counts[K_RLIMIT] + 1, sizeof(struct pc_rlimit));
    e->ns = calloc((size_t)counts[K_NS] + 1, sizeof(struct entry_ns));
    e->cgroups = calloc((size_t)counts[K_CGROUP] + 1, sizeof(char *));
    if (!p->argv || !p->envp || !p->groups || !p->rlimits || !e->ns || !e->cgroups)
        return refuse(why, n, "out of memory");
    if (counts[K_NS] > PC_MAX_JOINS || counts[K_CGROUP] > PC_MAX_CGROUPS)
        return refuse(why, n, "too many namespaces or cgroups");
    int filled[K_COUNT] = {0};
    for (char *pos = body; next_rec(&pos, end, &r, 1, why, n) == 1;)
        if (take(e, &r, filled, why, n) < 0)
            return -1;
    if (p->n_groups == 0)
        p->n_groups = counts[K_GROUP];
    return 0;
}

struct health_entry *entry_load(const char *path, char *why, size_t n) {
    char *data;
    size_t len;
    int r = read_file(path, &data, &len, ENTRY_MAX);
    if (r < 0) {
        if (r == -ENOENT)
            refuse(why, n, "no sealed health-check entry %s", path);
        else
            refuse(why, n, "cannot read the health-check entry %s: %s", path, strerror(-r));
        return NULL;
    }
    struct health_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        free(data);
        refuse(why, n, "out of memory");
        return NULL;
    }
    e->data = data;
    e->plan.start_fifo_fd = -1;
    e->plan.rootfs_tree_fd = -1;
    e->plan.console_sock = -1;
    char *end = data + len;
    char *nl1 = memchr(data, '\n', len);
    size_t mlen = strlen(HEALTH_ENTRY_MAGIC);
    if (!nl1 || (size_t)(nl1 - data) <= mlen || memcmp(data, HEALTH_ENTRY_MAGIC " ", mlen + 1) != 0) {
        refuse(why, n, "%s is not a health-check entry", path);
        goto bad;
    }
    *nl1 = '\0';
    if (strcmp(data + mlen + 1, "1") != 0) {
        refuse(why, n, "%s has unknown version %.16s (this monitor reads version %d)", path,
               data + mlen + 1, HEALTH_ENTRY_VERSION);
        goto bad;
    }
    char *line2 = nl1 + 1;
    char *body = line2 + 7 + 64 + 1;
    if (body > end || memcmp(line2, "sha256 ", 7) != 0 || body[-1] != '\n') {
        refuse(why, n, "%s has no digest line", path);
        goto bad;
    }
    char have[65];
    sha256_hex(body, (size_t)(end - body), have);
    if (memcmp(have, line2 + 7, 64) != 0) {
        refuse(why, n, "%s does not match its digest (corrupt or edited)", path);
        goto bad;
    }
    char detail[256];
    if (parse(e, body, end, detail, sizeof(detail)) < 0) {
        refuse(why, n, "%s: %s", path, detail);
        goto bad;
    }
    return e;
bad:
    entry_free(e);
    return NULL;
}

/* whether the cgroup directory of a cgroup.procs file is frozen (v2 cgroup.freeze, v1
 * freezer.state) */
static int frozen(const char *procs) {
    const char *slash = strrchr(procs, '/');
    char path[4096];
    char buf[16] = {0};
    static const char *const files[] = {"cgroup.freeze", "freezer.state"};
    for (int i = 0; i < 2; i++) {
        if (snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - procs), procs, files[i]) >=
            (int)sizeof(path))
            return 0;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (r > 0 && (buf[0] == '1' || strncmp(buf, "FROZEN", 6) == 0 || strncmp(buf, "FREEZING", 8) == 0))
            return 1;
    }
    return 0;
}

int entry_spawn(struct health_entry *e, pid_t container, const char *state_dir, int out_fd,
                struct pc_spawn_result *res, char *why, size_t n) {
    char path[4096];
    if (e->refusal)
        return refuse(why, n, "%s", e->refusal); /* sealed by Python: why it has no entry */
    if (e->pid != (long long)container)
        return refuse(why, n, "the entry is for process %lld, the container's process is %d "
                              "(a stale entry)", e->pid, (int)container);
    /* bound to the stored spec it came from: a changed or missing config.json refuses */
    char *spec;
    size_t len;
    snprintf(path, sizeof(path), "%s/config.json", state_dir);
    int r = read_file(path, &spec, &len, 64 << 20);
    if (r < 0)
        return refuse(why, n, "cannot read the container's spec %s: %s", path, strerror(-r));
    char have[65];
    sha256_hex(spec, len, have);
    free(spec);
    if (strcmp(have, e->spec_sha256) != 0)
        return refuse(why, n, "the container's spec %s changed since the entry was sealed", path);
    struct stat st;
    snprintf(path, sizeof(path), "%s/start.fifo", state_dir);
    if (stat(path, &st) == 0)
        return refuse(why, n, "the container is created, not started");
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)container, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0)
        return refuse(why, n, "the container's process %d has exited", (int)container);

    struct pc_join joins[PC_MAX_JOINS];
    int cgfds[PC_MAX_CGROUPS];
    int nj = 0, nc = 0, rc = -1;
    for (int i = 0; i < e->n_ns; i++) {
        struct entry_ns *ns = &e->ns[i];
        struct stat own;
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)container, ns->kind);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            refuse(why, n, "cannot open %s: %s", path, strerror(errno));
            goto out;
        }
        if (fstat(fd, &st) < 0 || st.st_dev != ns->dev || st.st_ino != ns->ino) {
            close(fd);
            refuse(why, n, "the container's %s namespace is not the one the entry names", ns->kind);
            goto out;
        }
        snprintf(path, sizeof(path), "/proc/self/ns/%s", ns->kind);
        int same = stat(path, &own) == 0 && own.st_dev == st.st_dev && own.st_ino == st.st_ino;
        if (same == ns->join) {
            close(fd);
            refuse(why, n, "the container's %s namespace is %sthe monitor's", ns->kind,
                   same ? "" : "not ");
            goto out;
        }
        if (!ns->join) {
            close(fd);
            continue;
        }
        joins[nj].fd = fd;
        joins[nj++].nstype = ns->nstype;
    }
    for (int i = 0; i < e->n_cgroups; i++) {
        if (frozen(e->cgroups[i])) {
            refuse(why, n, "the container is paused");
            goto out;
        }
        int fd = open(e->cgroups[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            refuse(why, n, "cannot join the container's cgroup (%s): %s", e->cgroups[i],
                   strerror(errno));
            goto out;
        }
        cgfds[nc++] = fd;
    }
    struct pc_fdmap fds[3] = {{-1, 0}, {out_fd, 1}, {out_fd, 2}};
    struct pc_plan *p = &e->plan;
    p->joins = joins;
    p->n_joins = nj;
    p->cgroup_fds = cgfds;
    p->n_cgroup_fds = nc;
    p->fds = fds;
    p->n_fds = 3;
    p->set_ids = 1;
    p->no_sync = 1;
    p->pdeathsig = SIGKILL;
    r = pc_spawn(p, res);
    p->joins = NULL, p->cgroup_fds = NULL, p->fds = NULL;
    if (r < 0) {
        refuse(why, n, "cannot clone the health check: %s", strerror(-r));
        goto out;
    }
    rc = 0;
out:
    for (int i = 0; i < nj; i++)
        close(joins[i].fd);
    for (int i = 0; i < nc; i++)
        close(cgfds[i]);
    return rc;
}
