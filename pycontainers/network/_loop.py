"""Netlink calls from a thread that runs an asyncio event loop (a Jupyter kernel's main
thread): pyroute2's synchronous API drives its own loop and refuses to run inside a
running one, so such calls move to a short-lived worker thread. A new thread starts in
the network namespace of the thread that made it, so the call sees the same links.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def off_event_loop(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` on a worker thread when the calling thread runs an event loop."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # no asyncio imported, no loop running: a CLI or script does not pay for the import
        asyncio = sys.modules.get("asyncio")
        if asyncio is None:
            return fn(*args, **kwargs)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(*args, **kwargs)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="pycontainers-netlink") as pool:
            return pool.submit(fn, *args, **kwargs).result()

    return wrapper
