/* The warm start's client side (pycontainers/warmstart is the server), shared by the two C
 * front ends: pycontainers-front (warm_client.c, the `pycontainers` command) and
 * pycontainers-runtime-front (runtime_front.c, the OCI runtime's `create`). */
#ifndef PYCONTAINERS_WARM_CONN_H
#define PYCONTAINERS_WARM_CONN_H

/* The front end's spawn channel (warm_spawn.c; pycontainers/runtime/_remote.py): the worker
 * sends the container's plan, the front end clones it as its own child. */
struct warm_spawner {
    int fd;                         /* our end of the channel, polled by the relay */
    int (*serve)(struct warm_spawner *s); /* one message on fd: 0, or -1 when the channel is
                                       done */
    int wait_fd;                    /* >= 0: a pidfd the relay polls for a pending wait */
    int (*waited)(struct warm_spawner *s); /* wait_fd is readable: answer the wait */
    void (*finish)(int status);     /* before leaving with the worker's wait status */
};

struct warm_call {
    const char *prog;               /* the front end's name, for its messages */
    char **fallback;                /* the cold command's words: part of the key, and what */
    int nfallback;                  /* starts a server (with PYCONTAINERS_WARM_SERVE set) */
    char **args;                    /* the command's own arguments */
    int nargs;
    int debug;                      /* PYCONTAINERS_LAUNCH_DEBUG: "warm PID" on stderr */
    struct warm_spawner *spawner;   /* NULL, or the channel to offer the worker */
};

/* Run the call in a warm worker. Never returns once a worker took it (leaves with the
 * worker's status); returns the reason to run cold otherwise -- nothing of the call ran, and
 * every fd it opened is closed again or close-on-exec (no server: one is started first). */
const char *warm_run(const struct warm_call *call);

#endif
