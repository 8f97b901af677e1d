/* Health checks of pycontainers-monitor.
 *
 * Every interval (counted from the end of the previous check) the health command runs as a
 * child of the monitor in its own process group, stdin /dev/null, stdout+stderr to one pipe
 * of which the first HEALTH_OUTPUT_MAX bytes are kept. After timeout its process group gets
 * SIGKILL and the check counts as a failure with exit code -1. DIR/health.json is rewritten
 * atomically after every check:
 *   {"status":"starting"|"healthy"|"unhealthy","failing_streak":N,
 *    "log":[{"start":"..Z","end":"..Z","exit_code":N,"output":"..."}]}   (last 5 checks)
 * Failures inside the start period do not count; a success ends the start period.
 *
 * With --health-entry the command runs inside the container, confined exactly as `exec`
 * confines a process: before each check the sealed entry is read and verified and the
 * child is spawned from it by the shim's own code (monitor_entry.c). A missing, corrupt or
 * stale entry is a failed check (exit code -1, the reason as its output); the command does
 * not run. */
#include "monitor.h"
#include "monitor_entry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define HEALTH_OUTPUT_MAX 4096
#define HEALTH_LOG 5

struct entry {
    char start[40], end[40];
    int code;
    struct buf output;
};

static struct {
    struct health_opts o;
    char path[PATH_MAX];
    struct watch timer, out;
    pid_t pid;       /* running check, or 0 */
    int pidfd, sock; /* of a check spawned from the entry (pidfd, error socket), or -1 */
    int timed_out, stopped, in_start_period, streak;
    int64_t started_ms;
    const char *status;
    struct entry log[HEALTH_LOG], cur;
    int nlog;
} h = {.timer = {W_HEALTH_TIMER, -1}, .out = {W_HEALTH_OUT, -1}, .pidfd = -1, .sock = -1};

static void stamp(char *dst) {
    struct buf b = {0};
    buf_time(&b);
    size_t n = b.len < 39 ? b.len : 39;
    if (b.p)
        memcpy(dst, b.p, n);
    dst[n] = 0;
    buf_free(&b);
}

static void arm(int64_t ms) {
    struct itimerspec its = {0};
    if (ms <= 0)
        ms = 1;
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000;
    (void)timerfd_settime(h.timer.fd, 0, &its, NULL);
}

static void write_file(void) {
    struct buf b = {0};
    buf_str(&b, "{\"status\":\"");
    buf_str(&b, h.status);
    buf_str(&b, "\",\"failing_streak\":");
    buf_int(&b, h.streak);
    buf_str(&b, ",\"log\":[");
    for (int i = 0; i < h.nlog; i++) {
        struct entry *e = &h.log[i];
        buf_str(&b, i ? ",{\"start\":\"" : "{\"start\":\"");
        buf_str(&b, e->start);
        buf_str(&b, "\",\"end\":\"");
        buf_str(&b, e->end);
        buf_str(&b, "\",\"exit_code\":");
        buf_int(&b, e->code);
        buf_str(&b, ",\"output\":");
        buf_json_str(&b, (const unsigned char *)(e->output.p ? e->output.p : ""), e->output.len);
        buf_str(&b, "}");
    }
    buf_str(&b, "]}\n");
    if (b.p && write_atomic(h.path, b.p, b.len) < 0)
        mon_warn("write health file", errno);
    buf_free(&b);
}

static const char *g_state_dir;

int health_init(const struct health_opts *o, const char *state_dir) {
    h.o = *o;
    if (!o->cmd && !o->entry)
        return 0;
    g_state_dir = state_dir;
    if (snprintf(h.path, sizeof(h.path), "%s/health.json", state_dir) >= (int)sizeof(h.path))
        return -ENAMETOOLONG;
    h.timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (h.timer.fd < 0 || ep_add(&h.timer, EPOLLIN) < 0)
        return -errno;
    h.stopped = 1;
    return 0;
}

void health_start(void) {
    if (!h.o.cmd && !h.o.entry)
        return;
    h.stopped = 0;
    h.status = "starting";
    h.streak = 0;
    h.started_ms = now_ms();
    h.in_start_period = h.o.start_period_ms > 0;
    for (int i = 0; i < h.nlog; i++)
        buf_free(&h.log[i].output);
    h.nlog = 0;
    write_file();
    arm(h.o.interval_ms);
}

static void close_out(void) {
    if (h.out.fd >= 0) {
        ep_del(&h.out);
        close(h.out.fd);
        h.out.fd = -1;
    }
}

/* the check's process group; a check from the entry also by its pidfd (its setsid() may
 * not have happened yet), and then its payload dies with it (PDEATHSIG) */
static void kill_check(void) {
    kill(-h.pid, SIGKILL);
    if (h.pidfd >= 0)
        (void)syscall(SYS_pidfd_send_signal, h.pidfd, SIGKILL, NULL, 0);
}

void health_stop(void) {
    if (!h.o.cmd && !h.o.entry)
        return;
    h.stopped = 1;
    struct itimerspec off = {0};
    (void)timerfd_settime(h.timer.fd, 0, &off, NULL);
    if (h.pid > 0)
        kill_check(); /* reaped by the main loop; the result is ignored */
    close_out();
}

