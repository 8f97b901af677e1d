/*
 * pycontainers native shim: the plan that Python builds and C executes.
 *
 * Everything a container child needs between clone() and execve() is described by
 * struct pc_plan. Python fills it (through cffi) before the clone; the child only reads it.
 * This header is also the cffi cdef (see build_shim.py), so it must stay plain C that
 * cffi's parser accepts: no macros other than integer #defines, no includes.
 */

/* Kinds of setup operations, executed in order inside the new mount namespace,
 * before pivot_root. Targets are paths inside the rootfs ("/proc"). */
#define PC_OP_MOUNT 1      /* mount fstype (source, data, flags) on target */
#define PC_OP_BIND 2       /* bind-mount host path source on target; flags: MS_RDONLY etc. */
#define PC_OP_MKNOD 3      /* create a device node (mode incl. S_IFCHR, dev) */
#define PC_OP_SYMLINK 4    /* symlink target -> source */
#define PC_OP_MKDIR 5      /* mkdir -p target with mode */
#define PC_OP_WRITE 6      /* create target (mode) with data as its content */
#define PC_OP_BIND_DEV 7   /* bind host device node source on target (user namespaces) */
#define PC_OP_MASK 8       /* hide target: a read-only empty tmpfs on a directory, the host's
                              /dev/null bound on a file; skipped if the target is missing */
#define PC_OP_READONLY 9   /* bind target on itself read-only; skipped if missing */
#define PC_OP_DEVICE 10    /* make a device node (OCI linux.devices): mknod target with mode
                              (S_IFCHR/S_IFBLK/S_IFIFO | permissions) and dev, owned by
                              flags (uid) and propagation (gid); a char or block node is then
                              bound on itself without nodev, so it opens although /dev is a
                              nodev tmpfs (the device cgroup still decides its access) */

/* Op option bits (pc_op.options). */
#define PC_OPT_FILE 1      /* the target is a file, not a directory (create it as one) */
#define PC_OPT_STRICT 2    /* no symlink anywhere in the target path (proc, sys, dev) */
#define PC_OPT_RECURSIVE 4 /* recursive bind (MS_REC) */
#define PC_OPT_OPTIONAL 8  /* skip silently if the source does not exist */
#define PC_OPT_TREE 32     /* a bind whose source is the detached mount plan->mount_trees[mode]
                              (an idmapped copy made by the parent): moved into place */
#define PC_OPT_HOSTNODE 64 /* PC_OP_DEVICE in a user namespace (no mknod there): bind the
                              host's node at the same path, which must be that device */
#define PC_OPT_RRO 16      /* then read-only recursively: mount_setattr(AT_RECURSIVE,
                              MOUNT_ATTR_RDONLY) on the new mount and every one under it */

/* Stages reported by the child on failure (pc_error.stage). */
#define PC_STAGE_READY 0
#define PC_STAGE_SYNC 1
#define PC_STAGE_SETSID 2
#define PC_STAGE_USER 3
#define PC_STAGE_JOIN 4
#define PC_STAGE_PROPAGATION 5
#define PC_STAGE_ROOTFS 6
#define PC_STAGE_MOUNT 7
#define PC_STAGE_PIVOT 8
#define PC_STAGE_HOSTNAME 9
#define PC_STAGE_RLIMIT 10
#define PC_STAGE_IDS 11
#define PC_STAGE_CWD 12
#define PC_STAGE_STDIO 13
#define PC_STAGE_EXEC_LOOKUP 14
#define PC_STAGE_START_WAIT 15
#define PC_STAGE_EXEC 16
#define PC_STAGE_INIT 17
#define PC_STAGE_FDS 18
#define PC_STAGE_READONLY 19
#define PC_STAGE_CGROUP 20
#define PC_STAGE_CAPS 21
#define PC_STAGE_SECCOMP 22
#define PC_STAGE_HANDOFF 23 /* not a failure: the child that joined (or unshared) a pid
                               namespace cloned the container's process as the caller's own
                               child (CLONE_PARENT) and exits; pc_error.pid is that process,
                               its pidfd comes with the message. Every later message is that
                               process's. */

