/* pycontainers-monitor: one small process per detached container, like podman's conmon.
 *
 *   pycontainers-monitor --state-dir DIR (--adopt PID | [--tty] [--interactive] -- ARGV...)
 *       [--stdin-fd N] [--stdout-fd N] [--stderr-fd N] [--pty-fd N]        (--adopt only)
 *       [--log-file PATH] [--log-max-size BYTES] [--log-max-files N]
 *       [--exit-file PATH] [--attach-socket PATH] [--console-socket PATH] [--ready-fd N]
 *       [--restart no|always|unless-stopped|on-failure[:N]] [--restart-count K]
 *       [--restart-cmd PATH ARGS... --] [--restart-backoff-ms MS] [--restart-backoff-max-ms MS]
 *       [--health-cmd PATH ARGS... -- | --health-entry FILE] [--health-interval MS]
 *       [--health-timeout MS] [--health-retries N] [--health-start-period MS]
 *       [--cgroup DIR]... [--cgroup-parent DIR]... [--claim-file PATH]
 *
 * --adopt PID: the container's first process is already our child (the shim's intermediate
 * process cloned it and then exec'd this program). `-- ARGV`: fork+exec ARGV ourselves, with
 * fresh pipes (stdin only with --interactive) or a fresh pty (--tty) on every (re)start.
 * One epoll loop: signalfd (SIGCHLD, SIGTERM, SIGINT), the output fds, the attach socket and
 * its clients, the health-check timer. Exit: drain output (at most DRAIN_MS), write the exit
 * file atomically, send the exit frame to attach clients, then apply the restart policy.
 * Done for good (no restart): record whether the OOM killer struck, remove the --cgroup
 * directories (monitor_finish.c), and exec --exit-cmd only if given and no live client holds
 * the --claim-file lock (a foreground `run --rm` cleans up itself). */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_MS 2000
#define MON_VERSION "pycontainers-monitor 1"
#define HELP                                                                                    \
    "usage: pycontainers-monitor --state-dir DIR (--adopt PID | [--tty] [--interactive] -- ARGV...)\n" \
    "  [--stdin-fd N] [--stdout-fd N] [--stderr-fd N] [--pty-fd N] [--pty-socket N]  (with --adopt)\n" \
    "  [--log-file PATH] [--log-max-size BYTES] [--log-max-files N]\n"                          \
    "  [--exit-file PATH] [--attach-socket PATH] [--console-socket PATH] [--ready-fd N]\n"      \
    "  [--restart no|always|unless-stopped|on-failure[:N]] [--restart-count K]\n"               \
    "  [--restart-cmd PATH ARGS... --] [--restart-backoff-ms MS] [--restart-backoff-max-ms MS]\n" \
    "  [--exit-cmd PATH ARGS... --]   (exec'd once the container is done and not restarted)\n" \
    "  [--health-cmd PATH ARGS... -- | --health-entry FILE]   (FILE: sealed, run in the container)\n" \
    "  [--health-interval MS] [--health-timeout MS] [--health-retries N] [--health-start-period MS]\n" \
    "  [--cgroup DIR]... [--cgroup-parent DIR]... (removed when done; a parent once empty)\n"    \
    "  [--claim-file PATH]  (a live client's flock on it skips --exit-cmd)\n"                    \
    "  [--event-file PATH]  (a \"die\" event line is appended there at each exit)\n"

enum { R_NO, R_ALWAYS, R_UNLESS_STOPPED, R_ON_FAILURE };

static struct {
    char *state_dir, *log_file, *exit_file, *attach, *console, *stopped_file, *claim_file;
    char *event_file;
    char *policy_file; /* a policy changed while it runs (Container.update), read at exit */
    pid_t adopt;
    char **argv, **restart_cmd, **exit_cmd;
    int tty, interactive;
    int stdin_fd, stdout_fd, stderr_fd, pty_fd, ready_fd, pty_socket;
    long long log_max_size;
    int log_max_files;
    int restart, restart_max, restart_count;
    int64_t backoff_ms, backoff_max_ms;
    struct health_opts health;
} o = {.stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1, .pty_fd = -1, .ready_fd = -1,
       .pty_socket = -1,
       .log_max_files = 1, .restart_max = -1, .backoff_ms = 100, .backoff_max_ms = 10000,
       .health = {.interval_ms = 30000, .timeout_ms = 30000, .retries = 3}};