/* the spawned check's setup failure, if it reported one, appended to its output */
static void take_report(void) {
    if (h.sock < 0)
        return;
    struct pc_error err;
    ssize_t r = recv(h.sock, &err, sizeof(err), MSG_DONTWAIT);
    if (r == (ssize_t)sizeof(err) && err.stage != PC_STAGE_READY) {
        err.message[sizeof(err.message) - 1] = '\0';
        buf_str(&h.cur.output, "health check: ");
        buf_str(&h.cur.output, err.message);
        if (err.err && err.stage != PC_STAGE_EXEC_LOOKUP) {
            buf_str(&h.cur.output, ": ");
            buf_str(&h.cur.output, strerror(err.err));
        }
        buf_str(&h.cur.output, "\n");
    }
    close(h.sock);
    h.sock = -1;
}

/* a check that could not start: a failure with the reason as its output */
static void refused(const char *why) {
    buf_str(&h.cur.output, "health check refused: ");
    buf_str(&h.cur.output, why);
    buf_str(&h.cur.output, "\n");
    health_reaped(-1, -1);
}

/* spawn the check from the sealed entry (stdout and stderr: the write end w) */
static pid_t spawn_from_entry(int w) {
    char why[1024];
    struct pc_spawn_result res;
    struct health_entry *e = entry_load(h.o.entry, why, sizeof(why));
    int r = e ? entry_spawn(e, h.o.container, g_state_dir, w, &res, why, sizeof(why)) : -1;
    entry_free(e);
    if (r < 0) {
        refused(why);
        return -1;
    }
    h.pidfd = res.pidfd;
    h.sock = res.sock;
    return res.pid;
}

static void run_check(void) {
    int p[2];
    stamp(h.cur.start);
    h.cur.output.len = 0;
    h.timed_out = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        refused(strerror(errno));
        return;
    }
    if (h.o.entry) {
        pid_t pid = spawn_from_entry(p[1]);
        close(p[1]);
        if (pid < 0) {
            close(p[0]);
            return;
        }
        h.pid = pid;
        h.out.fd = p[0];
        (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
        if (ep_add(&h.out, EPOLLIN) < 0)
            close_out();
        arm(h.o.timeout_ms);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        reset_child_signals();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
            dup2(null, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        execvp(h.o.cmd[0], h.o.cmd);
        static const char msg[] = "health check: cannot execute command\n";
        (void)!write(2, msg, sizeof(msg) - 1);
        _exit(errno == ENOENT ? 127 : 126);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        health_reaped(-1, -1);
        return;
    }
    setpgid(pid, pid); /* also here: kill(-pid) must work even before the child ran */
    h.pid = pid;
    h.out.fd = p[0];
    (void)fcntl(p[0], F_SETFL, O_NONBLOCK);
    if (ep_add(&h.out, EPOLLIN) < 0)
        close_out();
    arm(h.o.timeout_ms);
}

void health_timer_event(void) {
    uint64_t n;
    (void)!read(h.timer.fd, &n, sizeof(n));
    if (h.stopped)
        return;
    if (h.pid > 0) { /* timed out */
        h.timed_out = 1;
        kill_check();
        return;
    }
    run_check();
}

void health_out_event(void) {
    char tmp[4096];
    for (;;) {
        ssize_t r = read(h.out.fd, tmp, sizeof(tmp));
        if (r > 0) {
            size_t room = HEALTH_OUTPUT_MAX - h.cur.output.len;
            buf_add(&h.cur.output, tmp, (size_t)r < room ? (size_t)r : room);
            continue;
        }
        if (r == 0 || (errno != EINTR && errno != EAGAIN))
            close_out();
        if (r < 0 && errno == EINTR)
            continue;
        return;
    }
}

int health_reaped(pid_t pid, int code) {
    if (pid != -1 && (pid <= 0 || pid != h.pid))
        return 0;
    h.pid = 0;
    if (h.out.fd >= 0)
        health_out_event(); /* what is left in the pipe; a grandchild may hold it open */
    close_out();
    take_report();
    if (h.pidfd >= 0) {
        close(h.pidfd);
        h.pidfd = -1;
    }
    if (h.stopped)
        return 1;
    if (h.timed_out)
        code = -1;
    /* keep the last HEALTH_LOG entries, oldest first */
    if (h.nlog == HEALTH_LOG) {
        buf_free(&h.log[0].output);
        memmove(&h.log[0], &h.log[1], sizeof(h.log[0]) * (HEALTH_LOG - 1));
        h.nlog--;
    }
    struct entry *e = &h.log[h.nlog++];
    memcpy(e->start, h.cur.start, sizeof(e->start));
    stamp(e->end);
    e->code = code;
    e->output = h.cur.output; /* hand the buffer over */
    memset(&h.cur.output, 0, sizeof(h.cur.output));
    if (code == 0) {
        h.status = "healthy";
        h.streak = 0;
        h.in_start_period = 0;
    } else if (h.in_start_period && now_ms() < h.started_ms + h.o.start_period_ms) {
        /* does not count */
    } else {
        h.in_start_period = 0;
        if (++h.streak >= h.o.retries)
            h.status = "unhealthy";
    }
    write_file();
    arm(h.o.interval_ms);
    return 1;
}
