/* The attach socket of pycontainers-monitor, and the container's stdin.
 *
 * Frames both ways: [type:u8, 0, 0, 0, length:u32 big-endian] payload.
 *   monitor -> client: 1 stdout, 2 stderr (live output, no replay), 5 exit (i32 BE exit code,
 *                      then the monitor closes the connection)
 *   client -> monitor: 0 stdin data, 3 resize (rows u16 BE, cols u16 BE), 4 close stdin
 * A client whose unsent output exceeds ATTACH_CLIENT_MAX is dropped: a slow reader never
 * blocks the container. Stdin from all clients is merged into one pending buffer; while it
 * holds more than STDIN_MAX bytes the monitor stops reading from clients. */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define ATTACH_CLIENT_MAX (1u << 20)
#define STDIN_MAX (1u << 20)
#define FRAME_STDIN 0
#define FRAME_RESIZE 3
#define FRAME_CLOSE_STDIN 4
#define FRAME_EXIT 5

struct client {
    struct watch w; /* first: the epoll data pointer is the client */
    struct client *next;
    struct buf out;
    unsigned char hdr[8], small[4];
    unsigned hdr_got, small_got;
    uint32_t left;
};

static struct watch listener = {W_LISTEN, -1};
static struct client *clients;

static struct {
    struct watch *w; /* the stdin pipe, or the pty master's output watch */
    int is_pty;
    struct buf pending;
    int close_pending;
    int paused; /* clients not read while pending is full */
} in = {0};

/* ---------- listener ---------- */

int attach_listen(const char *path) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *name = path;
    int dirfd = -1, cwd = -1, err = 0;
    if (strlen(path) >= sizeof(sa.sun_path)) { /* too long: bind relative to its directory */
        const char *slash = strrchr(path, '/');
        char dir[PATH_MAX];
        size_t dl = slash ? (size_t)(slash - path) : 0;
        if (!slash || dl >= sizeof(dir) || strlen(slash + 1) >= sizeof(sa.sun_path))
            return -ENAMETOOLONG;
        memcpy(dir, path, dl);
        dir[dl ? dl : 1] = 0;
        if (!dl)
            dir[0] = '/';
        name = slash + 1;
        cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0 || dirfd < 0 || fchdir(dirfd) < 0) {
            err = -errno;
            goto out;
        }
    }
    strcpy(sa.sun_path, name);
    (void)unlink(name);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        err = -errno;
        goto out;
    }
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || chmod(name, 0600) < 0 || listen(fd, 16) < 0) {
        err = -errno;
        close(fd);
        goto out;
    }
    listener.fd = fd;
    ep_add(&listener, EPOLLIN);
out:
    if (cwd >= 0) {
        if (fchdir(cwd) < 0)
            err = err ? err : -errno;
        close(cwd);
    }
    if (dirfd >= 0)
        close(dirfd);
    return err;
}

void attach_close_listener(void) {
    if (listener.fd >= 0) {
        ep_del(&listener);
        close(listener.fd);
        listener.fd = -1;
    }
}

/* ---------- clients ---------- */

static void client_events(struct client *c) {
    ep_mod(&c->w, (in.paused ? 0 : EPOLLIN) | (c->out.len ? EPOLLOUT : 0));
}

/* Unlink and close now, free after the current epoll batch (attach_gc): a later event of
 * the same batch may still point at the client. */
static struct client *graveyard;

static void client_drop(struct client *c) {
    struct client **pp = &clients;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    ep_del(&c->w);
    close(c->w.fd);
    c->w.fd = -1;
    buf_free(&c->out);
    c->next = graveyard;
    graveyard = c;
}

void attach_gc(void) {
    while (graveyard) {
        struct client *c = graveyard;
        graveyard = c->next;
        free(c);
    }
}

void attach_accept(void) {
    for (;;) {
        int fd = accept4(listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client gone before we got to it */
        struct client *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            return;
        }
        c->w.kind = W_CLIENT;
        c->w.fd = fd;
        if (ep_add(&c->w, in.paused ? 0 : EPOLLIN) < 0) {
            close(fd);
            free(c);
            return;
        }
        c->next = clients;
        clients = c;
    }
}

