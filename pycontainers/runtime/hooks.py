"""Hooks a detached container's monitor runs (execs) — ``python -m pycontainers.runtime.hooks``.

- ``exit``: the container is done and will not be restarted: give back its network (and
  its cgroup, if the monitor could not remove it), mark it stopped, remove it if it was
  started with ``auto_remove``. The monitor runs it only when there is such work and no
  live client claimed the clean-up.
- ``restart --restart-count K``: its policy restarts it: clean up as above, then start it
  again from its saved spec with a new monitor (this process exits after that).

Each runs briefly in place of the monitor (same pid), so nothing Python stays resident.
Failures are appended to ``<state dir>/hooks.log``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback


def _exit_hook(c: object) -> int:
    from pycontainers.runtime import monitored
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.lifecycle import Status
    from pycontainers.runtime.specfile import load_spec

    assert isinstance(c, Container)
    monitored.release_resources(c)
    c.record.status = Status.STOPPED
    c.save_state()
    _, options = load_spec(c.state_dir)
    if options["detach"].auto_remove:
        c.delete()
    return 0


def _restart_hook(c: object, count: int) -> int:
    from pycontainers.runtime import monitored
    from pycontainers.runtime.container import Container

    assert isinstance(c, Container)
    if os.path.exists(os.path.join(c.state_dir, "stopped")):  # stopped meanwhile: no restart
        return _exit_hook(c)
    c.record.restart_count = count
    monitored.start_again(c, restart_count=count)
    from pycontainers.events import container_event

    container_event(c, "start")
    c.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point for the monitor's hooks."""
    parser = argparse.ArgumentParser(prog="pycontainers.runtime.hooks")
    parser.add_argument("--state-root", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("hook", choices=["exit", "restart"])
    parser.add_argument("--restart-count", type=int, default=0)
    args = parser.parse_args(argv)
    from pycontainers.runtime.container import Container

    state_dir = os.path.join(args.state_root, args.id)
    try:
        c = Container.load(args.id, state_root=args.state_root)
        try:
            if args.hook == "exit":
                return _exit_hook(c)
            return _restart_hook(c, args.restart_count)
        finally:
            c.close()
    except Exception:
        if os.path.isdir(state_dir):
            with open(os.path.join(state_dir, "hooks.log"), "a") as f:
                f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {args.hook}:\n")
                f.write(traceback.format_exc())
        return 1


if __name__ == "__main__":
    sys.exit(main())
