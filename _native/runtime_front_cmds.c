/* The C front end's commands: quick.state, quick.start, quick.kill and quick.delete on the
 * state files (pycontainers/ociruntime/quick.py, pycontainers/_statedir.py), each ending in
 * answered() or, for anything the plain case does not cover, python(). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime_front.h"

#define OCI_VERSION "1.2.0" /* quick.py: OCI_VERSION */
#define PYTHON_NSIG 65      /* signal.NSIG on Linux */

/* _proc.proc_stat: state letter and start time of pid; -1 if it is gone */
static int proc_stat(long long pid, char state[4], unsigned long long *starttime) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *close_paren = memrchr(buf, ')', (size_t)n);
    if (!close_paren || close_paren + 2 > buf + n)
        return -1;
    char *save, *field = strtok_r(close_paren + 2, " \n", &save);
    if (!field || strlen(field) >= 4)
        return -1;
    strcpy(state, field);
    for (int i = 1; i < 20; i++)
        if (!(field = strtok_r(NULL, " \n", &save)))
            return -1;
    char *end;
    errno = 0;
    *starttime = strtoull(field, &end, 10);
    return errno || *end ? -1 : 0;
}

static int pidfd_open(long long pid) {
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0); /* always close-on-exec */
}

static int pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ---- quick._load ------------------------------------------------------------------------ */

struct container {
    const char *id;
    char dir[4096];
    json_t *state, *oci;
    long long pid, starttime;
    const char *status; /* as `state` reports it */
};

static int valid_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n > 128)
        return 0;
    char c = id[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
        return 0;
    for (size_t i = 0; i < n; i++) {
        c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int is_live(const char *status) {
    return !strcmp(status, "created") || !strcmp(status, "running") || !strcmp(status, "paused");
}

/* the JSON value as quick.py reads it, or fall back: an integer (not a bool or float) */
static long long integer(json_t *v, const char *what) {
    if (!json_is_integer(v))
        python(what);
    return json_integer_value(v);
}

/* a string field that Python reads with .get(key, "") */
static const char *string_or_empty(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return "";
    if (!json_is_string(v))
        python(key);
    return json_string_value(v);
}

static void load(const char *root, const char *id, struct container *c) {
    c->id = id;
    if (!valid_id(id))
        python("not a plain container id");
    char path[4200];
    if (join(c->dir, sizeof c->dir, root, id) < 0)
        python("path too long");
    join(path, sizeof path, c->dir, "oci.json");
    if (!(c->oci = load_json(path, NULL)))
        python("oci.json");
    join(path, sizeof path, c->dir, "state.json");
    if (!(c->state = load_json(path, NULL)))
        python("state.json");
    if (!json_is_object(c->state) || !json_is_object(c->oci))
        python("not an object");
    c->pid = integer(json_object_get(c->state, "pid"), "pid");
    c->starttime = integer(json_object_get(c->state, "starttime"), "starttime");
    json_t *status = json_object_get(c->state, "status");
    if (!json_is_string(status))
        python("status");
    json_t *monitored = json_object_get(c->state, "monitored");
    if (monitored && !json_is_null(monitored) && !json_is_false(monitored))
        python("monitored");
    json_t *sid = json_object_get(c->state, "id");
    if (!json_is_string(sid) || strcmp(json_string_value(sid), id) != 0)
        python("id");
    c->status = json_string_value(status);
    if (is_live(c->status)) {
        char letter[4];
        unsigned long long started;
        if (c->pid <= 0 || proc_stat(c->pid, letter, &started) < 0 || !strcmp(letter, "Z") ||
            !strcmp(letter, "X") || started != (unsigned long long)c->starttime)
            c->status = "stopped";
    } else if (strcmp(c->status, "creating") != 0) {
        c->status = "stopped";
    }
}

/* quick._hooks, or fall back where Python's truth test is not plainly "none" */
static int has_hooks(json_t *oci, const char *kind) {
    json_t *hooks = json_object_get(oci, "hooks");
    if (!hooks || json_is_null(hooks))
        return 0;
    if (!json_is_object(hooks))
        python("hooks");
    json_t *list = json_object_get(hooks, kind);
    if (!list || json_is_null(list) || (json_is_array(list) && json_array_size(list) == 0))
        return 0;
    return 1;
}

/* ---- the commands ------------------------------------------------------------------------ */

void cmd_state(const char *root, const char *id) {
    struct container c;
    load(root, id, &c);
    const char *bundle = string_or_empty(c.oci, "bundle");
    const char *rootfs = string_or_empty(c.state, "rootfs");
    json_t *created = json_object_get(c.state, "created");
    if (!json_is_number(created))
        python("created");
    double t = json_number_value(created);
    /* datetime.fromtimestamp(t, UTC): microseconds rounded half-even; years 1970..9999 */
    if (!(t >= 0 && t < 253402300800.0))
        python("created out of range");
    double whole, us = modf(t, &whole) * 1e6;
    us = rint(us);
    if (us >= 1e6) {
        us -= 1e6;
        whole += 1;
    }
    time_t secs = (time_t)whole;
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        python("created");
    char stamp[64];
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)us);
    json_t *annotations = json_object_get(c.oci, "annotations");
    int live = is_live(c.status) || !strcmp(c.status, "creating");
    struct text out = {0};
    char num[32];
    puts_(&out, "{\n  \"ociVersion\": \"" OCI_VERSION "\",\n  \"id\": ");
    put_string(&out, id, strlen(id));
    puts_(&out, ",\n  \"status\": ");
    put_string(&out, c.status, strlen(c.status));
    snprintf(num, sizeof num, "%lld", live ? c.pid : 0);
    puts_(&out, ",\n  \"pid\": ");
    puts_(&out, num);
    puts_(&out, ",\n  \"bundle\": ");
    put_string(&out, bundle, strlen(bundle));
    puts_(&out, ",\n  \"rootfs\": ");
    put_string(&out, rootfs, strlen(rootfs));
    puts_(&out, ",\n  \"created\": ");
    put_string(&out, stamp, strlen(stamp));
    puts_(&out, ",\n  \"owner\": \"\",\n  \"annotations\": ");
    if (annotations)
        put_json(&out, annotations, 2, 1);
    else
        puts_(&out, "{}");
    puts_(&out, "\n}\n");
    fwrite(out.buf, 1, out.len, stdout);
    answered("state");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    return (double)ns / 1e9; /* time.time() */
}

