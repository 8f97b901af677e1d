/* The OCI runtime front end's spawn channel (warm_spawn.c; pycontainers/runtime/_remote.py):
 * the hooks of its struct warm_spawner (warm_conn.h). */
#ifndef PYCONTAINERS_WARM_SPAWN_H
#define PYCONTAINERS_WARM_SPAWN_H

struct warm_spawner;

/* Serve one message of the worker on s->fd (a spawn, or a wait): 0, or -1 when the channel
 * is done (EOF) or broken (the caller stops polling it). A wait for a child still running
 * sets s->wait_fd (its pidfd) and is answered by warm_spawn_waited once that is readable. */
int warm_spawn_serve(struct warm_spawner *s);
int warm_spawn_waited(struct warm_spawner *s);
/* Before the front end leaves with the worker's wait status: on a failure (not 0), kill and
 * reap every child spawned here that the worker did not have reaped. */
void warm_spawn_finish(int status);

#endif
