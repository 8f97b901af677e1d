/*
 * plan_wire.c: struct pc_plan packed into one relocatable buffer, and unpacked in place.
 *
 * The warm OCI runtime computes a plan in a Python worker and sends it to the C front end,
 * which clones the container (it must be the caller's child). The buffer is
 *
 *   header | struct pc_plan | regions...
 *
 * The plan is the struct as it is, with every pointer field holding the offset of its
 * region in the buffer (0: NULL; an empty array or "" is a region of its own, never 0) and
 * every fd field holding an index into the fd list that travels beside the buffer
 * (SCM_RIGHTS); a negative fd (none, /dev/null) stays as it is. The regions follow in the
 * order walk() visits them, each after the one before, so unpacking checks each offset
 * against the end of the previous region: regions never overlap each other or the plan,
 * which makes the in-place fix-up safe whatever the bytes say. Both directions run the
 * same walk(), so the order cannot differ between them.
 *
 * The fields (shim.h), and what walk() does with them:
 *   pointers: joins[n_joins] (fd: an fd), rootfs, rootfs_fstype, rootfs_source,
 *     rootfs_data, ops[n_ops] (source, target, fstype: strings; data: data_len bytes for
 *     PC_OP_WRITE, else a string), hostname, domainname, rlimits[n_rlimits],
 *     groups[n_groups] (n_groups -1: an empty array, setgroups is not called), cwd, path,
 *     argv, envp (NULL-terminated vectors of strings), fds[n_fds] (src: an fd),
 *     start_fifo, cgroup_fds[n_cgroup_fds] (fds), seccomp_bpf[seccomp_len],
 *     mount_trees[n_mount_trees] (fds), timens_offsets;
 *   fds: rootfs_tree_fd, start_fifo_fd, cgroup_v2_fd (only with cgroup_v2_slot != 0, as
 *     pc_spawn reads it; without, it is no fd and copies as it is);
 *   everything else copies as it is.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

#if __SIZEOF_POINTER__ == 8 && __SIZEOF_LONG__ == 8
_Static_assert(sizeof(struct pc_plan) == 384 && sizeof(struct pc_op) == 80,
               "plan_wire.c: a field was added to struct pc_plan or pc_op: pack it in walk()");
#endif

#define WIRE_MAGIC 0x77706370u /* "pcpw" */
#define WIRE_VERSION 1u

struct wire_header {
    uint32_t magic;
    uint32_t version;
    uint32_t plan_size; /* sizeof(struct pc_plan) and sizeof(struct pc_op) of the sender: */
    uint32_t op_size;   /* a plan of another build is refused, not misread */
    uint64_t len;       /* the whole buffer */
};

#define ALIGN _Alignof(struct pc_plan)
#define PLAN_OFF ((sizeof(struct wire_header) + ALIGN - 1) / ALIGN * ALIGN)
#define PLAN_END (PLAN_OFF + sizeof(struct pc_plan))

struct wire {
    int pack;           /* 1: pointers -> offsets, fds -> indexes; 0: the reverse */
    unsigned char *buf; /* the buffer: the plan at PLAN_OFF, then the regions */
    size_t len;         /* pack: allocated; unpack: its length */
    size_t cur;         /* the end of the last region */
    int *fds_out;       /* pack: the fds collected (at most max_fds) */
    const int *fds_in;  /* unpack: the fds the indexes name */
    int n_fds, max_fds;
    int err;            /* the first error (an errno) */
};

static size_t fail(struct wire *w, int err) {
    if (!w->err)
        w->err = err;
    return 0;
}

static uintptr_t get(const struct wire *w, size_t at) {
    uintptr_t v;
    memcpy(&v, w->buf + at, sizeof(v));
    return v;
}

static void set(struct wire *w, size_t at, uintptr_t v) {
    memcpy(w->buf + at, &v, sizeof(v));
}

/* pack: n bytes (aligned) appended; their offset, or 0 with w->err set */
static size_t grow(struct wire *w, size_t n, size_t align) {
    size_t off = (w->cur + align - 1) / align * align;
    if (w->err || n > SIZE_MAX / 2 - off)
        return fail(w, ENOMEM);
    if (off + n > w->len) {
        size_t cap = w->len * 2 > off + n ? w->len * 2 : off + n + 1024;
        unsigned char *bigger = realloc(w->buf, cap);
        if (!bigger)
            return fail(w, ENOMEM);
        w->buf = bigger;
        w->len = cap;
    }
    memset(w->buf + w->cur, 0, off - w->cur);
    w->cur = off + n;
    return off;
}

