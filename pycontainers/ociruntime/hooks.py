"""The config's hooks, run as the runtime-spec says: each with the container's state JSON on
its stdin, its own ``args`` and ``env``, killed after ``timeout`` seconds.

A failing ``prestart``, ``createRuntime``, ``createContainer`` or ``startContainer`` hook
fails the operation (the container is then destroyed); a failing ``poststart`` or
``poststop`` hook is a warning and the rest go on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pycontainers.errors import OciRuntimeError

if TYPE_CHECKING:
    from pycontainers.ociruntime.report import Reporter
    from pycontainers.runtime.container import Container


def run_hooks(
    hooks: dict[str, list[dict[str, Any]]],
    kinds: Sequence[str],
    c: Container,
    status: str,
    reporter: Reporter,
    *,
    fatal: bool,
) -> None:
    """Run the hooks of ``kinds`` in order with ``c``'s state (``status``) on stdin."""
    todo = [(kind, i, h) for kind in kinds for i, h in enumerate(hooks.get(kind, []))]
    if not todo:
        return
    from pycontainers.ociruntime.store import state_doc

    state = json.dumps(state_doc(c, status)).encode()
    for kind, i, hook in todo:
        problem = run_one(hook, state)
        if problem is None:
            continue
        msg = f"hooks.{kind}[{i}] ({hook['path']}): {problem}"
        if fatal:
            raise OciRuntimeError(msg)
        reporter.warning(msg)


def run_one(hook: dict[str, Any], state: bytes) -> str | None:
    """Run one hook; None if it succeeded, else what went wrong."""
    import subprocess

    args = list(hook.get("args") or [hook["path"]])
    env = list(hook.get("env") or [])
    timeout = hook.get("timeout")
    try:
        proc = subprocess.Popen(
            args,  # args[0] is the hook's argv[0], as given
            executable=hook["path"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=dict(e.split("=", 1) for e in env if "=" in e),
            close_fds=True,
        )
    except OSError as exc:
        return f"cannot run it: {exc.strerror}"
    try:
        _, err = proc.communicate(state, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return f"timed out after {timeout} s"
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip()[-300:]
        return f"exited with status {proc.returncode}" + (f": {tail}" if tail else "")
    return None


__all__ = ["run_hooks", "run_one"]