struct pc_op {
    int kind;
    int options;
    const char *source;
    const char *target;
    const char *fstype;
    const char *data;
    unsigned long flags;        /* MS_* flags for the mount (bind: applied by remount) */
    unsigned long propagation;  /* MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE (| MS_REC) */
    unsigned int mode;
    unsigned long long dev;     /* makedev(major, minor) for PC_OP_MKNOD */
    size_t data_len;            /* PC_OP_WRITE: length of data */
};

struct pc_rlimit {
    int resource;
    unsigned long long soft;
    unsigned long long hard;
};

struct pc_fdmap {
    int src;   /* fd in the parent, or -1 for /dev/null */
    int dst;   /* fd number in the container */
};

struct pc_join {
    int fd;      /* an open namespace fd (/proc/PID/ns/KIND) */
    int nstype;  /* CLONE_NEW* of that namespace */
};

struct pc_plan {
    unsigned long long clone_flags;   /* CLONE_NEW* to create */

    /* namespaces to join (setns), user first if present; then unshare_flags are unshared
     * (after a joined user namespace, so that it owns them) */
    struct pc_join *joins;
    int n_joins;

    /* rootfs: NULL means: no mount namespace work at all (no rootfs change) */
    const char *rootfs;               /* host path of the directory that becomes / */
    const char *rootfs_fstype;        /* NULL: bind rootfs on itself; else mount this fs there */
    const char *rootfs_source;
    const char *rootfs_data;
    unsigned long rootfs_propagation; /* private/slave: to / before anything (default MS_REC|MS_PRIVATE); shared/unbindable: to the new / */
    int readonly_rootfs;
    unsigned long rootfs_flags;       /* extra MS_* flags for the rootfs mount (MS_NODEV) */
    int rootfs_tree_fd;               /* a detached mount (an image's overlay) to attach at
                                         rootfs instead of binding it, or -1 */

    struct pc_op *ops;
    int n_ops;

    const char *hostname;             /* NULL: leave */
    const char *domainname;

    struct pc_rlimit *rlimits;
    int n_rlimits;

    int set_ids;                      /* switch to uid/gid/groups */
    unsigned int uid;
    unsigned int gid;
    unsigned int *groups;
    int n_groups;                     /* -1: do not call setgroups (denied, rootless) */

    int umask;                        /* -1: leave */
    const char *cwd;                  /* NULL: "/" */

    const char *path;                 /* resolved executable, or NULL to search PATH of envp */
    char **argv;                      /* NULL-terminated; NULL argv: hold (pause) until killed */
    char **envp;                      /* NULL-terminated */

    struct pc_fdmap *fds;             /* stdio and passed fds; dst numbers must be unique */
    int n_fds;

    const char *start_fifo;           /* wait for a byte on this fifo before execve (create/start) */
    int start_fifo_fd;                /* the fifo opened (O_RDWR) by the parent, or -1: open
                                         start_fifo by path (which a user namespace's root may
                                         not be allowed to reach) */
    int init;                         /* run a tiny init as pid 1 that reaps and forwards */
    int new_session;                  /* setsid(); 2: and fd 0 (a tty) becomes the controlling one */
    int console_sock;                 /* >= 0: after pivot_root, make a pty of the container's
                                         devpts our stdio and controlling terminal and send its
                                         master on this fd (a container fd number); -1: none */
    int no_new_privs;
    int pdeathsig;                    /* signal the child gets when the spawner dies, 0: none */
    int no_sync;                      /* the parent has nothing to do before release: the child
                                         may run at once (and share memory, vfork-style) */
    int *cgroup_fds;                  /* open cgroup.procs files: the child writes "0" to each
                                         to join the container's cgroup in every hierarchy */
    int n_cgroup_fds;
    int cgroup_v2_slot;               /* 1 + the index in cgroup_fds of the container's cgroup2
                                         group: the child is cloned straight into that group
                                         (clone3 CLONE_INTO_CGROUP with cgroup_v2_fd) and skips
                                         that write; if the kernel lacks it, the child writes it
                                         as every other one. 0: none */
    int cgroup_v2_fd;                 /* with cgroup_v2_slot: an O_PATH|O_DIRECTORY fd of the group */
    unsigned long long unshare_flags; /* CLONE_NEW* to unshare after joining the cgroups and
                                         the joins (a cgroup namespace rooted at the container's
                                         group; after a joined user namespace, every new one;
                                         CLONE_NEWPID: the child then forks into it) */