struct output {
    struct watch w; /* first: epoll data pointer */
    int stream, is_pty;
    struct linebuf lb;
};

int g_epfd = -1;
static struct watch sig_w = {W_SIGNAL, -1}, stdin_w = {W_STDIN, -1};
static struct output outs[2] = {{{W_OUTPUT, -1}, STREAM_STDOUT, 0, {0}},
                                {{W_OUTPUT, -1}, STREAM_STDERR, 0, {0}}};
static pid_t child = -1;
static enum { RUNNING, DRAINING, BACKOFF, DONE } phase = RUNNING;
static int64_t deadline;
static int exit_code, exit_signal, stop_requested, oom_killed;

/* ---------- small helpers ---------- */

static __attribute__((noreturn)) void die(const char *what, int err) {
    mon_warn(what, err);
    exit(1);
}

static __attribute__((noreturn)) void usage(const char *msg, const char *arg) {
    char tmp[512];
    int n = snprintf(tmp, sizeof(tmp), "pycontainers-monitor: %s%s%s\n", msg, arg ? ": " : "",
                     arg ? arg : "");
    (void)!write(2, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
    exit(2);
}

int ep_add(struct watch *w, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(g_epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int ep_mod(struct watch *w, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.ptr = w};
    return epoll_ctl(g_epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void ep_del(struct watch *w) { (void)epoll_ctl(g_epfd, EPOLL_CTL_DEL, w->fd, NULL); }

void reset_child_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static long long num(const char *opt, const char *s, long long min) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        usage("invalid number for", opt);
    return v;
}

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (!p)
        die("malloc", ENOMEM);
    snprintf(p, n, "%s%s%s", dir, *dir && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

static char *absolute(const char *path) {
    char cwd[PATH_MAX];
    if (path[0] == '/')
        return strdup(path);
    if (!getcwd(cwd, sizeof(cwd)))
        die("getcwd", errno);
    return path_join(cwd, path);
}

/* ---------- options ---------- */

static char **cmd_until_dashes(char **argv, int *i, int argc, const char *opt) {
    int start = *i + 1, j = start;
    while (j < argc && strcmp(argv[j], "--") != 0)
        j++;
    if (j >= argc || j == start)
        usage("expected PATH ARGS... -- after", opt);
    argv[j] = NULL; /* the list ends at its "--" */
    *i = j;
    return argv + start;
}


/* "no", "always", "unless-stopped", "on-failure[:N]" -> the policy (and its retry limit) */
static int parse_restart(const char *v, int *policy, int *max) {
    char *end;
    if (strcmp(v, "no") == 0)
        *policy = R_NO;
    else if (strcmp(v, "always") == 0)
        *policy = R_ALWAYS;
    else if (strcmp(v, "unless-stopped") == 0)
        *policy = R_UNLESS_STOPPED;
    else if (strcmp(v, "on-failure") == 0) {
        *policy = R_ON_FAILURE;
        *max = -1;
    } else if (strncmp(v, "on-failure:", 11) == 0) {
        errno = 0;
        long n = strtol(v + 11, &end, 10);
        if (errno || end == v + 11 || *end || n < 0 || n > 1000000000L)
            return -1;
        *policy = R_ON_FAILURE;
        *max = (int)n;
    } else
        return -1;
    return 0;
}

static void parse(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && (v || (usage("missing value for", name), 0)) && ++i)
        if (strcmp(a, "--") == 0) {
            if (i + 1 >= argc)
                usage("no command after --", NULL);
            o.argv = argv + i + 1;
            break;
        } else if (strcmp(a, "--help") == 0) {
            (void)!write(1, HELP, sizeof(HELP) - 1);
            exit(0);
        } else if (strcmp(a, "--version") == 0) {
            (void)!write(1, MON_VERSION "\n", sizeof(MON_VERSION));
            exit(0);
        } else if (strcmp(a, "--tty") == 0) {
            o.tty = 1;
        } else if (strcmp(a, "--interactive") == 0) {
            o.interactive = 1;
        } else if (strcmp(a, "--restart-cmd") == 0) {
            o.restart_cmd = cmd_until_dashes(argv, &i, argc, a);
        } else if (strcmp(a, "--exit-cmd") == 0) {
            o.exit_cmd = cmd_until_dashes(argv, &i, argc, a);
        } else if (strcmp(a, "--health-cmd") == 0) {
            o.health.cmd = cmd_until_dashes(argv, &i, argc, a);
        } else if (OPT("--health-entry")) {
            o.health.entry = absolute(v);
        } else if (OPT("--state-dir")) {
            o.state_dir = absolute(v);
        } else if (OPT("--adopt")) {
            o.adopt = (pid_t)num(a, v, 1);
        } else if (OPT("--stdin-fd")) {
            o.stdin_fd = (int)num(a, v, 0);
        } else if (OPT("--stdout-fd")) {
            o.stdout_fd = (int)num(a, v, 0);
        } else if (OPT("--stderr-fd")) {
            o.stderr_fd = (int)num(a, v, 0);
        } else if (OPT("--pty-fd")) {
            o.pty_fd = (int)num(a, v, 0);
        } else if (OPT("--pty-socket")) {
            o.pty_socket = (int)num(a, v, 0);
        } else if (OPT("--ready-fd")) {
            o.ready_fd = (int)num(a, v, 0);
        } else if (OPT("--log-file")) {
            o.log_file = absolute(v);
        } else if (OPT("--log-max-size")) {
            o.log_max_size = num(a, v, 0);
        } else if (OPT("--log-max-files")) {
            o.log_max_files = (int)num(a, v, 1);
        } else if (OPT("--event-file")) {
            o.event_file = absolute(v);
        } else if (OPT("--exit-file")) {
            o.exit_file = absolute(v);
        } else if (OPT("--attach-socket")) {
            o.attach = absolute(v);
        } else if (OPT("--cgroup")) {
            if (finish_add_cgroup(v, 0) < 0)
                usage("--cgroup: not an absolute path, or too many", v);
        } else if (OPT("--cgroup-parent")) {
            if (finish_add_cgroup(v, 1) < 0)
                usage("--cgroup-parent: not an absolute path, or too many", v);
        } else if (OPT("--claim-file")) {
            o.claim_file = absolute(v);
        } else if (OPT("--console-socket")) {
            o.console = absolute(v);
        } else if (OPT("--restart")) {
            if (parse_restart(v, &o.restart, &o.restart_max) < 0)
                usage("invalid --restart policy", v);
        } else if (OPT("--restart-count")) {
            o.restart_count = (int)num(a, v, 0);
        } else if (OPT("--restart-backoff-ms")) {
            o.backoff_ms = num(a, v, 0);
        } else if (OPT("--restart-backoff-max-ms")) {
            o.backoff_max_ms = num(a, v, 0);
        } else if (OPT("--health-interval")) {
            o.health.interval_ms = num(a, v, 1);
        } else if (OPT("--health-timeout")) {
            o.health.timeout_ms = num(a, v, 1);
        } else if (OPT("--health-retries")) {
            o.health.retries = (int)num(a, v, 1);
        } else if (OPT("--health-start-period")) {
            o.health.start_period_ms = num(a, v, 0);
        } else {
            usage("unknown option", a);
        }
#undef OPT
    }
    if (!o.state_dir)
        usage("--state-dir is required", NULL);
    if (!!o.adopt == !!o.argv)
        usage("give exactly one of --adopt PID and -- ARGV...", NULL);
    if (o.argv && (o.stdin_fd >= 0 || o.stdout_fd >= 0 || o.stderr_fd >= 0 || o.pty_fd >= 0))
        usage("--stdin-fd/--stdout-fd/--stderr-fd/--pty-fd need --adopt", NULL);
    if (o.adopt && (o.tty || o.interactive))
        usage("--tty/--interactive are for -- ARGV mode (with --adopt pass --pty-fd)", NULL);
    if (o.pty_fd >= 0 && (o.stdin_fd >= 0 || o.stdout_fd >= 0 || o.stderr_fd >= 0))
        usage("--pty-fd excludes --stdin-fd/--stdout-fd/--stderr-fd", NULL);
    if (o.console && o.pty_fd < 0 && o.pty_socket < 0 && !o.tty)
        usage("--console-socket needs a pty (--pty-fd or --tty)", NULL);
    if (o.adopt && o.restart != R_NO && !o.restart_cmd)
        usage("--restart with --adopt needs --restart-cmd", NULL);
    if (o.health.entry && (o.health.cmd || !o.adopt))
        usage("--health-entry needs --adopt and excludes --health-cmd", NULL);
    o.health.container = o.adopt;
    if (!o.log_file)
        o.log_file = path_join(o.state_dir, "ctr.log");
    if (!o.exit_file)
        o.exit_file = path_join(o.state_dir, "exit.json");
    if (!o.attach)
        o.attach = path_join(o.state_dir, "attach.sock");
    o.stopped_file = path_join(o.state_dir, "stopped");
    o.policy_file = path_join(o.state_dir, "restart-policy");
}

/* ---------- fds ---------- */

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* move the named fds above 2, mark them close-on-exec, close every other fd >= 3 */
static void tidy_fds(void) {
    int *named[] = {&o.stdin_fd, &o.stdout_fd, &o.stderr_fd, &o.pty_fd, &o.ready_fd,
                    &o.pty_socket};
    static const char *const names[] = {"--stdin-fd", "--stdout-fd", "--stderr-fd", "--pty-fd",
                                        "--ready-fd", "--pty-socket"};
    int keep[8], n = 0;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        int fd = *named[i];
        if (fd < 0)
            continue;
        if (fcntl(fd, F_GETFD) < 0)
            usage("not an open fd", names[i]);
        if (fd < 3) {
            int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
            if (nfd < 0)
                die("dup", errno);
            *named[i] = fd = nfd;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        keep[n++] = fd;
    }
    qsort(keep, (size_t)n, sizeof(int), cmp_int);
    unsigned int next = 3;
    for (int i = 0; i <= n; i++) {
        unsigned int upto = i < n ? (unsigned int)keep[i] : ~0U;
        if (upto > next && syscall(SYS_close_range, next, upto - 1, 0) < 0)
            for (unsigned int fd = next; fd < upto && fd < 65536; fd++)
                close((int)fd);
        if (i < n)
            next = (unsigned int)keep[i] + 1;
    }
}

static void stdio_to_null(void) {
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

static void output_open(int idx, int fd, int is_pty) {
    struct output *out = &outs[idx];
    out->w.fd = fd;
    out->is_pty = is_pty;
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ep_add(&out->w, EPOLLIN) < 0) {
        mon_warn("epoll output fd", errno);
        close(fd);
        out->w.fd = -1;
    }
}

static void output_close(struct output *out) {
    if (out->w.fd < 0)
        return;
    if (out->is_pty)
        stdin_set(NULL, 0);
    linebuf_flush(&out->lb, out->stream);
    ep_del(&out->w);
    close(out->w.fd);
    out->w.fd = -1;
}

static void output_event(struct output *out, uint32_t events) {
    if (out->is_pty && (events & EPOLLOUT))
        stdin_event(events);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    char tmp[16384];
    ssize_t r = read(out->w.fd, tmp, sizeof(tmp));
    if (r > 0) {
        attach_broadcast(out->stream, tmp, (size_t)r);
        linebuf_feed(&out->lb, out->stream, tmp, (size_t)r);
    } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        output_close(out); /* EOF; EIO on a pty master once every slave fd is closed */
    }
}

/* OCI console socket: pass the pty master (with its pts path as the message) and forget it */
static void send_console(int master) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char name[64] = "/dev/ptmx";
    int n;
    if (strlen(o.console) >= sizeof(sa.sun_path))
        die("--console-socket path too long", ENAMETOOLONG);
    strcpy(sa.sun_path, o.console);
    if (ioctl(master, TIOCGPTN, &n) == 0)
        snprintf(name, sizeof(name), "/dev/pts/%d", n);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect --console-socket", errno);
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof(int));
    if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0)
        die("send to --console-socket", errno);
    close(s);
    close(master);
}

