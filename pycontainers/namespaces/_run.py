"""``run_in``: call a function in a fresh interpreter started inside namespaces.

The Python interpreter is never forked. The C shim (``_sys.spawn_joined``) clones a child
that setns()es into the namespaces in the order given (callers put the user namespace
first; for a pid namespace the shim forks once more so the payload lands inside it) and
execs ``python -m pycontainers.namespaces._runner``. The protocol, all over pipes:

* fd 0 of the child: a pickled envelope ``{"version", "serializer", "sys_path", "call"}``
  where ``call`` is ``(fn, args, kwargs)`` serialized with cloudpickle if it is importable
  (lambdas and closures then work) or else with pickle (``fn`` must be importable by
  reference: a module-level function of a module the child can import);
* fd 3: the answer, ``("ok", result)`` or ``("error", pickled exception or None, repr,
  traceback text)``;
* fds 1 and 2: the function's own output, replayed on ``sys.stdout``/``sys.stderr``.
"""

from __future__ import annotations

import importlib
import os
import pickle
import selectors
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pycontainers import _sys
from pycontainers._log import get_logger
from pycontainers.errors import NamespaceError, PyContainersError
from pycontainers.namespaces._persist import stop_child

log = get_logger("pycontainers.namespaces")

RUNNER_MODULE = "pycontainers.namespaces._runner"
RESULT_FD = 3
PROTOCOL_VERSION = 1
_TAIL = 4000


def serializer() -> tuple[str, Callable[[object], bytes]]:
    """Return the name and dumps function of the serializer: cloudpickle if present, else pickle."""
    try:
        cloudpickle = importlib.import_module("cloudpickle")
    except ImportError:
        return "pickle", lambda obj: pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    dumps: Callable[..., bytes] = cloudpickle.dumps
    return "cloudpickle", lambda obj: dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _package_root() -> str:
    """Return the directory that holds the ``pycontainers`` package."""
    # this file is <root>/pycontainers/namespaces/_run.py
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _child_sys_path() -> list[str]:
    """Return this interpreter's sys.path, made absolute, for the child to use."""
    cwd = os.getcwd()
    return [os.path.join(cwd, p) if not os.path.isabs(p) else p for p in sys.path]