    int set_caps;                     /* apply the capability sets below */
    int cap_last;                     /* highest capability number the kernel knows */
    unsigned long long cap_bounding;
    unsigned long long cap_effective;
    unsigned long long cap_permitted;
    unsigned long long cap_inheritable;
    unsigned long long cap_ambient;

    const unsigned char *seccomp_bpf; /* struct sock_filter[]: loaded last before execve */
    size_t seccomp_len;               /* in bytes (8 per instruction); 0: no filter */
    unsigned int seccomp_flags;       /* SECCOMP_FILTER_FLAG_* */

    unsigned short console_rows;      /* with console_sock: the terminal's size, set before */
    unsigned short console_cols;      /* the payload runs (0: leave the kernel's 0x0) */
    int *mount_trees;                 /* detached mounts (idmapped binds) for PC_OPT_TREE ops */
    int n_mount_trees;
    int seccomp_listener;             /* with start_fifo and seccomp_flags having
                                         SECCOMP_FILTER_FLAG_NEW_LISTENER: load the filter
                                         before the start wait and send its notify fd with
                                         the ready message (the runtime hands it on) */
    const char *timens_offsets;       /* NULL, or the text written to /proc/self/timens_offsets
                                         right after unshare_flags (with CLONE_NEWTIME) made
                                         the time namespace the payload enters at execve */
    int clone_parent;                 /* with a rootfs and a joined pid namespace (or one
                                         unshared after a joined user namespace): the child,
                                         outside that namespace, clones the container's
                                         process into it as the caller's child
                                         (CLONE_PARENT), reports it (PC_STAGE_HANDOFF) and
                                         exits, as runc does. 0: it stays outside as the
                                         process's forwarder (a monitor's child) */
};

struct pc_spawn_result {
    int pid;
    int pidfd;
    int sock;        /* parent end: send the release byte, then read pc_error messages */
    int into_cgroup; /* 1: cloned straight into the plan's cgroup2 group; 0: it joins by writing
                        cgroup.procs; on a failed spawn, -1: the clone into that group failed */
};

/* The message the child sends on failure (stage, errno, text). stage PC_STAGE_READY
 * with errno 0 means: set up, waiting for the start signal. */
struct pc_error {
    int stage;
    int err;
    int exit_code;
    char message[500];
    int fd;          /* set by the receiver: an fd passed with the message (the seccomp
                        notify fd with PC_STAGE_READY, the pidfd with PC_STAGE_HANDOFF), or -1 */
    int pid;         /* PC_STAGE_HANDOFF: the container's process, in the caller's pid namespace */
};

/* Spawn the child described by plan. Returns 0 and fills res, or -errno. */
int pc_spawn(const struct pc_plan *plan, struct pc_spawn_result *res);

/* A detached container: its first process is the child of a monitor program, not of the
 * caller. pc_spawn_monitored forks an intermediate process that forks again (so the monitor
 * is nobody's child but init's), starts its own session, clones the container child as
 * pc_spawn would, hands pid and pidfd back, and execve()s mon->path: parenthood survives
 * execve, so the monitor can wait for the container. The monitor gets the intermediate's
 * end of *ctl as fd 3 and mon->fds as 4, 5, ... ; every other fd is closed. */