static int write_all(int fd, const char *buf, size_t n) {
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

void cmd_start(const char *root, const char *id) {
    struct container c;
    load(root, id, &c);
    if (strcmp(c.status, "created") != 0)
        python("not created");
    if (has_hooks(c.oci, "poststart"))
        python("poststart hooks");
    char fifo[4200], path[4200], lockpath[4200], tmp[4300];
    join(fifo, sizeof fifo, c.dir, "start.fifo");
    join(path, sizeof path, c.dir, "state.json");
    join(lockpath, sizeof lockpath, c.dir, "lock");
    int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        python("start.fifo");
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ignore, &old); /* as Python: a closed reader is EPIPE, not a death */
    ssize_t w = write(fd, "1", 1);
    sigaction(SIGPIPE, &old, NULL);
    close(fd);
    if (w != 1)
        python("writing start.fifo");
    /* released: from here a failure (quick.py raises) hands over to Python, which then finds
     * the container past `created` and words the error through the engine */
    if (unlink(fifo) < 0)
        python("unlinking start.fifo");
    double started = now();
    int lock = open(lockpath, O_RDWR | O_CLOEXEC);
    if (lock < 0)
        python("lock");
    while (flock(lock, LOCK_EX) < 0)
        if (errno != EINTR)
            python("flock");
    int missing;
    json_t *doc = load_json(path, &missing);
    if (!doc && missing) /* removed meanwhile: it stays removed */
        answered("start");
    if (!doc || !json_is_object(doc))
        python("state.json under the lock");
    long long pid = integer(json_object_get(doc, "pid"), "pid");
    char letter[4];
    unsigned long long st = 0, mine = 0;
    if (proc_stat(pid, letter, &st) < 0)
        st = 0;
    if (proc_stat(getpid(), letter, &mine) < 0)
        mine = 0;
    json_object_set_new(doc, "status", json_string("running"));
    json_object_set_new(doc, "started", json_real(started));
    json_object_set_new(doc, "creator", json_integer(getpid()));
    json_object_set_new(doc, "creator_start", json_integer((json_int_t)mine));
    json_object_set_new(doc, "starttime", json_integer((json_int_t)st));
    struct text out = {0};
    put_json(&out, doc, 0, 0);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fdout = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fdout < 0)
        python("state.json.tmp");
    int bad = write_all(fdout, out.buf, out.len);
    close(fdout);
    if (bad || rename(tmp, path) < 0)
        python("writing state.json");
    close(lock);
    answered("start");
}