/* The region of n bytes the pointer field at offset `at` names. pack: copied in, the field
 * gets its offset; unpack: the offset checked (inside the buffer, aligned, after the last
 * region), the field gets the pointer. Returns the region's offset, or 0 (NULL or error). */
static size_t region(struct wire *w, size_t at, size_t n, size_t align) {
    uintptr_t v = get(w, at);
    if (w->err)
        return 0;
    if (v == 0)
        return n ? fail(w, EINVAL) : 0; /* a count without its array */
    size_t off;
    if (w->pack) {
        if (!(off = grow(w, n, align)))
            return 0;
        if (n)
            memcpy(w->buf + off, (const void *)v, n);
        set(w, at, off);
    } else {
        off = v;
        if (off < w->cur || off > w->len || off % align || n > w->len - off)
            return fail(w, EINVAL);
        w->cur = off + n;
        set(w, at, (uintptr_t)(w->buf + off));
    }
    return off;
}

static size_t array(struct wire *w, size_t at, int count, size_t size, size_t align) {
    if (count < 0 || (size_t)count > SIZE_MAX / size)
        return fail(w, EINVAL);
    return region(w, at, (size_t)count * size, align);
}

static void str(struct wire *w, size_t at) {
    uintptr_t v = get(w, at);
    size_t n;
    if (v == 0 || w->err)
        return;
    if (w->pack) {
        n = strlen((const char *)v) + 1;
    } else {
        const unsigned char *nul = v < w->len ? memchr(w->buf + v, 0, w->len - v) : NULL;
        if (!nul) {
            fail(w, EINVAL);
            return;
        }
        n = (size_t)(nul - (w->buf + v)) + 1;
    }
    region(w, at, n, 1);
}

/* a NULL-terminated vector of strings (argv, envp) */
static void vec(struct wire *w, size_t at) {
    const size_t ps = sizeof(char *);
    uintptr_t v = get(w, at);
    size_t n = 0;
    if (v == 0 || w->err)
        return;
    if (w->pack) {
        while (((char *const *)v)[n])
            n++;
    } else {
        size_t max = v <= w->len ? (w->len - v) / ps : 0;
        while (n < max && get(w, v + n * ps))
            n++;
        if (n == max) { /* no terminator inside the buffer */
            fail(w, EINVAL);
            return;
        }
    }
    size_t off = region(w, at, (n + 1) * ps, ps);
    for (size_t i = 0; off && i < n; i++)
        str(w, off + i * ps);
}

static void fd(struct wire *w, size_t at) {
    int v;
    memcpy(&v, w->buf + at, sizeof(v));
    if (v < 0 || w->err)
        return;
    if (w->pack) {
        int i = 0;
        while (i < w->n_fds && w->fds_out[i] != v)
            i++;
        if (i == w->n_fds) {
            if (i >= w->max_fds) {
                fail(w, E2BIG);
                return;
            }
            w->fds_out[w->n_fds++] = v;
        }
        v = i;
    } else {
        if (v >= w->n_fds) {
            fail(w, EINVAL);
            return;
        }
        v = w->fds_in[v];
    }
    memcpy(w->buf + at, &v, sizeof(v));
}

#define PLAN(w) ((const struct pc_plan *)((w)->buf + PLAN_OFF))
#define F(field) (PLAN_OFF + offsetof(struct pc_plan, field))
#define ARRAY(w, field, count, type) array(w, F(field), PLAN(w)->count, sizeof(type), _Alignof(type))

