/* The warm start's client side, shared by the two C front ends (warm_conn.h says what it
 * does; pycontainers/warmstart is the server, docs/howto/warm-start.md says why and how it is
 * safe).
 *
 * When a server of this very context is listening, the server's worker -- a fork of a
 * Python that has done the imports -- runs the command with this process's argv,
 * environment, fds and cwd, and this process relays signals and leaves with the worker's
 * status. Anything else -- no server, a server of another user, a refusal, an error before
 * the worker started -- returns the reason, and the caller execs the cold command exactly
 * as the launcher would have (argv, environment and fds untouched: every fd opened here is
 * O_CLOEXEC).
 *
 * No server: one is started in the background (fork, setsid, fork; stdio on /dev/null; the
 * cold command without arguments and PYCONTAINERS_WARM_SERVE=<socket>), and this call runs
 * cold.
 *
 * Signals once the worker runs: SIGINT SIGTERM SIGHUP SIGQUIT SIGWINCH SIGUSR1 SIGUSR2 and
 * SIGCONT are sent on as `sig N` (the server kill()s its child). SIGTSTP (^Z) stops the
 * worker (SIGSTOP) and then this process; the SIGCONT that resumes this process resumes the
 * worker. A killed client (EOF on the connection) makes the server SIGKILL the worker.
 *
 * With a spawner (the OCI runtime's front end), the request offers the worker a spawn
 * channel (a socketpair: the worker's end is passed before the cwd, item `s1`), served in
 * the relay loop (warm_spawn.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "warm_conn.h"
#include "warm_context.h"

#define MAX_FDS 250
#define SERVE_ENV "PYCONTAINERS_WARM_SERVE"

void sha256_hex(const void *data, size_t n, char out[65]); /* monitor_sha256.c */

extern char **environ;

static const struct warm_call *the_call;
static int oom; /* an allocation failed while building the key or the request */

static int set(const char *name) {
    const char *v = getenv(name);
    return v && *v;
}

/* ---- the key -------------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
};

static void add(struct buf *b, const void *data, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void add_str(struct buf *b, const char *s) {
    add(b, s, strlen(s) + 1); /* with its NUL: the parts cannot run into each other */
}

/* the variables that shape the interpreter (or the launcher's cache) a server has set up */
static int keyed_env(const char *entry) {
    if (!strncmp(entry, "PYTHON", 6) || !strncmp(entry, "LC_", 3))
        return 1;
    static const char *const names[] = {"LANG=", "LANGUAGE=", "HOME=", "XDG_CACHE_HOME="};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strncmp(entry, names[i], strlen(names[i])))
            return 1;
    return 0;
}

static int compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the socket directory --------------------------------------------------------------- */

static int socket_dir(char *out, size_t size) {
    const char *dir = getenv("PYCONTAINERS_WARM_DIR");
    int n;
    if (dir && *dir)
        n = snprintf(out, size, "%s", dir);
    else if (geteuid() == 0)
        n = snprintf(out, size, "/run/pycontainers-warm");
    else {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (!xdg || xdg[0] != '/')
            return -1;
        n = snprintf(out, size, "%s/pycontainers-warm", xdg);
    }
    if (n <= 0 || (size_t)n >= size || out[0] != '/')
        return -1;
    if (mkdir(out, 0700) && errno != EEXIST)
        return -1;
    struct stat st;
    if (lstat(out, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return -2;
    return 0;
}

/* ---- a server in the background --------------------------------------------------------- */

static void start_server(const char *sock) {
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid > 0) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        return;
    }
    if (setsid() < 0 || fork() != 0)
        _exit(0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    int null = open("/dev/null", O_RDWR);
    if (null < 0)
        _exit(0);
    for (int fd = 0; fd < 3; fd++)
        dup2(null, fd);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int own = dirfd(d);
        for (struct dirent *e; (e = readdir(d));) {
            int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != own)
                close(fd);
        }
        closedir(d);
    }
    if (setenv(SERVE_ENV, sock, 1))
        _exit(0);
    int nfallback = the_call->nfallback;
    char **argv = calloc((size_t)nfallback + 1, sizeof *argv);
    if (!argv)
        _exit(0);
    memcpy(argv, the_call->fallback, (size_t)nfallback * sizeof *argv);
    execvp(argv[0], argv);
    _exit(0);
}

/* A server is started by the second call of a context without one, not the first: a
 * context seen once (a shim in a cgroup of its own per container, as podman's conmon under
 * systemd is) would otherwise leave an unused server behind per call. The directory's
 * `seen` file holds the last SEEN_KEEP keys (32 hex digits a line, the newest last), under
 * an flock. 1: this key was there (the call starts a server); 0: it is recorded now. */
#define SEEN_KEEP 64