/* quick.signal_number: a number 1..NSIG-1, or a (SIG-)name of signal.Signals */
static int signal_number(const char *name) {
    static const struct {
        const char *name;
        int number;
    } names[] = {
        {"SIGHUP", 1},     {"SIGINT", 2},     {"SIGQUIT", 3},    {"SIGILL", 4},
        {"SIGTRAP", 5},    {"SIGABRT", 6},    {"SIGIOT", 6},     {"SIGBUS", 7},
        {"SIGFPE", 8},     {"SIGKILL", 9},    {"SIGUSR1", 10},   {"SIGSEGV", 11},
        {"SIGUSR2", 12},   {"SIGPIPE", 13},   {"SIGALRM", 14},   {"SIGTERM", 15},
        {"SIGSTKFLT", 16}, {"SIGCHLD", 17},   {"SIGCLD", 17},    {"SIGCONT", 18},
        {"SIGSTOP", 19},   {"SIGTSTP", 20},   {"SIGTTIN", 21},   {"SIGTTOU", 22},
        {"SIGURG", 23},    {"SIGXCPU", 24},   {"SIGXFSZ", 25},   {"SIGVTALRM", 26},
        {"SIGPROF", 27},   {"SIGWINCH", 28},  {"SIGIO", 29},     {"SIGPOLL", 29},
        {"SIGPWR", 30},    {"SIGSYS", 31},    {"SIGRTMIN", 34},  {"SIGRTMAX", 64},
    };
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] >= 0x80)
            return -1; /* str.isdigit / str.upper know more than ASCII: Python decides */
    if (n && strspn(name, "0123456789") == n) {
        long long number = 0;
        for (size_t i = 0; i < n; i++) {
            number = number * 10 + (name[i] - '0');
            if (number >= PYTHON_NSIG)
                return 0;
        }
        return number > 0 ? (int)number : 0;
    }
    char upper[32] = "SIG";
    if (n > 20)
        return 0;
    int has_sig = n >= 3 && (name[0] | 32) == 's' && (name[1] | 32) == 'i' && (name[2] | 32) == 'g';
    char *o = upper + (has_sig ? 0 : 3);
    for (size_t i = 0; i <= n; i++)
        o[i] = (name[i] >= 'a' && name[i] <= 'z') ? (char)(name[i] - 32) : name[i];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(upper, names[i].name))
            return names[i].number;
    return 0;
}

void cmd_kill(const char *root, const char *id, const char *sig_name) {
    int sig = signal_number(sig_name);
    if (sig <= 0)
        python("not a plain signal");
    struct container c;
    load(root, id, &c);
    if (!is_live(c.status))
        python("not live");
    int pidfd = pidfd_open(c.pid);
    if (pidfd < 0)
        python("pidfd_open");
    char letter[4];
    unsigned long long started;
    if (proc_stat(c.pid, letter, &started) < 0)
        started = 0;
    if (started != (unsigned long long)c.starttime) {
        close(pidfd);
        python("pid reused");
    }
    if (pidfd_send_signal(pidfd, sig) < 0 && errno != ESRCH) {
        close(pidfd);
        python("pidfd_send_signal");
    }
    close(pidfd);
    answered("kill");
}

/* quick._empty_groups */
static int empty_groups(json_t *dirs) {
    size_t i;
    json_t *item;
    json_array_foreach(dirs, i, item) {
        const char *dir = json_string_value(item);
        char path[4200];
        if (join(path, sizeof path, dir, "cgroup.procs") < 0)
            return 0;
        size_t len;
        char *procs = read_file(path, &len);
        if (!procs) {
            if (errno == ENOENT)
                continue;
            return 0;
        }
        int busy = 0;
        for (size_t k = 0; k < len; k++)
            if (!strchr(" \t\n\r\v\f", procs[k]) || !procs[k])
                busy = 1;
        free(procs);
        if (busy)
            return 0;
        DIR *d = opendir(dir); /* O_CLOEXEC */
        if (!d) {
            if (errno == ENOENT)
                continue;
            return 0;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            int is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_UNKNOWN) {
                struct stat sb;
                is_dir = fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISDIR(sb.st_mode);
            }
            if (is_dir) {
                closedir(d);
                return 0;
            }
        }
        closedir(d);
    }
    return 1;
}

