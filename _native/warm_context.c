/* pc_warm_context: the warm start's context text (warm_context.h). One function, compiled
 * into both the C client (pycontainers-front) and the cffi module (pycontainers._native), so
 * the client and the server's worker describe themselves with the very same code.
 *
 * In: the real/effective/saved ids, the supplementary groups, /proc/self/status's
 * capability sets, NoNewPrivs, Seccomp, Seccomp_filters, Cpus/Mems_allowed_list, the
 * namespaces, /proc/self/cgroup, every rlimit, the nice value, the scheduler, the I/O
 * priority, the personality, the securebits, the child-subreaper flag, oom_score_adj, the
 * LSM label, and the dev+ino of "/". Not in: cwd, umask, signals, session, fds (the request
 * carries those; the worker takes them over). */
#include "warm_context.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct out {
    char *buf;
    size_t size, len;
    int bad;
};

static void put(struct out *o, const char *fmt, ...) {
    if (o->bad)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->size - o->len)
        o->bad = 1;
    else
        o->len += (size_t)n;
}

/* a small file's text (at most size-1 bytes): its length, or -1 */
static long slurp(const char *path, char *text, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, text + n, size - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == size - 1)
            break;
    }
    close(fd);
    text[n] = 0;
    return n == size - 1 ? -1 : (long)n;
}

static const char *const STATUS_KEYS[] = {
    "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:",
    "Seccomp_filters:", "Cpus_allowed_list:", "Mems_allowed_list:",
};

static const char *const NAMESPACES[] = {
    "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
    "user", "uts",
};

long pc_warm_context(char *buf, size_t size) {
    struct out o = {buf, size, 0, 0};
    if (size == 0)
        return -1;
    buf[0] = 0;
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
        return -1;
    put(&o, "ids %u %u %u %u %u %u\n", ru, eu, su, rg, eg, sg);
    gid_t groups[256];
    int ng = getgroups(256, groups);
    if (ng < 0)
        return -1;
    put(&o, "groups");
    for (int i = 0; i < ng; i++)
        put(&o, " %u", groups[i]);
    put(&o, "\n");

    static char text[65536];
    if (slurp("/proc/self/status", text, sizeof text) < 0)
        return -1;
    for (size_t k = 0; k < sizeof STATUS_KEYS / sizeof *STATUS_KEYS; k++) {
        size_t kl = strlen(STATUS_KEYS[k]);
        const char *line = text, *found = NULL;
        while (line && *line) {
            if (!strncmp(line, STATUS_KEYS[k], kl)) {
                found = line;
                break;
            }
            line = strchr(line, '\n');
            line = line ? line + 1 : NULL;
        }
        if (!found) {
            put(&o, "%s -\n", STATUS_KEYS[k]);
            continue;
        }
        const char *end = strchr(found, '\n');
        size_t n = end ? (size_t)(end - found) : strlen(found);
        put(&o, "%.*s\n", (int)n, found);
    }

    for (size_t k = 0; k < sizeof NAMESPACES / sizeof *NAMESPACES; k++) {
        char path[64], link[256];
        snprintf(path, sizeof path, "/proc/self/ns/%s", NAMESPACES[k]);
        ssize_t n = readlink(path, link, sizeof link - 1);
        put(&o, "ns %s %.*s\n", NAMESPACES[k], n < 0 ? 1 : (int)n, n < 0 ? "-" : link);
    }

    if (slurp("/proc/self/cgroup", text, sizeof text) < 0)
        return -1;
    put(&o, "cgroup\n%s", text);

    for (int r = 0; r < RLIM_NLIMITS; r++) {
        struct rlimit lim;
        if (getrlimit(r, &lim))
            put(&o, "rlimit %d -\n", r);
        else
            put(&o, "rlimit %d %llu %llu\n", r, (unsigned long long)lim.rlim_cur,
                (unsigned long long)lim.rlim_max);
    }
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, 0);
    put(&o, "nice %d %d\n", nice, errno ? errno : 0);
    put(&o, "sched %d\n", sched_getscheduler(0));
    long ioprio = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
    put(&o, "ioprio %ld\n", ioprio);
    put(&o, "personality %d\n", personality(0xffffffff));
    put(&o, "securebits %d\n", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
    int subreaper = -1;
    if (prctl(PR_GET_CHILD_SUBREAPER, &subreaper, 0, 0, 0))
        subreaper = -1;
    put(&o, "subreaper %d\n", subreaper);
    char small[4096];
    long n = slurp("/proc/self/oom_score_adj", small, sizeof small);
    put(&o, "oom_score_adj %s", n < 0 ? "-\n" : small);
    n = slurp("/proc/self/attr/current", small, sizeof small);
    if (n > 0 && small[n - 1] == '\n')
        small[--n] = 0;
    for (long i = 0; i < n; i++)
        if (small[i] == '\n' || small[i] == 0)
            small[i] = ' ';
    put(&o, "lsm %s\n", n < 0 ? "-" : small);
    struct stat st;
    if (stat("/", &st))
        return -1;
    put(&o, "root %llu %llu\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return o.bad ? -1 : (long)o.len;
}

int pc_warm_bind_to_parent(int parent) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return -errno;
    return getppid() == parent ? 0 : -ESRCH; /* the parent died before the prctl */
}