/* An argv element "@@@@PID@@@@@@@@" (PC_PID_PLACEHOLDER in internal.h) is replaced by the
 * container's pid before the monitor's execve. */
struct pc_monitor {
    const char *path;
    char **argv;       /* NULL-terminated */
    char **envp;       /* NULL-terminated */
    int *fds;          /* given to the monitor as fd 4, 5, ... in this order */
    int n_fds;
};
/* 0 with res filled, *ctl our end of the monitor's fd 3 and *monitor_pid its pid; -errno
 * if the fork failed; a positive errno if the intermediate failed (the clone of the
 * container, say). The monitor writes "1" on fd 3 once ready; if its execve fails, the
 * container is killed and a struct of three ints {-1, errno, pid} arrives instead. */
int pc_spawn_monitored(const struct pc_plan *plan, const struct pc_monitor *mon,
                       struct pc_spawn_result *res, int *ctl, int *monitor_pid);

/* Thin wrappers: return 0 / a result on success, -errno on failure. */
int pc_setns(int fd, int nstype);
int pc_unshare(int flags);
int pc_mount(const char *source, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int pc_umount2(const char *target, int flags);
int pc_pivot_root(const char *new_root, const char *put_old);
int pc_pidfd_open(int pid, unsigned int flags);
int pc_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
int pc_close_range(unsigned int first, unsigned int last, unsigned int flags);
int pc_sethostname(const char *name, size_t len);
int pc_openat2_beneath(int dirfd, const char *path, int flags, int in_root);

/* Send the release byte (sync point 1), then wait for the child's verdict: returns 0 on
 * EOF (execve succeeded), 1 with *out filled (a failure, or PC_STAGE_READY), or -errno. */
int pc_release(int sock, struct pc_error *out);
/* Wait for the next message without releasing: same returns as pc_release. */
int pc_recv_error(int sock, struct pc_error *out);
/* Release the child handing it fd (SCM_RIGHTS) with the byte: same returns as pc_release. */
int pc_release_fd(int sock, int fd, struct pc_error *out);
/* fsapi.c: the fd-based mount API, openat2 and syncfs (constants: sysconsts.h, read by
 * Python through the cffi module). Each returns 0 or an fd, or -errno. */
/* open_tree(AT_FDCWD, path, flags): a detached copy of the mount at path. */
int pc_open_tree(const char *path, unsigned int flags);
/* mount_setattr(tree_fd, "", flags, {MOUNT_ATTR_IDMAP, userns_fd}). */
int pc_mount_setattr_idmap(int tree_fd, int userns_fd, unsigned int flags);
int pc_fsopen(const char *fstype, unsigned int flags);
/* fsconfig(fd, cmd, key, value, aux): aux is the fd of FSCONFIG_SET_FD, else 0. */
int pc_fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux);
int pc_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int pc_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                  unsigned int flags);
/* openat2(dirfd, path, &{flags, mode, resolve}, sizeof(struct open_how)). */
int pc_openat2(int dirfd, const char *path, unsigned long long flags, unsigned long long mode,
               unsigned long long resolve);
int pc_syncfs(int fd);
/* mount(2) from a helper thread whose working directory is cwd_fd (-1: ours), so relative
 * paths in data (overlay's short lowerdir links) resolve there while the process's cwd
 * stays. detached: mount in a private mount namespace of that thread and return a
 * detached clone of the new mount (an fd, as fsmount gives), which outlives it. */
int pc_mount_in(int cwd_fd, const char *source, const char *target, const char *fstype,
                unsigned long flags, const char *data, int detached);