/* os.path.dirname */
static void dir_name(char *out, size_t size, const char *p) {
    const char *slash = strrchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) + 1 : 0;
    if (n >= size)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = 0;
    size_t all_slashes = strspn(out, "/");
    if (n && all_slashes != n)
        while (n && out[n - 1] == '/')
            out[--n] = 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path); /* shutil.rmtree(ignore_errors=True) */
    return 0;
}

/* _statedir.remove_state_dir */
static void remove_state_dir(const char *dir) {
    char path[4200];
    join(path, sizeof path, dir, "lock");
    int lock = open(path, O_RDWR | O_CLOEXEC);
    if (lock < 0 && errno != ENOENT)
        python("lock");
    if (lock >= 0) {
        while (flock(lock, LOCK_EX) < 0)
            if (errno != EINTR)
                python("flock");
        join(path, sizeof path, dir, "state.json");
        if (unlink(path) < 0 && errno != ENOENT)
            python("unlinking state.json");
        close(lock);
    }
    static const char *const names[] = {"state.json", "start.fifo", "lock"};
    for (size_t i = 0; i < 3; i++) {
        join(path, sizeof path, dir, names[i]);
        if (unlink(path) < 0 && errno != ENOENT)
            python("unlinking a state file");
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            join(path, sizeof path, dir, e->d_name);
            if (unlink(path) == 0 || errno == ENOENT)
                continue;
            if (errno != EISDIR) {
                closedir(d);
                python("unlinking in the state directory");
            }
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
        closedir(d);
    } else if (errno != ENOENT && errno != ENOTDIR) {
        python("listing the state directory");
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        python("removing the state directory");
}

void cmd_delete(const char *root, const char *id) {
    struct container c;
    load(root, id, &c);
    int created = !strcmp(c.status, "created");
    if (!created && strcmp(c.status, "stopped") != 0)
        python("not created or stopped");
    if (has_hooks(c.oci, "poststop"))
        python("poststop hooks");
    /* every value read before anything changes: a doubt falls back with nothing done */
    json_t *cg = json_object_get(c.state, "cgroup");
    const char *cgroup = "";
    if (cg && !json_is_null(cg)) {
        if (!json_is_string(cg))
            python("cgroup");
        cgroup = json_string_value(cg);
    }
    json_t *dirs = NULL;
    if (*cgroup) {
        dirs = json_object_get(c.oci, "cgroup_dirs");
        if (!json_is_array(dirs))
            python("cgroup_dirs");
        size_t i;
        json_t *item;
        json_array_foreach(dirs, i, item) if (!json_is_string(item)) python("cgroup_dirs");
    }
    if (created) {
        int pidfd = pidfd_open(c.pid);
        if (pidfd >= 0) {
            char letter[4];
            unsigned long long started;
            if (proc_stat(c.pid, letter, &started) < 0)
                started = 0;
            if (started == (unsigned long long)c.starttime) {
                if (pidfd_send_signal(pidfd, SIGKILL) < 0 && errno != ESRCH) {
                    close(pidfd);
                    python("pidfd_send_signal");
                }
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                while (poll(&p, 1, 10000) < 0 && errno == EINTR)
                    ;
            }
            close(pidfd);
        }
    }
    if (*cgroup) {
        if (!empty_groups(dirs))
            python("cgroups not empty");
        size_t i;
        json_t *item;
        json_array_foreach(dirs, i, item) {
            if (rmdir(json_string_value(item)) < 0 && errno != ENOENT)
                python("removing a cgroup");
        }
        size_t lo = strspn(cgroup, "/"), hi = strlen(cgroup);
        while (hi > lo && cgroup[hi - 1] == '/')
            hi--;
        int parent = memchr(cgroup + lo, '/', hi - lo) != NULL;
        json_array_foreach(dirs, i, item) {
            if (!parent)
                break;
            char up[4200];
            dir_name(up, sizeof up, json_string_value(item));
            if (rmdir(up) < 0 && errno != ENOENT && errno != EBUSY && errno != ENOTEMPTY)
                python("removing a parent cgroup");
        }
    }
    remove_state_dir(c.dir);
    answered("delete");
}