/* ---------- the container process ---------- */

/* -- ARGV mode: fork+exec with fresh stdio; output and stdin wired into the loop */
static void start_child(void) {
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, master = -1;
    char pts[64];
    if (o.tty) {
        int n;
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || unlockpt(master) < 0 || ioctl(master, TIOCGPTN, &n) < 0)
            die("open pty", errno);
        snprintf(pts, sizeof(pts), "/dev/pts/%d", n);
    } else {
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
            (o.interactive && pipe2(in, O_CLOEXEC) < 0))
            die("pipe", errno);
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork", errno);
    if (pid == 0) {
        reset_child_signals();
        setsid();
        if (o.tty) {
            int s = open(pts, O_RDWR);
            if (s < 0)
                _exit(125);
            (void)ioctl(s, TIOCSCTTY, 0);
            dup2(s, 0), dup2(s, 1), dup2(s, 2);
        } else {
            int null = in[0] >= 0 ? in[0] : open("/dev/null", O_RDONLY);
            dup2(null, 0), dup2(out[1], 1), dup2(err[1], 2);
        }
        execvp(o.argv[0], o.argv);
        int e = errno;
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "exec %s: %s\n", o.argv[0], strerror(e));
        (void)!write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        _exit(e == ENOENT ? 127 : 126);
    }
    child = pid;
    if (o.tty) {
        if (o.console) {
            send_console(master);
        } else {
            output_open(0, master, 1);
            if (outs[0].w.fd >= 0)
                stdin_set(&outs[0].w, 1);
        }
        return;
    }
    close(out[1]);
    close(err[1]);
    output_open(0, out[0], 0);
    output_open(1, err[0], 0);
    if (in[0] >= 0) {
        close(in[0]);
        stdin_w.fd = in[1];
        stdin_set(&stdin_w, 0);
    }
}

