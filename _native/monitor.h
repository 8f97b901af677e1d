/* pycontainers-monitor: the per-container monitor process (a small conmon).
 *
 * One process per detached container, outside the container: it owns the container's
 * output (json-file log and attach socket), waits for its exit and records it, enforces the
 * restart policy and runs health checks. Single threaded, one epoll loop; no stdio. */
#ifndef PC_MONITOR_H
#define PC_MONITOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- growable byte buffer (monitor_log.c) ---- */
struct buf {
    char *p;
    size_t len, cap;
};
int buf_reserve(struct buf *b, size_t extra); /* 0 or -1 (ENOMEM) */
void buf_add(struct buf *b, const void *data, size_t n);
void buf_str(struct buf *b, const char *s);
void buf_int(struct buf *b, long long v);
void buf_json_str(struct buf *b, const unsigned char *s, size_t n); /* quoted, escaped */
void buf_time(struct buf *b);                                       /* RFC 3339, ns, UTC */
void buf_consume(struct buf *b, size_t n);                          /* drop n leading bytes */
void buf_free(struct buf *b);

/* write the file at path atomically (path.tmp, rename; no fsync: runtime state); 0 or -1 */
int write_atomic(const char *path, const char *data, size_t n);
int write_all(int fd, const void *data, size_t n);
int64_t now_ms(void); /* CLOCK_MONOTONIC */
void mon_warn(const char *what, int err);

/* ---- json-file log (monitor_log.c) ---- */
enum { STREAM_STDOUT = 1, STREAM_STDERR = 2 };
int log_open(const char *path, long long max_size, int max_files);
void log_line(int stream, const char *data, size_t n); /* one json line (n may be 0) */

/* an output stream split into lines of at most LOG_LINE_MAX bytes, like Docker */
#define LOG_LINE_MAX 16384
struct linebuf {
    char *p; /* LOG_LINE_MAX bytes, allocated on first use */
    size_t len;
};
void linebuf_feed(struct linebuf *lb, int stream, const char *data, size_t n);
void linebuf_flush(struct linebuf *lb, int stream);

/* ---- epoll watches ---- */
enum watch_kind {
    W_SIGNAL,
    W_OUTPUT, /* stdout / stderr pipe, or the pty master (also written: stdin) */
    W_STDIN,  /* stdin pipe (write end) */
    W_LISTEN,
    W_CLIENT,
    W_HEALTH_TIMER,
    W_HEALTH_OUT,
    W_RESTART_TIMER,
};
struct watch {
    enum watch_kind kind;
    int fd;
};
int ep_add(struct watch *w, uint32_t events);
int ep_mod(struct watch *w, uint32_t events);
void ep_del(struct watch *w);

/* ---- attach socket and stdin (monitor_attach.c) ---- */
int attach_listen(const char *path);          /* 0 or -errno */
void attach_accept(void);
void attach_client_event(struct watch *w, uint32_t events);
void attach_broadcast(int stream, const char *data, size_t n);
void attach_exit(int exit_code); /* final frame to every client, then close them */
void attach_close_listener(void);
void attach_gc(void); /* free clients dropped during the last epoll batch */
void stdin_set(struct watch *w, int is_pty); /* where client stdin goes (NULL: nowhere) */
void stdin_event(uint32_t events);  /* EPOLLOUT on the stdin pipe or pty */
int stdin_wants_out(void);

/* ---- health checks (monitor_health.c) ---- */
struct health_opts {
    char **cmd;        /* a host command (NULL: none) ... */
    const char *entry; /* ... or the sealed entry of a command inside the container */
    pid_t container;   /* the container process the entry must name (--adopt) */
    int64_t interval_ms, timeout_ms, start_period_ms;
    int retries;
};
int health_init(const struct health_opts *o, const char *state_dir);
void health_start(void); /* container (re)started */
void health_stop(void);  /* container exited: cancel the timer, kill a running check */
void health_timer_event(void);
void health_out_event(void);
int health_reaped(pid_t pid, int code); /* 1 if pid was the check */

/* ---- finishing a container without Python (monitor_finish.c) ---- */
int finish_add_cgroup(const char *dir, int parent); /* --cgroup(-parent) DIR: 0 or -1 */
int finish_oom_killed(void);            /* 1 if the OOM killer struck in one of them */
void finish_release_cgroups(void); /* rmdir each (EBUSY retried briefly), then the parents */
int finish_claimed(const char *claim_file); /* 1 if a live client holds the claim */

/* shared by the child-starting code paths */
void reset_child_signals(void);
extern int g_epfd;

#endif