def child_env() -> dict[str, str]:
    """Return the child's environment: ours, with the package importable via PYTHONPATH."""
    env = dict(os.environ)
    root = _package_root()
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        parts.insert(0, root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def encode_call(
    fn: Callable[..., object], args: tuple[object, ...], kwargs: Mapping[str, object]
) -> bytes:
    """Serialize the call and the envelope sent to the runner on its stdin."""
    name, dumps = serializer()
    try:
        call = dumps((fn, args, dict(kwargs)))
    except Exception as exc:
        hint = (
            ""
            if name == "cloudpickle"
            else (
                " (without cloudpickle, fn must be a module-level function importable by name; "
                "install cloudpickle to send lambdas and closures)"
            )
        )
        raise NamespaceError(f"cannot send {_describe(fn)} to the child: {exc!r}{hint}") from exc
    envelope = {
        "version": PROTOCOL_VERSION,
        "serializer": name,
        "sys_path": _child_sys_path(),
        "call": call,
    }
    return pickle.dumps(envelope, pickle.HIGHEST_PROTOCOL)


def _describe(fn: object) -> str:
    return str(getattr(fn, "__qualname__", None) or repr(fn))


def run_joined(
    joins: Sequence[tuple[int, int]],
    fn: Callable[..., object],
    args: tuple[object, ...],
    kwargs: Mapping[str, object],
    *,
    label: str,
) -> Any:
    """Run ``fn(*args, **kwargs)`` in a child that joined ``joins`` and return its result."""
    payload = encode_call(fn, args, kwargs)
    argv = [sys.executable, "-m", RUNNER_MODULE]
    ours: list[int] = []  # parent ends: stdin writer, stdout, stderr and result readers
    theirs: list[int] = []  # child ends, closed here once the child has its copies
    try:
        for i in range(4):  # child's stdin, stdout, stderr, result
            r, w = os.pipe2(os.O_CLOEXEC)
            mine, child = (w, r) if i == 0 else (r, w)
            ours.append(mine)
            theirs.append(child)
        stdin_w, out_r, err_r, res_r = ours
        fds = dict(zip((0, 1, 2, RESULT_FD), theirs, strict=True))
        try:
            pid, pidfd = _sys.spawn_joined(argv, joins=joins, env=child_env(), fds=fds)
        except (OSError, PyContainersError) as exc:
            raise NamespaceError(
                f"cannot start {sys.executable} inside {label}: {exc} (for a mount namespace "
                "the interpreter and pycontainers must be reachable inside it)",
                errno=exc.errno,
                path=sys.executable,
            ) from exc
        finally:
            for fd in theirs:
                os.close(fd)
            theirs.clear()
        log.debug("namespace.run_in", target=label, fn=_describe(fn), pid=pid)
        try:
            ours.remove(stdin_w)  # _communicate owns (and closes) it
            out = _communicate(stdin_w, payload, {out_r: "out", err_r: "err", res_r: "res"})
            status = _reap(pidfd)
        finally:
            stop_child(pidfd)  # after _reap only closes the pidfd; kills the child on interrupt
    finally:
        for fd in ours + theirs:
            os.close(fd)
    _replay(out["out"], out["err"])
    return _decode(out["res"], out["err"], status, fn, label)


def _communicate(stdin_w: int, payload: bytes, readers: dict[int, str]) -> dict[str, bytes]:
    """Write ``payload`` to the child's stdin while collecting its outputs until EOF.

    Always closes ``stdin_w``: once the payload is written, or when the child stopped reading.
    """
    chunks: dict[str, list[bytes]] = {name: [] for name in readers.values()}
    view = memoryview(payload)
    writer: int | None = stdin_w
    try:
        os.set_blocking(stdin_w, False)
        with selectors.DefaultSelector() as sel:
            sel.register(stdin_w, selectors.EVENT_WRITE)
            for fd in readers:
                sel.register(fd, selectors.EVENT_READ)
            while sel.get_map():
                for key, _ in sel.select():
                    if key.fd == writer:
                        try:
                            view = view[os.write(writer, view[:65536]) :]
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            view = view[:0]  # the child stopped reading; it will say why
                        if not view:
                            sel.unregister(writer)
                            os.close(writer)
                            writer = None
                        continue
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[readers[key.fd]].append(data)
                    else:
                        sel.unregister(key.fd)
    finally:
        if writer is not None:
            os.close(writer)
    return {name: b"".join(parts) for name, parts in chunks.items()}


def _reap(pidfd: int) -> str:
    """Wait for the child and describe how it ended ("exit status 0", "signal 9")."""
    ended = _sys.wait_exit(pidfd)
    if ended is None:
        return "unknown status"
    exited, status = ended
    return f"exit status {status}" if exited else f"signal {status}"


def _replay(out: bytes, err: bytes) -> None:
    """Write the child's stdout/stderr to ours (at the Python level, so notebooks show it)."""
    if out:
        sys.stdout.write(out.decode(errors="replace"))
        sys.stdout.flush()
    if err:
        sys.stderr.write(err.decode(errors="replace"))
        sys.stderr.flush()


def _decode(res: bytes, err: bytes, status: str, fn: Callable[..., object], label: str) -> Any:
    """Turn the runner's answer into the result, or raise NamespaceError with its traceback."""
    what = f"{_describe(fn)} in {label}"
    if not res:
        tail = err.decode(errors="replace")[-_TAIL:].rstrip()
        detail = f"; its stderr ends with:\n{tail}" if tail else ""
        raise NamespaceError(f"{what}: the child ended ({status}) without a result{detail}")
    try:
        answer = pickle.loads(res)
    except Exception as exc:
        raise NamespaceError(f"{what}: cannot load the child's answer: {exc!r}") from exc
    if answer[0] == "ok":
        return answer[1]
    _, blob, text, tb = answer
    cause: BaseException | None = None
    if blob is not None:
        try:
            loaded = pickle.loads(blob)
        except Exception:  # an exception class the parent cannot rebuild
            loaded = None
        if isinstance(loaded, BaseException):
            cause = loaded
    message = f"{what} raised {text}\n\nTraceback in the child:\n{tb.rstrip()}"
    if cause is not None:
        raise NamespaceError(message) from cause
    raise NamespaceError(message)