/* sandbox.c: a warm sandbox's call confines itself in place, in two steps (forked by its
 * zygote as pid 1 of a new pid namespace, it never calls execve).
 * pc_sandbox_prepare: join the plan's cgroup fds, unshare the plan's unshare_flags (new
 * cgroup, mnt, uts, ipc, net namespaces), bring lo up, make / private and run the plan's
 * ops beneath / (a fresh /proc and /tmp, masked and read-only paths), set the host name.
 * Done ahead of the call. pc_sandbox_confine: rlimits, capabilities around the id switch,
 * umask, cwd, no_new_privs and the seccomp filter, as a container's first process gets
 * them before execve; refuses a plan without capabilities. Each returns 0 only when its step is done; on any failure it sends a
 * struct pc_error on report_sock and _exit()s with 125: a half-confined process never
 * returns to Python. */
int pc_sandbox_prepare(const struct pc_plan *plan, int report_sock);
int pc_sandbox_confine(const struct pc_plan *plan, int report_sock);
/* bpf.c: device programs (BPF_PROG_TYPE_CGROUP_DEVICE) on a cgroup2 directory. */
#define PC_BPF_STEP_LOAD 1   /* BPF_PROG_LOAD (the verifier's log is in log) */
#define PC_BPF_STEP_QUERY 2  /* BPF_PROG_QUERY of the programs attached before */
#define PC_BPF_STEP_ATTACH 3 /* BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI */
#define PC_BPF_STEP_DETACH 4 /* BPF_PROG_DETACH of an older program (the new one stays) */
/* Load insns (insn_count struct bpf_insn, 8 bytes each), attach the program to the group
 * open at cgroup_fd, then detach every device program attached there before: 0, or -errno
 * with *step set to the call that failed. */
int pc_bpf_device_attach(int cgroup_fd, const void *insns, unsigned int insn_count,
                         char *log, unsigned int log_size, int *step);
/* The ids of the device programs attached to the group (at most capacity): their count, or
 * -errno; *attach_flags gets the group's attach flags (BPF_F_ALLOW_MULTI: 2). */
int pc_bpf_device_query(int cgroup_fd, unsigned int *ids, unsigned int capacity,
                        unsigned int *attach_flags);
/* warm_context.c: the warm start's context text (warm_context.h; pycontainers/warmstart): its
 * length, or -1. The C client pycontainers-front runs the same function. */
long pc_warm_context(char *buf, size_t size);
/* A standby or worker of the warm start dies with its server (PR_SET_PDEATHSIG, SIGKILL):
 * 0, or -ESRCH when the server (pid parent) is already gone, or -errno. */
int pc_warm_bind_to_parent(int parent);
/* plan_wire.c: a plan packed into one relocatable buffer, for another process (the warm
 * OCI runtime's worker packs, the C front end unpacks and spawns). Pack: 0, with *out a
 * malloc'd buffer of *len bytes (free it with pc_plan_free) and every fd the plan names
 * (joins[].fd, rootfs_tree_fd, fds[].src, start_fifo_fd, cgroup_fds[], cgroup_v2_fd with
 * cgroup_v2_slot, mount_trees[]) in fds[*n_fds] (each fd once; a negative one stays as it
 * is and takes no slot); or -E2BIG (more than max_fds fds), -ENOMEM, -EINVAL (a count < 0,
 * n_groups -1 aside, or a count > 0 with a NULL array). */
int pc_plan_pack(const struct pc_plan *plan, unsigned char **out, size_t *len, int *fds,
                 int max_fds, int *n_fds);
void pc_plan_free(void *p);
/* Unpack in place: buf (len bytes as pack wrote them, aligned as malloc aligns) becomes the
 * storage of the returned plan, whose fd indexes are replaced by fds[index]. NULL with
 * errno EINVAL if anything is out of bounds or malformed (buf is then garbage). The plan
 * points into buf, which must outlive it. With n_groups -1, groups is an empty array. */
struct pc_plan *pc_plan_unpack(unsigned char *buf, size_t len, const int *fds, int n_fds);
