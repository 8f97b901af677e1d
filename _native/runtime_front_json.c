/* The C front end's files and JSON: json.loads through Jansson where it reads a file exactly
 * as Python would (else the caller hands over to Python), and json.dumps's text, byte for
 * byte (ensure_ascii, float repr, indent or ", "/": " separators). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime_front.h"


/* os.path.join(a, b) for a relative b */
int join(char *out, size_t size, const char *a, const char *b) {
    size_t n = strlen(a);
    int w = snprintf(out, size, "%s%s%s", a, (n && a[n - 1] != '/') ? "/" : "", b);
    return w >= 0 && (size_t)w < size ? 0 : -1;
}

/* the whole file (NUL-terminated, len in *len); NULL with errno on failure */
char *read_file(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = more;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            free(buf);
            buf = NULL;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    int err = errno;
    close(fd);
    if (!buf) {
        errno = err ? err : ENOMEM;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* how deep arrays and objects nest (Python's json recurses, and stops near 1000) */
static int depth(json_t *v) {
    int deepest = 0;
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) {
            int d = depth(item);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            int d = depth(item);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

/* json.loads of a file: NULL for anything Jansson does not read exactly as Python would
 * (duplicate keys, NaN, huge numbers, bad UTF-8, deep nesting...): the caller falls back */
json_t *load_json(const char *path, int *missing) {
    size_t len;
    char *text = read_file(path, &len);
    if (missing)
        *missing = !text && errno == ENOENT;
    if (!text)
        return NULL;
    json_error_t err;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (doc && depth(doc) > 100) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ---- json.dumps ------------------------------------------------------------------------ */

void put(struct text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (t->len + n + 1 > cap)
            cap *= 2;
        char *more = realloc(t->buf, cap);
        if (!more)
            python("out of memory");
        t->buf = more;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = 0;
}

void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }

/* repr(float): the shortest digits that read back as x, fixed notation when the decimal
 * point falls within (-4, 16], else d.ddde+XX (Python's float_repr_style 'short') */
static void put_float(struct text *t, double x) {
    if (!isfinite(x))
        python("a non-finite number");
    if (x == 0) {
        puts_(t, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char sci[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(sci, sizeof sci, "%.*e", p - 1, x);
        if (strtod(sci, NULL) == x)
            break;
    }
    const char *s = sci;
    if (*s == '-') {
        puts_(t, "-");
        s++;
    }
    char digits[24];
    int nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    int decpt = atoi(s + 1) + 1;
    char out[64];
    if (decpt <= -4 || decpt > 16) {
        int e = decpt - 1;
        snprintf(out, sizeof out, "%c%s%s%se%c%02d", digits[0], nd > 1 ? "." : "",
                 digits + 1, "", e < 0 ? '-' : '+', e < 0 ? -e : e);
    } else if (decpt <= 0) {
        snprintf(out, sizeof out, "0.%.*s%s", -decpt, "0000", digits);
    } else if (decpt >= nd) {
        snprintf(out, sizeof out, "%s%.*s.0", digits, decpt - nd, "0000000000000000");
    } else {
        snprintf(out, sizeof out, "%.*s.%s", decpt, digits, digits + decpt);
    }
    puts_(t, out);
}

/* json.dumps of a str (ensure_ascii: \uXXXX in lower-case hex, surrogate pairs) */
void put_string(struct text *t, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(t, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        unsigned cp;
        int len;
        if (c < 0x80) {
            cp = c;
            len = 1;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else {
            cp = c & 0x07;
            len = 4;
        }
        if (i + (size_t)len > n)
            python("bad UTF-8"); /* Jansson validates: cannot happen */
        for (int k = 1; k < len; k++)
            cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
        i += (size_t)len;
        char esc[16];
        if (cp == '"')
            puts_(t, "\\\"");
        else if (cp == '\\')
            puts_(t, "\\\\");
        else if (cp == '\n')
            puts_(t, "\\n");
        else if (cp == '\r')
            puts_(t, "\\r");
        else if (cp == '\t')
            puts_(t, "\\t");
        else if (cp == '\b')
            puts_(t, "\\b");
        else if (cp == '\f')
            puts_(t, "\\f");
        else if (cp >= 0x20 && cp <= 0x7E)
            put(t, (const char *)&(char){(char)cp}, 1);
        else {
            unsigned units[2] = {cp, 0};
            int nu = 1;
            if (cp > 0xFFFF) {
                cp -= 0x10000;
                units[0] = 0xD800 | (cp >> 10);
                units[1] = 0xDC00 | (cp & 0x3FF);
                nu = 2;
            }
            for (int u = 0; u < nu; u++) {
                snprintf(esc, sizeof esc, "\\u%c%c%c%c", hex[(units[u] >> 12) & 15],
                         hex[(units[u] >> 8) & 15], hex[(units[u] >> 4) & 15], hex[units[u] & 15]);
                puts_(t, esc);
            }
        }
    }
    put(t, "\"", 1);
}

static void newline(struct text *t, int indent, int level) {
    put(t, "\n", 1);
    for (int i = 0; i < indent * level; i++)
        put(t, " ", 1);
}

/* json.dumps(value) (indent 0: separators ", " and ": ") or json.dumps(value, indent=N) */
void put_json(struct text *t, json_t *v, int indent, int level) {
    char num[32];
    switch (json_typeof(v)) {
    case JSON_NULL:
        puts_(t, "null");
        return;
    case JSON_TRUE:
        puts_(t, "true");
        return;
    case JSON_FALSE:
        puts_(t, "false");
        return;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        puts_(t, num);
        return;
    case JSON_REAL:
        put_float(t, json_real_value(v));
        return;
    case JSON_STRING:
        put_string(t, json_string_value(v), json_string_length(v));
        return;
    case JSON_ARRAY: {
        if (json_array_size(v) == 0) {
            puts_(t, "[]");
            return;
        }
        put(t, "[", 1);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (i)
                puts_(t, indent ? "," : ", ");
            if (indent)
                newline(t, indent, level + 1);
            put_json(t, item, indent, level + 1);
        }
        if (indent)
            newline(t, indent, level);
        put(t, "]", 1);
        return;
    }
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            puts_(t, "{}");
            return;
        }
        put(t, "{", 1);
        const char *key;
        json_t *item;
        int first = 1;
        json_object_foreach(v, key, item) {
            if (!first)
                puts_(t, indent ? "," : ", ");
            first = 0;
            if (indent)
                newline(t, indent, level + 1);
            put_string(t, key, strlen(key));
            puts_(t, ": ");
            put_json(t, item, indent, level + 1);
        }
        if (indent)
            newline(t, indent, level);
        put(t, "}", 1);
        return;
    }
    }
    python("an unknown JSON value");
}

