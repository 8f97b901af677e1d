"""``pycontainers-runtime``: an OCI runtime with runc's command line, for podman, containerd
(and through it Kubernetes) and anything else that drives runc.

A thin front end over the engine (:mod:`pycontainers.runtime`) and the config.json mapping
(:mod:`pycontainers.oci`): ``create`` sets the container up in C and leaves it waiting on
its start fifo with no Python process behind; every other command (``start``, ``state``,
``kill``, ``exec``, ``delete``...) is a separate process working on ``--root``. See
``docs/howto/oci-runtime.md``.
"""