static int seen_before(const char *dir, const char *digest) {
    char path[4200];
    snprintf(path, sizeof path, "%s/seen", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return 1; /* no record to keep: as before, start one */
    char buf[SEEN_KEEP * 33 + 1];
    ssize_t n = -1;
    if (!flock(fd, LOCK_EX))
        n = pread(fd, buf, sizeof buf - 1, 0);
    if (n < 0) {
        close(fd);
        return 1;
    }
    buf[n - n % 33] = 0; /* whole lines only */
    for (char *line = buf; *line; line += 33)
        if (!strncmp(line, digest, 32)) {
            close(fd); /* (the lock goes with it) */
            return 1;
        }
    size_t len = strlen(buf);
    char *keep = len >= (SEEN_KEEP - 1) * 33 ? buf + len - (SEEN_KEEP - 1) * 33 : buf;
    char out[sizeof buf + 33];
    int m = snprintf(out, sizeof out, "%s%.32s\n", keep, digest);
    if (m > 0 && pwrite(fd, out, (size_t)m, 0) == m)
        (void)!ftruncate(fd, m);
    close(fd);
    return 0;
}

/* ---- talking to the worker and the server ----------------------------------------------- */

static int conn = -1;
static int sigpipe_w = -1;
static char inbuf[4096];
static size_t inlen;

static int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

/* one line from the connection (without its newline): 1, or 0 at EOF/error; blocking */
static int read_line(char *line, size_t size) {
    for (;;) {
        char *nl = memchr(inbuf, '\n', inlen);
        if (nl) {
            size_t n = (size_t)(nl - inbuf);
            if (n >= size)
                return 0;
            memcpy(line, inbuf, n);
            line[n] = 0;
            inlen -= n + 1;
            memmove(inbuf, nl + 1, inlen);
            return 1;
        }
        if (inlen == sizeof inbuf)
            return 0;
        ssize_t r = read(conn, inbuf + inlen, sizeof inbuf - inlen);
        if (r < 0 && errno == EINTR)
            return -1; /* a signal: the caller relays it and calls again */
        if (r <= 0)
            return 0;
        inlen += (size_t)r;
    }
}

static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    (void)!write(sigpipe_w, &b, 1);
    errno = saved;
}

static const int RELAYED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2,
                              SIGCONT, SIGTSTP};

static void handle(int sig) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

__attribute__((noreturn)) static void leave(int status) {
    if (the_call->spawner)
        the_call->spawner->finish(status);
    if (WIFEXITED(status))
        exit(WEXITSTATUS(status));
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none); /* the worker dumped its core, if any: not this process */
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    exit(128 + sig);
}

/* the worker runs: relay signals until the server says how it ended (the debug line that
 * names the worker comes once the handlers are in place: whoever reads it may signal) */
__attribute__((noreturn)) static void relay(const char *worker) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK)) {
        dprintf(2, "%s: pipe: %s\n", the_call->prog, strerror(errno));
        leave(125 << 8);
    }
    sigpipe_w = pipefd[1];
    for (size_t i = 0; i < sizeof RELAYED / sizeof *RELAYED; i++) {
        struct sigaction old;
        sigaction(RELAYED[i], NULL, &old);
        if (old.sa_handler != SIG_IGN || RELAYED[i] == SIGCONT)
            handle(RELAYED[i]); /* an ignored one stays ignored here (and in the worker) */
    }
    if (the_call->debug)
        dprintf(2, "%s: warm %s\n", the_call->prog, worker);
    struct warm_spawner *spawner = the_call->spawner;
    for (;;) {
        struct pollfd p[4] = {{conn, POLLIN, 0}, {pipefd[0], POLLIN, 0}, {-1, POLLIN, 0},
                              {-1, POLLIN, 0}};
        if (spawner) {
            p[2].fd = spawner->wait_fd >= 0 ? -1 : spawner->fd; /* one request at a time */
            p[3].fd = spawner->wait_fd;
        }
        if (poll(p, 4, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            unsigned char sigs[64];
            ssize_t n = read(pipefd[0], sigs, sizeof sigs);
            for (ssize_t i = 0; i < n; i++) {
                char msg[32];
                if (sigs[i] == SIGTSTP) { /* stop the worker, then this process */
                    write_all(conn, "sig 19\n", 7);
                    signal(SIGTSTP, SIG_DFL);
                    raise(SIGTSTP); /* returns once resumed, or at once: the kernel drops
                                       it in an orphaned process group, as it would for
                                       a cold command, which then runs on */
                    handle(SIGTSTP);
                    write_all(conn, "sig 18\n", 7); /* either way the worker runs on too */
                    continue;
                }
                int len = snprintf(msg, sizeof msg, "sig %d\n", sigs[i]);
                write_all(conn, msg, (size_t)len);
            }
        }
        if (p[3].fd >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR)) &&
            spawner->waited(spawner) < 0) {
            close(spawner->fd); /* the worker is gone (or broke it) */
            spawner->fd = -1;
        }
        if (p[2].fd >= 0 && spawner->fd >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR)) &&
            spawner->serve(spawner) < 0) {
            close(spawner->fd); /* the worker is done with it (or broke it) */
            spawner->fd = -1;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char line[128];
            int r = read_line(line, sizeof line);
            if (r < 0)
                continue;
            if (r == 0)
                break;
            if (!strncmp(line, "exit ", 5))
                leave(atoi(line + 5));
        }
    }
    dprintf(2, "%s: the warm start server went away before the command ended\n",
            the_call->prog);
    leave(125 << 8);
}