/* Every field of the plan (see the list at the top), in the order of the regions. */
static void walk(struct wire *w) {
    size_t a = ARRAY(w, joins, n_joins, struct pc_join);
    for (int i = 0; a && i < PLAN(w)->n_joins; i++)
        fd(w, a + i * sizeof(struct pc_join) + offsetof(struct pc_join, fd));
    str(w, F(rootfs));
    str(w, F(rootfs_fstype));
    str(w, F(rootfs_source));
    str(w, F(rootfs_data));
    fd(w, F(rootfs_tree_fd));
    a = ARRAY(w, ops, n_ops, struct pc_op);
    for (int i = 0; a && i < PLAN(w)->n_ops; i++) {
        size_t op = a + i * sizeof(struct pc_op);
        int kind = ((const struct pc_op *)(w->buf + op))->kind;
        size_t data_len = ((const struct pc_op *)(w->buf + op))->data_len;
        str(w, op + offsetof(struct pc_op, source));
        str(w, op + offsetof(struct pc_op, target));
        str(w, op + offsetof(struct pc_op, fstype));
        if (kind == PC_OP_WRITE) /* bytes, NULs allowed */
            region(w, op + offsetof(struct pc_op, data), data_len, 1);
        else
            str(w, op + offsetof(struct pc_op, data));
    }
    str(w, F(hostname));
    str(w, F(domainname));
    ARRAY(w, rlimits, n_rlimits, struct pc_rlimit);
    int n_groups = PLAN(w)->n_groups;
    if (n_groups < -1)
        fail(w, EINVAL);
    array(w, F(groups), n_groups < 0 ? 0 : n_groups, sizeof(unsigned int), _Alignof(unsigned int));
    str(w, F(cwd));
    str(w, F(path));
    vec(w, F(argv));
    vec(w, F(envp));
    a = ARRAY(w, fds, n_fds, struct pc_fdmap);
    for (int i = 0; a && i < PLAN(w)->n_fds; i++)
        fd(w, a + i * sizeof(struct pc_fdmap) + offsetof(struct pc_fdmap, src));
    str(w, F(start_fifo));
    fd(w, F(start_fifo_fd));
    a = ARRAY(w, cgroup_fds, n_cgroup_fds, int);
    for (int i = 0; a && i < PLAN(w)->n_cgroup_fds; i++)
        fd(w, a + i * sizeof(int));
    if (PLAN(w)->cgroup_v2_slot != 0)
        fd(w, F(cgroup_v2_fd));
    region(w, F(seccomp_bpf), PLAN(w)->seccomp_len, 1);
    a = ARRAY(w, mount_trees, n_mount_trees, int);
    for (int i = 0; a && i < PLAN(w)->n_mount_trees; i++)
        fd(w, a + i * sizeof(int));
    str(w, F(timens_offsets));
}

int pc_plan_pack(const struct pc_plan *plan, unsigned char **out, size_t *len, int *fds,
                 int max_fds, int *n_fds) {
    struct wire w = {.pack = 1, .fds_out = fds, .max_fds = max_fds};
    struct wire_header h = {WIRE_MAGIC, WIRE_VERSION, sizeof(struct pc_plan),
                            sizeof(struct pc_op), 0};
    grow(&w, PLAN_END, ALIGN); /* the header at 0, the plan at PLAN_OFF */
    if (w.err)
        return -w.err;
    memcpy(w.buf + PLAN_OFF, plan, sizeof(*plan));
    walk(&w);
    if (w.err) {
        free(w.buf);
        return -w.err;
    }
    h.len = w.cur;
    memcpy(w.buf, &h, sizeof(h));
    *out = w.buf;
    *len = w.cur;
    *n_fds = w.n_fds;
    return 0;
}

void pc_plan_free(void *p) {
    free(p);
}

struct pc_plan *pc_plan_unpack(unsigned char *buf, size_t len, const int *fds, int n_fds) {
    struct wire_header h;
    if (!buf || len < PLAN_END || (uintptr_t)buf % ALIGN || n_fds < 0 || (n_fds && !fds)) {
        errno = EINVAL;
        return NULL;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.magic != WIRE_MAGIC || h.version != WIRE_VERSION || h.plan_size != sizeof(struct pc_plan) ||
        h.op_size != sizeof(struct pc_op) || h.len != len) {
        errno = EINVAL;
        return NULL;
    }
    struct wire w = {.buf = buf, .len = len, .cur = PLAN_END, .fds_in = fds, .n_fds = n_fds};
    walk(&w);
    if (w.err) {
        errno = EINVAL;
        return NULL;
    }
    return (struct pc_plan *)(buf + PLAN_OFF);
}
