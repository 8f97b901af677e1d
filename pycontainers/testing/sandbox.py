"""``Sandbox``: run a command or a Python callable in a throwaway container, for tests.

A sandbox is isolated from the host: its own network namespace with only ``lo`` (no
network), a memory and a pids cap (its own cgroup), a read-only view of the host (the
built-in ``host`` image: the host's /usr, /bin, /lib*) or of a given image, and a fresh
writable ``/tmp`` (a tmpfs) — the only writable place: / and /dev are read-only.

A callable runs in a fresh interpreter inside the sandbox (the host's ``sys.executable``,
with the directories of ``sys.path`` bound read-only at the same paths). The call travels
pickled on the container's stdin (cloudpickle, so lambdas and closures work); the answer
comes back at the end of its stdout, after the callable's own output, framed by a random
marker: ``<output><pickled answer><length: 16 hex digits><marker>``.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypedDict, TypeVar, overload

import attrs

from pycontainers.errors import RemoteTraceback as RemoteTraceback
from pycontainers.errors import SandboxError as SandboxError
from pycontainers.errors import SandboxMemoryError as SandboxMemoryError
from pycontainers.errors import SandboxTimeout as SandboxTimeout

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.images.image import Image
    from pycontainers.runtime.options import SpecOptions
    from pycontainers.runtime.run import CompletedContainer
    from pycontainers.spec import Mount, OverlayRootfs

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_MEMORY = "256m"
DEFAULT_PIDS = 128
DEFAULT_TIMEOUT = 60.0
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TAIL = 4000
_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# The child side of a callable: read the envelope, call, append the framed answer.
_RUNNER = r"""
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
        raise TypeError(f"the result of {fn!r} cannot be pickled: {exc!r}") from exc
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