/* --pty-socket: the container makes its terminal in its own devpts and sends us the
 * master; EOF (it failed before that) means there is no terminal to watch */
static void receive_pty(void) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof(u.buf);
    ssize_t n;
    while ((n = recvmsg(o.pty_socket, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(&o.pty_fd, CMSG_DATA(cm), sizeof(int));
    close(o.pty_socket);
    o.pty_socket = -1;
}

/* --adopt mode: the fds given on the command line */
static void adopt_fds(void) {
    if (o.pty_socket >= 0)
        receive_pty();
    if (o.pty_fd >= 0) {
        if (o.console) {
            send_console(o.pty_fd);
        } else {
            output_open(0, o.pty_fd, 1);
            if (outs[0].w.fd >= 0)
                stdin_set(&outs[0].w, 1);
        }
    }
    if (o.stdout_fd >= 0)
        output_open(0, o.stdout_fd, 0);
    if (o.stderr_fd >= 0)
        output_open(1, o.stderr_fd, 0);
    if (o.stdin_fd >= 0) {
        stdin_w.fd = o.stdin_fd;
        stdin_set(&stdin_w, 0);
    }
}

static void child_exited(int code, int sig) {
    exit_code = code;
    exit_signal = sig;
    child = -1;
    phase = DRAINING;
    deadline = now_ms() + DRAIN_MS;
    health_stop();
    if (stdin_w.fd >= 0)
        stdin_set(NULL, 0); /* nobody left to read it */
}

static void reap(void) {
    for (;;) {
        siginfo_t si;
        si.si_pid = 0;
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
            return;
        int sig = si.si_code == CLD_EXITED ? 0 : si.si_status;
        int code = sig ? 128 + sig : si.si_status;
        if (si.si_pid == child)
            child_exited(code, sig);
        else
            health_reaped(si.si_pid, code); /* or an orphan we are subreaper for */
    }
}

static void write_exit_file(void) {
    struct buf b = {0};
    buf_str(&b, "{\"exit_code\":");
    buf_int(&b, exit_code);
    buf_str(&b, ",\"signal\":");
    if (exit_signal)
        buf_int(&b, exit_signal);
    else
        buf_str(&b, "null");
    buf_str(&b, ",\"oom_killed\":");
    buf_str(&b, oom_killed ? "true" : "false");
    buf_str(&b, ",\"finished_at\":\"");
    buf_time(&b);
    buf_str(&b, "\",\"restart_count\":");
    buf_int(&b, o.restart_count);
    buf_str(&b, "}\n");
    if (!b.p || write_atomic(o.exit_file, b.p, b.len) < 0)
        mon_warn("write exit file", errno);
    buf_free(&b);
}

/* Docker's "die" event, appended to the event journal (pycontainers/events.py) in one
 * O_APPEND write so lines of concurrent writers never interleave. */
static void write_die_event(void) {
    if (!o.event_file)
        return;
    const char *slash = strrchr(o.state_dir, '/');
    const char *id = slash ? slash + 1 : o.state_dir;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    struct buf b = {0};
    buf_str(&b, "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":");
    buf_json_str(&b, (const unsigned char *)id, strlen(id));
    buf_str(&b, ",\"Attributes\":{\"exitCode\":\"");
    buf_int(&b, exit_code);
    buf_str(&b, oom_killed ? "\",\"oomKilled\":\"true\"}}" : "\"}}");
    buf_str(&b, ",\"scope\":\"local\",\"time\":");
    buf_int(&b, (long long)ts.tv_sec);
    buf_str(&b, ",\"timeNano\":");
    buf_int(&b, ns);
    buf_str(&b, ",\"status\":\"die\",\"id\":");
    buf_json_str(&b, (const unsigned char *)id, strlen(id));
    buf_str(&b, ",\"from\":\"\"}\n");
    int fd = b.p ? open(o.event_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd < 0 || write(fd, b.p, b.len) != (ssize_t)b.len)
        mon_warn("write die event", errno);
    if (fd >= 0)
        close(fd);
    buf_free(&b);
}

/* a policy written to <state dir>/restart-policy since the start replaces --restart */
static void reread_policy(void) {
    char buf[64];
    int fd = open(o.policy_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    if (buf[n - 1] == '\n')
        buf[n - 1] = 0;
    int policy = o.restart, max = o.restart_max;
    if (parse_restart(buf, &policy, &max) < 0) {
        mon_warn("ignoring an invalid restart-policy file", EINVAL);
        return;
    }
    o.restart = policy;
    o.restart_max = max;
}

static int should_restart(void) {
    struct stat st;
    if (stop_requested || stat(o.stopped_file, &st) == 0)
        return 0;
    reread_policy();
    if (o.restart != R_NO && !o.restart_cmd && o.adopt)
        return 0; /* started without a way to restart (an older caller) */
    switch (o.restart) {
    case R_ALWAYS:
    case R_UNLESS_STOPPED:
        return 1;
    case R_ON_FAILURE:
        return exit_code != 0 && (o.restart_max < 0 || o.restart_count < o.restart_max);
    default:
        return 0;
    }
}

static void finish_run(void) {
    for (int i = 0; i < 2; i++)
        output_close(&outs[i]);
    int again = should_restart();
    oom_killed = finish_oom_killed();
    if (!again) /* gone before waiters wake: a stopped container holds no cgroup */
        finish_release_cgroups();
    write_die_event(); /* first: whoever sees the exit file finds the event journaled */
    write_exit_file();
    attach_exit(exit_code);
    if (!again) {
        phase = DONE;
        return;
    }
    int64_t delay = o.backoff_ms;
    for (int i = 0; i < o.restart_count && delay < o.backoff_max_ms; i++)
        delay *= 2;
    if (delay > o.backoff_max_ms)
        delay = o.backoff_max_ms;
    phase = BACKOFF;
    deadline = now_ms() + delay;
}

static void restart(void) {
    if (o.restart_cmd) { /* the caller starts a new container and a new monitor */
        int n = 0;
        while (o.restart_cmd[n])
            n++;
        char **argv = calloc((size_t)n + 3, sizeof(char *));
        char count[24];
        if (!argv)
            exit(1);
        memcpy(argv, o.restart_cmd, (size_t)n * sizeof(char *));
        snprintf(count, sizeof(count), "%d", o.restart_count + 1);
        argv[n] = "--restart-count";
        argv[n + 1] = count;
        attach_close_listener();
        reset_child_signals();
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        execv(argv[0], argv);
        exit(1);
    }
    o.restart_count++;
    phase = RUNNING;
    start_child();
    health_start();
}

static void on_signals(void) {
    struct signalfd_siginfo si;
    int chld = 0;
    while (read(sig_w.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            chld = 1;
            continue;
        }
        stop_requested = 1; /* SIGTERM / SIGINT: stop the container, do not restart it */
        if (child > 0)
            kill(child, SIGTERM);
        else if (phase == BACKOFF)
            phase = DONE;
    }
    if (chld)
        reap();
}

int main(int argc, char **argv) {
    parse(argc, argv);
    struct stat st;
    if (stat(o.state_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        usage("--state-dir is not a directory", o.state_dir);
    if (o.adopt) {
        siginfo_t si;
        if (waitid(P_PID, (id_t)o.adopt, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
            usage("--adopt: not a child of this process", argv[0]);
        child = o.adopt;
    }
    tidy_fds();

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (getsid(0) != getpid())
        (void)setsid(); /* fails (EPERM) for a process group leader: then keep the session */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    g_epfd = epoll_create1(EPOLL_CLOEXEC);
    sig_w.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (g_epfd < 0 || sig_w.fd < 0 || ep_add(&sig_w, EPOLLIN) < 0)
        die("epoll/signalfd", errno);
    if (log_open(o.log_file, o.log_max_size, o.log_max_files) < 0)
        die(o.log_file, errno);
    int r = attach_listen(o.attach);
    if (r < 0)
        die(o.attach, -r);
    r = health_init(&o.health, o.state_dir);
    if (r < 0)
        die("health check timer", -r);
    if (o.adopt)
        adopt_fds();
    else
        start_child();
    health_start();

    stdio_to_null();
    if (chdir("/") < 0)
        mon_warn("chdir /", errno);
    if (o.ready_fd >= 0) {
        (void)!write(o.ready_fd, "1", 1);
        close(o.ready_fd);
    }
    reap(); /* the adopted process may be gone already: its SIGCHLD came before signalfd */

    while (phase != DONE) {
        int timeout = -1;
        if (phase == DRAINING || phase == BACKOFF) {
            int64_t left = deadline - now_ms();
            timeout = left < 0 ? 0 : (int)left;
        }
        struct epoll_event evs[16];
        int n = epoll_wait(g_epfd, evs, 16, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait", errno);
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (w->fd < 0)
                continue; /* closed by an earlier handler of this batch */
            switch (w->kind) {
            case W_SIGNAL: on_signals(); break;
            case W_OUTPUT: output_event((struct output *)w, e); break;
            case W_STDIN: stdin_event(e); break;
            case W_LISTEN: attach_accept(); break;
            case W_CLIENT: attach_client_event(w, e); break;
            case W_HEALTH_TIMER: health_timer_event(); break;
            case W_HEALTH_OUT: health_out_event(); break;
            default: break;
            }
        }
        attach_gc();
        if (phase == DRAINING &&
            ((outs[0].w.fd < 0 && outs[1].w.fd < 0) || now_ms() >= deadline))
            finish_run();
        else if (phase == BACKOFF && now_ms() >= deadline)
            restart();
    }
    attach_close_listener();
    (void)unlink(o.attach);
    if (o.exit_cmd && !finish_claimed(o.claim_file)) {
        /* the caller's clean-up (network, auto-remove) replaces us */
        reset_child_signals();
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        execv(o.exit_cmd[0], o.exit_cmd);
        mon_warn(o.exit_cmd[0], errno);
        return 1;
    }
    return 0;
}
