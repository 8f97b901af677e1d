"""``Sandbox``: run a command or a Python callable in a throwaway container.

A sandbox is isolated from the host: its own network namespace with only ``lo`` (no
network), a memory and a pids cap (its own cgroup), a read-only view of the host (the
built-in ``host`` image: the host's /usr, /bin, /lib*) or of a given image, and a fresh
writable ``/tmp`` (a tmpfs) — the only writable place: / and /dev are read-only.

Callables run **warm** by default: a zygote (a separate interpreter in a confined
container of its own, see :mod:`pycontainers.runtime.zygote`) has imported ``preload``
once and forks each call into fresh pid, mnt, uts, ipc, net and cgroup namespaces, a fresh
/tmp and a cgroup with the call's limits, with the capabilities, no_new_privs and seccomp
filter a cold sandbox's container gets. ``warm=False`` (or a network other than none)
runs each call **cold**: a fresh interpreter (the host's ``sys.executable``, with the
directories of ``sys.path`` bound read-only at the same paths) in a new container. Either
way the call travels pickled (cloudpickle, so lambdas and closures work) and module
globals a call changes never reach the next one. Commands always run cold.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypedDict, TypeVar, overload

import attrs

from pycontainers.errors import RemoteTraceback as RemoteTraceback
from pycontainers.errors import SandboxError as SandboxError
from pycontainers.errors import SandboxMemoryError as SandboxMemoryError
from pycontainers.errors import SandboxResultError as SandboxResultError
from pycontainers.errors import SandboxTimeout as SandboxTimeout
from pycontainers.testing import _calls

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.images.image import Image
    from pycontainers.runtime.options import SpecOptions
    from pycontainers.runtime.run import CompletedContainer
    from pycontainers.spec import ContainerSpec, Mount, OverlayRootfs
    from pycontainers.testing.warm import WarmOutcome, WarmPool

T = TypeVar("T")
P = ParamSpec("P")

DEFAULT_MEMORY = "256m"
DEFAULT_PIDS = 128
DEFAULT_TIMEOUT = 60.0
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TAIL = 4000
_CALL_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


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


class SandboxKeywords(SandboxOptions, total=False):
    """Every keyword of :class:`Sandbox`: :class:`SandboxOptions` plus ``preload``,
    ``warm``, ``workers`` and ``pool``.
    """

    preload: Sequence[str]
    warm: bool
    workers: int | None
    pool: WarmPool | None


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
    read-only). ``memory`` (``"256m"``) and ``pids`` cap each call (None: no cap),
    ``timeout`` kills it (seconds, None: none), ``network`` is False (``"none"``: only
    ``lo``), True (``"bridge"``) or any :func:`pycontainers.run` network. ``env`` adds
    variables, ``mounts`` adds :class:`~pycontainers.Mount` s, ``writable_shm`` makes
    /dev/shm writable (Python's multiprocessing needs it).

    ``warm`` (default) runs callables in forks of a zygote that imported ``preload``
    (module names) once; ``warm=False`` starts a fresh interpreter per call. ``workers``
    bounds :meth:`map`'s parallel calls (default: the number of CPUs). ``pool`` shares the
    zygotes of a :class:`~pycontainers.testing.warm.WarmPool` (its ``preload`` wins) with
    other sandboxes, as the pytest fixture does for a session. :meth:`close` (or
    leaving a ``with`` block) stops the zygotes and removes their cgroups; an unclosed
    sandbox does so when it is garbage-collected or at exit.
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
        preload: Sequence[str] = (),
        warm: bool = True,
        workers: int | None = None,
        pool: WarmPool | None = None,
    ) -> None:
        if isinstance(preload, str):
            raise TypeError("preload: a list of module names, not one string")
        if workers is not None and workers < 1:
            raise ValueError(f"workers: at least 1, got {workers}")
        self._defaults = _Options(
            image, memory, pids, timeout, network, dict(env or {}), tuple(mounts), writable_shm
        )
        self.preload = tuple(preload)
        self.warm = warm
        self.workers = workers or os.cpu_count() or 1
        self.records: list[SandboxRecord] = []
        self._pool: WarmPool | None = pool
        self._own_pool = pool is None
        self._specs: dict[Hashable, ContainerSpec] = {}
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # -- front ends ---------------------------------------------------------------------

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
        the memory cap killed it, :class:`SandboxTimeout` after ``timeout``,
        :class:`SandboxResultError` for a value that cannot be pickled back and
        :class:`SandboxError` for any other end without a result (a crash).
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

    def map(self, fn: Callable[..., T], /, *iterables: Iterable[Any]) -> list[T]:
        """``[fn(*a) for a in zip(*iterables)]``, each call in a sandbox of its own, up to
        ``workers`` at a time; the values in order. The first call that raised (in order)
        raises here, once every call has ended.
        """
        from concurrent.futures import ThreadPoolExecutor

        calls = list(zip(*iterables, strict=False))
        if not calls:
            return []
        with ThreadPoolExecutor(min(self.workers, len(calls))) as pool:
            futures = [pool.submit(self._call, self._defaults, fn, a, {}) for a in calls]
        return [f.result() for f in futures]

    async def acall(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`call` for ``asyncio``: the event loop keeps running meanwhile."""
        return await asyncio.to_thread(self._call, self._defaults, fn, args, kwargs)

    async def amap(self, fn: Callable[..., T], /, *iterables: Iterable[Any]) -> list[T]:
        """:meth:`map` for ``asyncio``: up to ``workers`` calls at a time; values in order."""
        limit = asyncio.Semaphore(self.workers)

        async def one(args: tuple[Any, ...]) -> T:
            async with limit:
                return await asyncio.to_thread(self._call, self._defaults, fn, args, {})

        calls: list[Awaitable[T]] = [one(a) for a in zip(*iterables, strict=False)]
        return list(await asyncio.gather(*calls))

    def close(self) -> None:
        """Stop this sandbox's zygotes (and calls still running) and remove their cgroups.
        Cold runs still work afterwards; a later warm call starts a new zygote.
        """
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        if self._own_pool:
            self._pool = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        payload = _calls.dumps_call(fn, args, dict(kwargs))
        opts = attrs.evolve(
            opts,
            env={**_CALL_ENV, **opts.env},
            mounts=(*_calls.python_mounts(opts.image == "host", opts.mounts), *opts.mounts),
        )
        if self.warm and opts.network in (False, "none"):
            outcome = self._warm_call(opts, fn, payload)
            out, err = outcome.call.stdout, outcome.call.stderr
            answer = outcome.call.answer
            if answer is None:
                self._no_answer(opts, what, outcome)
        else:
            marker = b"\n--pycontainers-sandbox-" + os.urandom(16).hex().encode() + b"--"
            envelope = {"path": _calls.sys_path(), "call": payload, "marker": marker}
            data = pickle.dumps(envelope, pickle.HIGHEST_PROTOCOL)
            argv = (sys.executable, "-c", _calls.RUNNER)
            result = self._container(opts, argv, data, what)
            out, answer = _calls.split_answer(result.stdout, marker)
            err = result.stderr
            if answer is None:
                status = _calls.status_text(result.returncode)
                self._record(what, f"{status}, no result", out, err)
                raise SandboxError(
                    f"{what} ended ({status}) without a result{_tail(err)}", out, err
                )
        try:
            value: T = _calls.decode(answer, what, out, err)
        except BaseException as exc:
            self._record(what, f"raised {type(exc).__name__}", out, err)
            raise
        self._record(what, "returned", out, err)
        return value

    def _warm_call(self, opts: _Options, fn: Callable[..., Any], payload: bytes) -> WarmOutcome:
        if self._pool is None:
            from pycontainers.testing.warm import WarmPool

            pool = self._pool = WarmPool(self.preload)
            self._finalizer = weakref.finalize(self, pool.close)
            self._own_pool = True
        image, kwargs = _spec_options(opts)
        key: Hashable = (
            image, opts.memory, opts.pids, opts.network, opts.mounts, opts.writable_shm,
            tuple(opts.env.items()),
        )  # fmt: skip
        try:
            hash(key)
        except TypeError:  # an unhashable image: no cache
            key = None
        spec = self._specs.get(key) if key is not None else None
        if spec is None:
            from pycontainers.runtime.run import make_spec

            spec = make_spec(image, [sys.executable], **kwargs)
            if key is not None:
                self._specs[key] = spec
        module = _calls.reference_module(fn)
        return self._pool.call(
            spec,
            writable_shm=opts.writable_shm,
            payload=payload,
            env=spec.process.environ(),
            timeout=opts.timeout,
            modules=(module,) if module else (),
        )

    def _no_answer(self, opts: _Options, what: str, outcome: WarmOutcome) -> NoReturn:
        """Raise the :class:`SandboxError` that says why a warm call gave no answer."""
        call = outcome.call
        out, err = call.stdout, call.stderr
        capped = f"; it hit its pids cap (pids={opts.pids})" if call.pids_capped else ""
        if call.timed_out:
            self._record(what, f"killed after timeout={opts.timeout} s{capped}", out, err)
            assert opts.timeout is not None
            error: SandboxError = SandboxTimeout(what, opts.timeout, out, err)
            if capped:
                error.add_note(capped[2:])
            raise error
        if call.oom_killed:
            self._record(what, f"OOM-killed at memory={opts.memory!r}", out, err)
            raise SandboxMemoryError(what, opts.memory or "?", out, err)
        if call.report is not None:
            from pycontainers.runtime._childsetup import start_error

            reason = f"its confinement failed: {start_error(call.report)}"
        elif call.zygote_error is not None:
            reason = f"its zygote could not start it:\n{call.zygote_error[-_TAIL:]}"
        elif call.zygote_died:
            reason = "its zygote died (it is restarted for the next call)"
            if outcome.zygote_log:
                reason += f"; the zygote's stderr ends with:\n{outcome.zygote_log}"
        else:
            reason = _calls.status_text(call.returncode)
        self._record(what, f"{reason.splitlines()[0]}, no result{capped}", out, err)
        raise SandboxError(
            f"{what} ended ({reason}) without a result{capped}{_tail(err)}", out, err
        )

    def _container(
        self, opts: _Options, argv: tuple[str, ...], input: bytes | None, what: str
    ) -> CompletedContainer:
        from pycontainers.errors import ContainerTimeout
        from pycontainers.runtime.run import run

        image, kwargs = _spec_options(opts)
        try:
            result = run(
                image, list(argv), capture_output=True, input=input, timeout=opts.timeout,
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
        mode = "warm" if self.warm else "cold"
        return (
            f"<Sandbox {mode} image={d.image!r} memory={d.memory!r} pids={d.pids} "
            f"runs={len(self.records)}>"
        )


def _spec_options(opts: _Options) -> tuple[str | Image | OverlayRootfs, SpecOptions]:
    """The image and :func:`pycontainers.run` keywords of a sandbox with ``opts``."""
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
    return opts.image, kwargs


def _tail(err: bytes) -> str:
    tail = err.decode(errors="replace")[-_TAIL:].rstrip()
    return f"; its stderr ends with:\n{tail}" if tail else ""