@attrs.frozen
class SandboxResult:
    """What a sandboxed command did: its exit status (128+N if signal N killed it) and output."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def text(self) -> str:
        """``stdout`` decoded (UTF-8, errors replaced)."""
        return self.stdout.decode(errors="replace")

    def check_returncode(self) -> None:
        """Raise :class:`SandboxError` (with the output) if the exit status is non-zero."""
        if self.returncode:
            raise SandboxError(
                f"sandboxed {list(self.args)!r} exited with status {self.returncode}",
                self.stdout,
                self.stderr,
            )


@attrs.frozen
class SandboxRecord:
    """One finished sandbox run, kept for the test report: what ran, how it ended, output."""

    what: str
    outcome: str
    stdout: bytes
    stderr: bytes


class SandboxOptions(TypedDict, total=False):
    """The keywords of :class:`Sandbox` that each :meth:`Sandbox.run` may override:
    ``image``, ``memory``, ``pids``, ``timeout``, ``network``, ``env``, ``mounts``,
    ``writable_shm`` (see :class:`Sandbox`).
    """

    image: str | Image | OverlayRootfs
    memory: str | int | None
    pids: int | None
    timeout: float | None
    network: bool | str
    env: Mapping[str, str] | None
    mounts: Sequence[Mount]
    writable_shm: bool


@attrs.frozen
class _Options:
    image: str | Image | OverlayRootfs
    memory: str | int | None
    pids: int | None
    timeout: float | None
    network: bool | str
    env: Mapping[str, str]
    mounts: tuple[Mount, ...]
    writable_shm: bool


class Sandbox:
    """Runs commands and callables in throwaway containers; keeps a record of each run.

    The keywords given here are the defaults of every :meth:`run`; each run may override
    them. ``image`` is ``"host"`` (a read-only view of the host's system directories), an
    image reference, an :class:`~pycontainers.Image` or a rootfs directory (mounted
    read-only). ``memory`` (``"256m"``) and ``pids`` cap the sandbox (None: no cap),
    ``timeout`` kills it (seconds, None: none), ``network`` is False (``"none"``: only
    ``lo``), True (``"bridge"``) or any :func:`pycontainers.run` network. ``env`` adds
    variables, ``mounts`` adds :class:`~pycontainers.Mount` s, ``writable_shm`` makes
    /dev/shm writable (Python's multiprocessing needs it).
    """

    def __init__(
        self,
        *,
        image: str | Image | OverlayRootfs = "host",
        memory: str | int | None = DEFAULT_MEMORY,
        pids: int | None = DEFAULT_PIDS,
        timeout: float | None = DEFAULT_TIMEOUT,
        network: bool | str = False,
        env: Mapping[str, str] | None = None,
        mounts: Sequence[Mount] = (),
        writable_shm: bool = False,
    ) -> None:
        self._defaults = _Options(
            image, memory, pids, timeout, network, dict(env or {}), tuple(mounts), writable_shm
        )
        self.records: list[SandboxRecord] = []

    @overload
    def run(
        self, target: str | Sequence[str], /, *args: str, **options: Unpack[SandboxOptions]
    ) -> SandboxResult: ...

    @overload
    def run(
        self, target: Callable[..., T], /, *args: Any, **options: Unpack[SandboxOptions]
    ) -> T: ...

    def run(self, target: Any, /, *args: Any, **options: Unpack[SandboxOptions]) -> Any:
        """Run ``target`` in a new sandbox; options (:class:`SandboxOptions`) as for
        :class:`Sandbox`: ``image``, ``memory``, ``pids``, ``timeout``, ``network``,
        ``env``, ``mounts``, ``writable_shm``.

        A command (an argv, or a string for ``/bin/sh -c``; ``args`` are appended to an
        argv) returns a :class:`SandboxResult` whatever its exit status. A callable is
        called with ``args`` (use :meth:`call` to pass keyword arguments) and its return
        value is returned; an exception it raises is raised here, with the traceback from
        inside the sandbox as its ``__cause__``. Raises :class:`SandboxMemoryError` when
        the memory cap killed it, :class:`SandboxTimeout` after ``timeout``.
        """
        opts = self._options(options)
        if callable(target):
            return self._call(opts, target, args, {})
        if isinstance(target, str):
            if args:
                raise TypeError("a shell command string takes no extra arguments")
            argv: tuple[str, ...] = ("/bin/sh", "-c", target)
        else:
            argv = (*(str(a) for a in target), *(str(a) for a in args))
        if not argv:
            raise TypeError("an empty command")
        what = f"sandboxed command {list(argv)!r}"
        result = self._container(opts, argv, None, what)
        self._record(what, f"exit status {result.returncode}", result.stdout, result.stderr)
        return SandboxResult(argv, result.returncode, result.stdout, result.stderr)

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call ``fn(*args, **kwargs)`` in a sandbox with the default options; return its value."""
        return self._call(self._defaults, fn, args, kwargs)

    # -- internals --------------------------------------------------------------------

    def _options(self, options: Mapping[str, Any]) -> _Options:
        unknown = set(options) - set(attrs.fields_dict(_Options))
        if unknown:
            raise TypeError(f"unknown sandbox options {sorted(unknown)}")
        merged = dict(options)
        if "env" in merged:
            merged["env"] = {**self._defaults.env, **dict(merged["env"] or {})}
        if "mounts" in merged:
            merged["mounts"] = (*self._defaults.mounts, *merged["mounts"])
        return attrs.evolve(self._defaults, **merged)

    def _record(self, what: str, outcome: str, stdout: bytes, stderr: bytes) -> None:
        self.records.append(SandboxRecord(what, outcome, stdout, stderr))

    def _call(
        self, opts: _Options, fn: Callable[..., T], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> T:
        what = f"sandboxed callable {getattr(fn, '__qualname__', None) or repr(fn)}"
        marker = b"\n--pycontainers-sandbox-" + os.urandom(16).hex().encode() + b"--"
        envelope = {
            "path": _sys_path(),
            "call": _dumps_call(fn, args, dict(kwargs)),
            "marker": marker,
        }
        extra = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        opts = attrs.evolve(
            opts,
            env={**extra, **opts.env},
            mounts=(*_python_mounts(opts.image == "host", opts.mounts), *opts.mounts),
        )
        argv = (sys.executable, "-c", _RUNNER)
        data = pickle.dumps(envelope, pickle.HIGHEST_PROTOCOL)
        result = self._container(opts, argv, data, what)
        out, answer = _split_answer(result.stdout, marker)
        if answer is None:
            status = _status(result.returncode)
            self._record(what, f"{status}, no result", out, result.stderr)
            tail = result.stderr.decode(errors="replace")[-_TAIL:].rstrip()
            detail = f"; its stderr ends with:\n{tail}" if tail else ""
            raise SandboxError(
                f"{what} ended ({status}) without a result{detail}", out, result.stderr
            )
        try:
            value: T = _decode(answer, what, out, result.stderr)
        except BaseException as exc:
            self._record(what, f"raised {type(exc).__name__}", out, result.stderr)
            raise
        self._record(what, "returned", out, result.stderr)
        return value

    def _container(
        self, opts: _Options, argv: tuple[str, ...], input: bytes | None, what: str
    ) -> CompletedContainer:
        from pycontainers.errors import ContainerTimeout
        from pycontainers.runtime.run import run
        from pycontainers.spec import Mount, SecurityOptions

        mounts = list(opts.mounts)
        ro_dev = ("/dev",) if opts.writable_shm else ("/dev", "/dev/shm", "/dev/mqueue")
        base = SecurityOptions()
        kwargs: SpecOptions = {
            "network": "bridge" if opts.network is True else opts.network or "none",
            "mounts": mounts,
            "env": {"PATH": _PATH, "HOME": "/tmp", "LANG": "C.UTF-8", **opts.env},
            "cwd": "/tmp",
            "security": SecurityOptions(readonly_paths=(*base.readonly_paths, *ro_dev)),
        }
        if opts.memory is not None:
            kwargs["memory"] = opts.memory
        if opts.pids is not None:
            kwargs["pids_limit"] = opts.pids
        if opts.image != "host":  # the host image has its own tmpfs /tmp, and a read-only /
            kwargs["readonly_rootfs"] = True
            mounts.insert(0, Mount("/tmp", type="tmpfs", options=("nosuid", "nodev", "mode=1777")))
        try:
            result = run(
                opts.image, list(argv), capture_output=True, input=input, timeout=opts.timeout,
                **kwargs,
            )  # fmt: skip
        except ContainerTimeout as exc:
            out, err = exc.stdout or b"", exc.stderr or b""
            self._record(what, f"killed after timeout={opts.timeout} s", out, err)
            assert opts.timeout is not None
            raise SandboxTimeout(what, opts.timeout, out, err) from None
        if result.oom_killed:
            self._record(
                what, f"OOM-killed at memory={opts.memory!r}", result.stdout, result.stderr
            )
            raise SandboxMemoryError(what, opts.memory or "?", result.stdout, result.stderr)
        return result

    def __repr__(self) -> str:
        d = self._defaults
        return f"<Sandbox image={d.image!r} memory={d.memory!r} pids={d.pids} runs={len(self.records)}>"


def _status(code: int) -> str:
    return f"killed by signal {code - 128}" if code > 128 else f"exit status {code}"


def _split_answer(stdout: bytes, marker: bytes) -> tuple[bytes, bytes | None]:
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


def _decode(answer: bytes, what: str, out: bytes, err: bytes) -> Any:
    """The callable's value, or its exception raised with the sandbox's traceback."""
    try:
        loaded = pickle.loads(answer)
    except Exception as exc:
        raise SandboxError(f"{what}: cannot load its answer: {exc!r}", out, err) from exc
    if loaded[0] == "ok":
        return loaded[1]
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


def _dumps_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
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


def _sys_path() -> list[str]:
    cwd = os.getcwd()
    return [p if os.path.isabs(p) else os.path.join(cwd, p) for p in sys.path]


def _python_mounts(host_image: bool, user: Sequence[Mount]) -> list[Mount]:
    """Read-only binds that make this interpreter and ``sys.path`` work in the sandbox."""
    from pycontainers.namespaces._run import _package_root
    from pycontainers.spec import Mount

    wanted = [sys.base_prefix, sys.prefix, os.path.dirname(sys.executable), _package_root()]
    wanted += [p for p in _sys_path() if os.path.exists(p)]
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