/* send what we can; 0, or -1 if the client is gone */
static int client_flush(struct client *c) {
    while (c->out.len > 0) {
        ssize_t w = send(c->w.fd, c->out.p, c->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        buf_consume(&c->out, (size_t)w);
    }
    if (c->out.cap > 65536) /* a burst is over: give the memory back */
        buf_free(&c->out);
    return 0;
}

static void frame(struct buf *b, int type, const void *data, uint32_t n) {
    unsigned char h[8] = {(unsigned char)type, 0, 0, 0, (unsigned char)(n >> 24),
                          (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
    buf_add(b, h, 8);
    buf_add(b, data, n);
}

void attach_broadcast(int stream, const char *data, size_t n) {
    struct client *c = clients, *next;
    for (; c; c = next) {
        next = c->next;
        size_t had = c->out.len;
        if (had + n + 8 > ATTACH_CLIENT_MAX) {
            client_drop(c);
            continue;
        }
        frame(&c->out, stream, data, (uint32_t)n);
        if (client_flush(c) < 0)
            client_drop(c);
        else if (!had != !c->out.len)
            client_events(c);
    }
}

static void stdin_add(const void *data, size_t n);
static void stdin_close_req(void);

static void resize(const unsigned char *p) {
    if (!in.w || !in.is_pty)
        return;
    struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
                         .ws_col = (unsigned short)(p[2] << 8 | p[3])};
    (void)ioctl(in.w->fd, TIOCSWINSZ, &ws);
}

static void client_input(struct client *c, const unsigned char *p, size_t n) {
    while (n > 0) {
        if (c->hdr_got < 8) {
            size_t take = 8 - c->hdr_got < n ? 8 - c->hdr_got : n;
            memcpy(c->hdr + c->hdr_got, p, take);
            c->hdr_got += (unsigned)take;
            p += take;
            n -= take;
            if (c->hdr_got < 8)
                return;
            c->left = (uint32_t)c->hdr[4] << 24 | (uint32_t)c->hdr[5] << 16 |
                      (uint32_t)c->hdr[6] << 8 | c->hdr[7];
            c->small_got = 0;
        } else {
            size_t take = c->left < n ? c->left : n;
            if (c->hdr[0] == FRAME_STDIN)
                stdin_add(p, take);
            else if (c->hdr[0] == FRAME_RESIZE)
                for (size_t i = 0; i < take && c->small_got < 4; i++)
                    c->small[c->small_got++] = p[i];
            c->left -= (uint32_t)take;
            p += take;
            n -= take;
        }
        if (c->hdr_got == 8 && c->left == 0) { /* frame complete */
            if (c->hdr[0] == FRAME_RESIZE && c->small_got == 4)
                resize(c->small);
            else if (c->hdr[0] == FRAME_CLOSE_STDIN)
                stdin_close_req();
            c->hdr_got = 0;
        }
    }
}

void attach_client_event(struct watch *w, uint32_t events) {
    struct client *c = (struct client *)w;
    if (events & EPOLLOUT) {
        size_t had = c->out.len;
        if (client_flush(c) < 0) {
            client_drop(c);
            return;
        }
        if (had && !c->out.len)
            client_events(c);
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        unsigned char tmp[8192];
        ssize_t r = in.paused && !(events & (EPOLLHUP | EPOLLERR)) ? -2
                                                                   : read(c->w.fd, tmp, sizeof(tmp));
        if (r == 0 || (r < 0 && r != -2 && errno != EAGAIN && errno != EINTR)) {
            client_drop(c);
            return;
        }
        if (r > 0)
            client_input(c, tmp, (size_t)r);
    }
}

void attach_exit(int exit_code) {
    unsigned char code[4] = {(unsigned char)((uint32_t)exit_code >> 24),
                             (unsigned char)((uint32_t)exit_code >> 16),
                             (unsigned char)((uint32_t)exit_code >> 8), (unsigned char)exit_code};
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
    while (clients) {
        struct client *c = clients;
        frame(&c->out, FRAME_EXIT, code, 4);
        /* bounded blocking send of what is left, then close after reading what the client
         * sent (unread input would turn the client's EOF into ECONNRESET) */
        int fl = fcntl(c->w.fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(c->w.fd, F_SETFL, fl & ~O_NONBLOCK);
        (void)setsockopt(c->w.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (c->out.len)
            (void)send(c->w.fd, c->out.p, c->out.len, MSG_NOSIGNAL);
        shutdown(c->w.fd, SHUT_WR);
        char tmp[4096];
        while (recv(c->w.fd, tmp, sizeof(tmp), MSG_DONTWAIT) > 0)
            ;
        client_drop(c);
    }
}

/* ---------- stdin ---------- */

static void stdin_update(void) {
    if (!in.w)
        return;
    if (in.is_pty)
        ep_mod(in.w, EPOLLIN | (in.pending.len ? EPOLLOUT : 0));
    else
        ep_mod(in.w, in.pending.len ? EPOLLOUT : 0);
    int paused = in.pending.len >= STDIN_MAX;
    if (paused != in.paused) {
        in.paused = paused;
        for (struct client *c = clients; c; c = c->next)
            client_events(c);
    }
}

void stdin_set(struct watch *w, int is_pty) {
    if (in.w && !in.is_pty) {
        ep_del(in.w);
        close(in.w->fd);
        in.w->fd = -1;
    }
    in.w = NULL;
    in.pending.len = 0;
    in.close_pending = 0;
    if (!w || w->fd < 0)
        return;
    in.is_pty = is_pty;
    in.w = w;
    if (!is_pty && ep_add(w, 0) < 0) { /* not pollable (a regular file?): no stdin */
        in.w = NULL;
        close(w->fd);
        w->fd = -1;
        return;
    }
    int fl = fcntl(w->fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(w->fd, F_SETFL, fl | O_NONBLOCK);
}

static void stdin_do_close(void) {
    if (in.is_pty) { /* a pty has no half close: send the EOF character */
        struct termios t;
        unsigned char eof = 4;
        if (tcgetattr(in.w->fd, &t) == 0 && t.c_cc[VEOF])
            eof = t.c_cc[VEOF];
        in.close_pending = 0;
        stdin_add(&eof, 1);
        return;
    }
    stdin_set(NULL, 0);
    stdin_update();
}

static void stdin_write(void) {
    while (in.w && in.pending.len) {
        ssize_t w = write(in.w->fd, in.pending.p, in.pending.len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN) { /* reader gone */
                in.pending.len = 0;
                if (!in.is_pty)
                    stdin_set(NULL, 0);
            }
            break;
        }
        buf_consume(&in.pending, (size_t)w);
    }
    if (in.w && !in.pending.len && in.close_pending)
        stdin_do_close();
    stdin_update();
}

static void stdin_add(const void *data, size_t n) {
    if (!in.w)
        return;
    buf_add(&in.pending, data, n);
    stdin_write();
}

static void stdin_close_req(void) {
    if (!in.w)
        return;
    in.close_pending = 1;
    stdin_write();
}

void stdin_event(uint32_t events) {
    if (!in.w)
        return;
    if ((events & EPOLLERR) && !in.is_pty) {
        stdin_set(NULL, 0);
        stdin_update();
        return;
    }
    stdin_write();
}

int stdin_wants_out(void) { return in.w && in.pending.len; }
