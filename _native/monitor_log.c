/* Buffers, JSON, timestamps, atomic files and the json-file log of pycontainers-monitor.
 *
 * Log lines are Docker's json-file format:
 *   {"log":"...","stream":"stdout","time":"2026-11-24T02:03:04.123456789Z"}\n
 * Strings are escaped like Go's encoding/json (which Docker uses): \" \\ \n \r \t, other
 * control characters as \u00XX, < > & as \u003c \u003e \u0026, U+2028/U+2029 escaped, and
 * every byte that is not part of valid UTF-8 becomes \ufffd (one per byte). Times always
 * carry nine fraction digits (Go trims trailing zeros; both are valid RFC 3339). */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---------- buffers ---------- */

int buf_reserve(struct buf *b, size_t extra) {
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

void buf_add(struct buf *b, const void *data, size_t n) {
    if (n == 0 || buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

void buf_int(struct buf *b, long long v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    buf_add(b, tmp, (size_t)n);
}

void buf_consume(struct buf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void buf_free(struct buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* length of the valid UTF-8 sequence at s (1..4), or 0 if invalid */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void buf_json_str(struct buf *b, const unsigned char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    if (buf_reserve(b, n + 2) < 0)
        return;
    buf_add(b, "\"", 1);
    size_t i = 0, start = 0; /* [start, i) is a run of bytes copied verbatim */
    while (i < n) {
        unsigned char c = s[i];
        const char *esc = NULL;
        char u[6] = {'\\', 'u', '0', '0', 0, 0};
        size_t len = 1, skip = 1;
        if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            len = utf8_len(s + i, n - i);
            if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9))
                esc = s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029", skip = 3;
            else if (len == 0)
                esc = "\\ufffd";
            else {
                i += len;
                continue;
            }
        } else if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else {
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        }
        buf_add(b, s + start, i - start);
        if (esc)
            buf_str(b, esc);
        else
            buf_add(b, u, 6);
        i += skip;
        start = i;
    }
    buf_add(b, s + start, i - start);
    buf_add(b, "\"", 1);
}

void buf_time(struct buf *b) {
    struct timespec ts;
    struct tm tm;
    char tmp[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
    buf_add(b, tmp, (size_t)n);
}

int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- files ---------- */

int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Replace path atomically (temp file, rename). No fsync: the monitor writes only runtime
 * state (exit.json, health.json) that a reboot voids; the rename alone means a reader never
 * sees a torn file, and an fsync on a busy disk delayed every waiter of an exit by ms. */
int write_atomic(const char *path, const char *data, size_t n) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, n) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        errno = e;
        return -1;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* A warning on stderr: it reaches the caller during setup; once the monitor runs, its
 * stderr is /dev/null and later warnings are dropped. */
void mon_warn(const char *what, int err) {
    char tmp[512];
    int n = snprintf(tmp, sizeof(tmp), "pycontainers-monitor: %s: %s\n", what, strerror(err));
    if (n > 0)
        (void)!write(2, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---------- json-file log with size-based rotation ---------- */

static struct {
    int fd;
    const char *path;
    long long size, max_size;
    int max_files;
    struct buf line;
} lg = {.fd = -1};

int log_open(const char *path, long long max_size, int max_files) {
    lg.path = path;
    lg.max_size = max_size;
    lg.max_files = max_files < 1 ? 1 : max_files;
    lg.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (lg.fd < 0)
        return -1;
    struct stat st;
    lg.size = fstat(lg.fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

static void log_rotate(void) {
    char from[PATH_MAX], to[PATH_MAX];
    if (lg.max_files <= 1) { /* nowhere to keep old lines: start over, like Docker */
        if (ftruncate(lg.fd, 0) == 0)
            lg.size = 0;
        return;
    }
    snprintf(to, sizeof(to), "%s.%d", lg.path, lg.max_files - 1);
    (void)unlink(to);
    for (int i = lg.max_files - 2; i >= 1; i--) {
        snprintf(from, sizeof(from), "%s.%d", lg.path, i);
        snprintf(to, sizeof(to), "%s.%d", lg.path, i + 1);
        (void)rename(from, to);
    }
    snprintf(to, sizeof(to), "%s.1", lg.path);
    if (rename(lg.path, to) < 0) {
        mon_warn("rotate log", errno);
        return;
    }
    int fd = open(lg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        mon_warn("reopen log", errno);
        return; /* keep writing to the renamed file rather than lose lines */
    }
    close(lg.fd);
    lg.fd = fd;
    lg.size = 0;
}

void log_line(int stream, const char *data, size_t n) {
    if (lg.fd < 0)
        return;
    struct buf *b = &lg.line;
    b->len = 0;
    buf_str(b, "{\"log\":");
    buf_json_str(b, (const unsigned char *)data, n);
    buf_str(b, stream == STREAM_STDERR ? ",\"stream\":\"stderr\",\"time\":\""
                                       : ",\"stream\":\"stdout\",\"time\":\"");
    buf_time(b);
    buf_str(b, "\"}\n");
    if (lg.max_size > 0 && lg.size > 0 && lg.size + (long long)b->len > lg.max_size)
        log_rotate();
    if (write_all(lg.fd, b->p, b->len) == 0)
        lg.size += (long long)b->len;
    if (b->cap > 65536) { /* a huge escaped line: give the memory back */
        buf_free(b);
    }
}

void linebuf_feed(struct linebuf *lb, int stream, const char *data, size_t n) {
    while (n > 0) {
        if (!lb->p && !(lb->p = malloc(LOG_LINE_MAX)))
            return;
        size_t room = LOG_LINE_MAX - lb->len;
        size_t take = n < room ? n : room;
        const char *nl = memchr(data, '\n', take);
        if (nl)
            take = (size_t)(nl - data) + 1;
        if (lb->len == 0 && (nl || take == LOG_LINE_MAX)) {
            log_line(stream, data, take); /* whole line straight from the read buffer */
        } else {
            memcpy(lb->p + lb->len, data, take);
            lb->len += take;
            if (nl || lb->len == LOG_LINE_MAX) { /* a line, or a 16 KiB partial chunk */
                log_line(stream, lb->p, lb->len);
                lb->len = 0;
            }
        }
        data += take;
        n -= take;
    }
}

void linebuf_flush(struct linebuf *lb, int stream) {
    if (lb->len > 0)
        log_line(stream, lb->p, lb->len);
    lb->len = 0;
}
