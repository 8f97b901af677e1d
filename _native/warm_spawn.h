/* The OCI runtime front end's spawn channel (warm_spawn.c; pycontainers/runtime/_remote.py):
 * the hooks of its struct warm_spawner (warm_conn.h). */
#ifndef PYCONTAINERS_WARM_SPAWN_H
#define PYCONTAINERS_WARM_SPAWN_H

/* Serve one message of the worker on fd (a spawn, or a reap): 0, or -1 when the channel is
 * done (EOF) or broken (the caller stops polling it). */
int warm_spawn_serve(int fd);
/* Before the front end leaves with the worker's wait status: on a failure (not 0), kill and
 * reap every child spawned here that the worker did not have reaped. */
void warm_spawn_finish(int status);

#endif