/* ---- the call ---------------------------------------------------------------------------- */

const char *warm_run(const struct warm_call *call) {
    the_call = call;
    const char *warm = getenv("PYCONTAINERS_WARM");
    if (warm && !strcmp(warm, "0"))
        return "PYCONTAINERS_WARM=0";
    if (set("PYCONTAINERS_NO_FAST_START") || set("COVERAGE_PROCESS_START"))
        return "PYCONTAINERS_NO_FAST_START";
    if (getenv(SERVE_ENV))
        return SERVE_ENV;
    char dir[4096];
    int d = socket_dir(dir, sizeof dir - 64);
    if (d == -1)
        return "no socket directory";
    if (d == -2)
        return "socket directory not private";

    static char context[1 << 17];
    long clen = pc_warm_context(context, sizeof context);
    if (clen < 0)
        return "context";
    struct buf key = {0};
    add_str(&key, "pycontainers-warm 1");
    add_str(&key, context);
    for (int i = 0; i < call->nfallback; i++)
        add_str(&key, call->fallback[i]);
    size_t nenv = 0;
    for (char **e = environ; *e; e++)
        nenv++;
    char **sorted = calloc(nenv + 1, sizeof *sorted);
    if (!sorted)
        return "out of memory";
    size_t nk = 0;
    for (char **e = environ; *e; e++)
        if (keyed_env(*e))
            sorted[nk++] = *e;
    qsort(sorted, nk, sizeof *sorted, compare);
    for (size_t i = 0; i < nk; i++)
        add_str(&key, sorted[i]);
    free(sorted);
    char digest[65];
    sha256_hex(key.p, key.len, digest);
    free(key.p);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    int n = snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%.32s.sock", dir, digest);
    if (n <= 0 || (size_t)n >= sizeof addr.sun_path)
        return "socket path too long";
    conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn < 0)
        return "socket";
    if (connect(conn, (struct sockaddr *)&addr, sizeof addr)) {
        int err = errno;
        close(conn);
        if (err == ENOENT || err == ECONNREFUSED) {
            if (!seen_before(dir, digest))
                return "no server: the first call of this context";
            start_server(addr.sun_path);
            return "no server: starting one";
        }
        return "connect";
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &cl) || cred.uid != geteuid())
        return "server of another user";

    /* the spawn channel: ours is polled by the relay, the worker's goes before the cwd */
    int chan[2] = {-1, -1};
    if (call->spawner && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan))
        return "socketpair";
    /* the fds: every open one, by number, then the spawn channel, and the cwd (O_PATH) last */
    int fds[MAX_FDS + 2], nfds = 0;
    DIR *fddir = opendir("/proc/self/fd");
    if (!fddir)
        return "/proc/self/fd";
    int own = dirfd(fddir);
    for (struct dirent *e; (e = readdir(fddir));) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == own || fd == conn || fd == chan[0] || fd == chan[1])
            continue;
        if (nfds == MAX_FDS) {
            closedir(fddir);
            return "too many fds";
        }
        fds[nfds++] = fd;
    }
    closedir(fddir);
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return "cwd";

    struct buf body = {0};
    add_str(&body, "b");
    body.len--; /* "b" + the context, one string */
    add_str(&body, context);
    for (int i = 0; i < call->nargs; i++) {
        add(&body, "a", 1);
        add_str(&body, call->args[i]);
    }
    for (char **e = environ; *e; e++) {
        add(&body, "e", 1);
        add_str(&body, *e);
    }
    for (int i = 0; i < nfds; i++) {
        char num[24];
        snprintf(num, sizeof num, "f%d", fds[i]);
        add_str(&body, num);
    }
    int nsent = nfds;
    if (call->spawner) {
        add_str(&body, "s1");
        fds[nsent++] = chan[1];
    }
    fds[nsent++] = cwd;
    if (oom)
        return "out of memory";
    char head[8] = {'P', 'C', 'W', '1'};
    uint32_t blen = (uint32_t)body.len;
    memcpy(head + 4, &blen, 4);
    union {
        char buf[CMSG_SPACE(sizeof(int) * (MAX_FDS + 2))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {head, sizeof head};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nsent)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nsent);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nsent);
    ssize_t sent;
    do
        sent = sendmsg(conn, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent != (ssize_t)sizeof head || write_all(conn, body.p, body.len))
        return "send";
    close(cwd);
    free(body.p);
    if (call->spawner) {
        close(chan[1]);
        call->spawner->fd = chan[0];
    }

    char line[256];
    int r;
    while ((r = read_line(line, sizeof line)) < 0)
        ;
    if (r == 0)
        return "no answer"; /* nothing has run: the worker answers before it runs anything */
    if (!strncmp(line, "refuse ", 7)) {
        close(conn);
        static char why[256];
        snprintf(why, sizeof why, "%s", line + 7);
        return why;
    }
    if (strncmp(line, "started ", 8) != 0) {
        close(conn);
        return "bad answer";
    }
    relay(line + 8);
}
