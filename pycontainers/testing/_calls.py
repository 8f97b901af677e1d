"""How a sandboxed call travels: pickled in (cloudpickle), answered back, decoded.

Shared by the cold path (a fresh interpreter per call, :data:`RUNNER`) and the warm one
(:mod:`pycontainers.runtime._zygote_main`). An answer is the pickle of ``("ok", value)``,
``("error", exception pickle or None, repr, traceback text)`` or ``("unpicklable", repr,
traceback text)`` when the value cannot be pickled back.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pycontainers.errors import RemoteTraceback, SandboxError, SandboxResultError

if TYPE_CHECKING:
    from pycontainers.spec import Mount

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# The child side of a cold call: read the envelope, call, append the framed answer.
RUNNER = r"""
import os, pickle, sys, traceback
env = pickle.loads(sys.stdin.buffer.read())
sys.path[:0] = [p for p in env["path"] if p not in sys.path]
try:
    import cloudpickle
    dumps = cloudpickle.dumps
except ImportError:
    dumps = pickle.dumps
try:
    fn, args, kwargs = pickle.loads(env["call"])
    value = fn(*args, **kwargs)
    try:
        blob = dumps(("ok", value))
    except Exception as exc:
        text = "".join(traceback.format_exception(exc))
        blob = pickle.dumps(("unpicklable", f"the result of {fn!r} cannot be pickled: {exc!r}", text))
except BaseException as exc:
    text = "".join(traceback.format_exception(exc))
    try:
        raw = dumps(exc)
        pickle.loads(raw)
    except Exception:
        raw = None
    blob = pickle.dumps(("error", raw, repr(exc), text))
sys.stdout.flush()
sys.stderr.flush()
data = memoryview(blob + b"%016x" % len(blob) + env["marker"])
while data:
    data = data[os.write(1, data):]
"""


def status_text(code: int) -> str:
    """``exit status N`` or ``killed by signal N`` for a returncode (128+N: signal N)."""
    return f"killed by signal {code - 128}" if code > 128 else f"exit status {code}"


def split_answer(stdout: bytes, marker: bytes) -> tuple[bytes, bytes | None]:
    """Split the callable's own output from its framed answer (None: no answer)."""
    if not stdout.endswith(marker) or len(stdout) < len(marker) + 16:
        return stdout, None
    end = len(stdout) - len(marker)
    try:
        size = int(stdout[end - 16 : end], 16)
    except ValueError:
        return stdout, None
    start = end - 16 - size
    if start < 0:
        return stdout, None
    return stdout[:start], stdout[start : end - 16]


def decode(answer: bytes, what: str, out: bytes, err: bytes) -> Any:
    """The callable's value, or its exception raised with the sandbox's traceback."""
    try:
        loaded = pickle.loads(answer)
    except Exception as exc:
        raise SandboxError(f"{what}: cannot load its answer: {exc!r}", out, err) from exc
    if loaded[0] == "ok":
        return loaded[1]
    if loaded[0] == "unpicklable":
        _, text, tb = loaded
        raise SandboxResultError(f"{what}: {text}", out, err) from RemoteTraceback(tb)
    _, blob, text, tb = loaded
    error: BaseException | None = None
    if blob is not None:
        try:
            error = pickle.loads(blob)
        except Exception:  # an exception class this process cannot rebuild
            error = None
    if not isinstance(error, BaseException):
        raise SandboxError(f"{what} raised {text}{RemoteTraceback(tb)}", out, err)
    error.__cause__ = RemoteTraceback(tb)
    error.add_note(f"(raised by the {what}; its traceback there is shown above)")
    raise error


_pickle_lock = threading.Lock()


def dumps_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """Pickle the call: with cloudpickle, a test module's functions travel by value."""
    try:
        import cloudpickle  # type: ignore[import-untyped]
    except ImportError:
        return pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL)
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    by_value = module is not None and _user_module(module)
    with _pickle_lock:
        if by_value:
            cloudpickle.register_pickle_by_value(module)
        try:
            data: bytes = cloudpickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise SandboxError(f"cannot send {fn!r} to the sandbox: {exc!r}") from exc
        finally:
            if by_value:
                cloudpickle.unregister_pickle_by_value(module)
    return data


def _user_module(module: Any) -> bool:
    """A module of the user's own (a test module): not installed, not pycontainers, not __main__."""
    name = getattr(module, "__name__", "")
    path = getattr(module, "__file__", None)
    if not path or name == "__main__" or name.split(".")[0] == "pycontainers":
        return False
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return not any(os.path.abspath(path).startswith(p.rstrip("/") + "/") for p in prefixes)


def reference_module(fn: Callable[..., Any]) -> str | None:
    """The module a zygote may import ahead of ``fn``'s calls: an installed one that
    ``fn`` is pickled by reference from (None for the user's own modules, which travel by
    value, for ``__main__`` and for builtins).
    """
    name = getattr(fn, "__module__", None) or ""
    module = sys.modules.get(name)
    if module is None or name in ("__main__", "builtins") or _user_module(module):
        return None
    return name if getattr(module, "__file__", None) else None


def sys_path() -> list[str]:
    """The ``sys.path`` of this interpreter, every entry absolute."""
    cwd = os.getcwd()
    return [p if os.path.isabs(p) else os.path.join(cwd, p) for p in sys.path]


def python_mounts(host_image: bool, user: Sequence[Mount]) -> list[Mount]:
    """Read-only binds that make this interpreter and ``sys.path`` work in the sandbox."""
    from pycontainers.namespaces._run import _package_root
    from pycontainers.spec import Mount

    wanted = [sys.base_prefix, sys.prefix, os.path.dirname(sys.executable), _package_root()]
    wanted += [p for p in sys_path() if os.path.exists(p)]
    taken = {m.normalized_target for m in user}
    out: list[str] = []
    for path in sorted({os.path.normpath(p) for p in wanted}, key=len):
        if path == "/" or path.startswith(("/proc", "/sys", "/dev")) or path in taken:
            continue
        if host_image and any(path == d or path.startswith(d + "/") for d in _SYSTEM_DIRS):
            continue
        if any(path.startswith(p.rstrip("/") + "/") for p in out):
            continue
        out.append(path)
    return [Mount(p, p, read_only=True) for p in out]
