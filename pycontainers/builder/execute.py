"""RUN: the command runs in a container made from the stage's layers through the engine's
public :func:`pycontainers.run` (so it gets its security from the one fail-closed path),
with ``--mount`` (cache, bind, tmpfs, secret) and ``--network``; its changes become a layer.

``--network=default`` is the host's network namespace, as ``buildkitd``'s OCI worker without
CNI has it (the step still gets its own pid, mount, ipc and uts namespaces, the default
capabilities and seccomp filter); ``none`` gives it a network namespace with only ``lo``.
Mount points the engine makes for a step (``/proc``, ``/etc/hosts``, mount targets) are
removed from the layer when no lower layer had them.
"""

from __future__ import annotations

import hashlib
import os
import select
import shutil
import threading
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from pycontainers.builder.parse import Instruction
from pycontainers.builder.rootfs import lowers_for, mounted
from pycontainers.builder.state import StageState, step_key
from pycontainers.builder.steps import DEFAULT_SHELL, fail
from pycontainers.errors import BuildCancelled, BuildError, ContainerStartError, SpecError

if TYPE_CHECKING:
    from pycontainers.builder.progress import Step
    from pycontainers.builder.stages import Builder
    from pycontainers.images.descriptor import Descriptor
    from pycontainers.images.digest import Digest
    from pycontainers.spec import Mount, OverlayRootfs

__all__ = ["RunMount", "parse_mount", "run_instruction"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ENGINE_MOUNTPOINTS = ("/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf")
_NETWORKS = {"default": "host", "host": "host", "none": "none"}


@attrs.frozen
class RunMount:
    """One ``--mount`` of a RUN: its type, target and options (``id``, ``source``...)."""

    type: str
    target: str
    options: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """The value of option ``key``."""
        return dict(self.options).get(key, default)

    def flag(self, key: str) -> bool:
        """A boolean option (``ro``, ``required``...)."""
        value = dict(self.options).get(key)
        return value is not None and value.lower() in ("", "true", "1")


_ALIASES = {"dst": "target", "destination": "target", "src": "source", "readonly": "ro"}
_KNOWN = {
    "cache": {"target", "id", "sharing", "mode", "uid", "gid", "ro", "from", "source"},
    "bind": {"target", "source", "from", "ro", "rw"},
    "tmpfs": {"target", "size"},
    "secret": {"target", "id", "required", "mode", "uid", "gid", "env"},
}


def parse_mount(text: str) -> RunMount:
    """``type=cache,target=/root/.cache,id=x`` as a :class:`RunMount` (SpecError if bad)."""
    kind = "bind"
    target = ""
    opts: list[tuple[str, str]] = []
    for field in text.split(","):
        key, eq, value = field.strip().partition("=")
        key = _ALIASES.get(key.lower(), key.lower())
        if not key:
            continue
        if key == "type":
            kind = value
        elif key == "target":
            target = value
        else:
            opts.append((key, value if eq else ""))
    if kind not in _KNOWN:
        raise SpecError("--mount", f"unsupported mount type {kind!r} (cache, bind, tmpfs, secret)")
    for key, _ in opts:
        if key not in _KNOWN[kind]:
            raise SpecError("--mount", f"unknown option {key!r} for type={kind}")
    if kind == "secret":
        ident = dict(opts).get("id") or os.path.basename(target)
        if not ident:
            raise SpecError("--mount", "a secret needs id= or target=")
        target = target or f"/run/secrets/{ident}"
        opts = [(k, v) for k, v in opts if k != "id"] + [("id", ident)]
    if not target.startswith("/"):
        raise SpecError("--mount", f"target must be an absolute path, got {target!r}")
    return RunMount(kind, os.path.normpath(target), tuple(opts))


def _argv(b: Builder, inst: Instruction, state: StageState) -> list[str]:
    shell = list(state.config.get("Shell") or DEFAULT_SHELL)
    if inst.json:
        return list(inst.args)
    text = " ".join(inst.args)
    docs = inst.heredocs
    alone = len(docs) == 1 and text.strip().lstrip("<-").strip("'\"") == docs[0].name
    if alone:  # RUN <<EOF ... EOF: the body is the script
        body = docs[0].content
        if body.startswith("#!"):
            interp = body.splitlines()[0][2:].split()
            return [*interp, "-c", body] if interp else [*shell, body]
        return [*shell, body]
    for doc in docs:
        text += f"\n{doc.content}{doc.name}"
    return [*shell, text]


def _arg_env(state: StageState) -> dict[str, str]:
    env = state.env
    return {k: v for k, v in sorted(state.args.items()) if k not in env}


def run_instruction(b: Builder, inst: Instruction, state: StageState, step: Step) -> None:
    """Execute (or find in the cache) one RUN and put its layer on ``state``."""
    argv = _argv(b, inst, state)
    try:
        mounts = [parse_mount(m) for m in inst.flag_values("mount")]
    except SpecError as exc:
        raise fail(b, inst, f"RUN {exc}") from None
    network = inst.flag("network", "default") or "default"
    if network not in _NETWORKS:
        raise fail(b, inst, f"RUN --network={network}: expected default, none or host")
    if inst.flag("security") not in (None, "sandbox"):
        raise fail(b, inst, "RUN --security=insecure is not allowed")
    args = _arg_env(state)
    b.used_args.update(args)
    shown_mounts = [(m.type, m.target, sorted((k, v) for k, v in m.options if k != "env"))
                    for m in mounts]  # fmt: skip
    key = step_key(state.key, "RUN", argv, args, shown_mounts, network)
    state.key = key
    prefix = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in args.items()) + " " if args else ""
    created_by = f"RUN {prefix}{' '.join(argv)} # buildkit"
    if b.reuse(state, key, created_by, step):
        return
    layers = lowers_for(b.store, state.layers, b.workspace)
    upper, work = b.workspace.layer_dirs()
    try:
        specs, extra_targets = _mounts(b, inst, state, mounts)
        cwd = state.config.get("WorkingDir") or "/"
        _ensure_dir(layers, upper, work, cwd)
        env = {**args, **state.env}
        env.setdefault("PATH", DEFAULT_PATH)
        code, tail = _execute(b, inst, layers, upper, work, argv, env, cwd, state, specs,
                              _NETWORKS[network], step)  # fmt: skip
        if code != 0:
            shown = " ".join(argv[len(DEFAULT_SHELL) :] if argv[:2] == DEFAULT_SHELL else argv)
            raise fail(b, inst, f"RUN {shown[:200]}: exit code {code}" +
                       ("\n" + "\n".join(tail) if tail else ""))  # fmt: skip
        _prune_mountpoints(upper, layers, [*_ENGINE_MOUNTPOINTS, *extra_targets])
        b.commit_layer(state, key, created_by, upper)
    finally:
        b.workspace.release(upper)


def _ensure_dir(lowers: list[str], upper: str, work: str, path: str) -> None:
    if path == "/" or any(os.path.isdir(os.path.join(lo, path.lstrip("/"))) for lo in lowers):
        return
    from pycontainers.builder.rootfs import mkdirs_in_root

    with mounted(lowers, upper, work) as root:
        os.close(mkdirs_in_root(root, path))


def _mounts(b: Builder, inst: Instruction, state: StageState,
            mounts: list[RunMount]) -> tuple[list[Mount], list[str]]:  # fmt: skip
    from pycontainers.spec import Mount

    out: list[Mount] = []
    targets: list[str] = []
    for m in mounts:
        targets.append(m.target)
        if m.type == "cache":
            ident = m.get("id") or m.target
            host = b.cache_mount_dir(ident, mode=int(m.get("mode", "755"), 8),
                                     uid=int(m.get("uid", "0")), gid=int(m.get("gid", "0")))  # fmt: skip
            out.append(Mount(m.target, str(host), "bind", read_only=m.flag("ro")))
        elif m.type == "tmpfs":
            size = m.get("size")
            out.append(Mount(m.target, None, "tmpfs", options=(f"size={size}",) if size else ()))
        elif m.type == "secret":
            ident = m.get("id")
            source = b.secrets.get(ident)
            if source is None:
                if m.flag("required"):
                    raise fail(b, inst, f"RUN --mount=type=secret: secret {ident!r} not given "
                               "(--secret id=...,src=...)")  # fmt: skip
                continue
            out.append(Mount(m.target, os.path.abspath(source), "bind", read_only=True))
        else:  # bind
            source = _bind_source(b, inst, state, m)
            out.append(Mount(m.target, source, "bind", read_only=not m.flag("rw")))
    return out, targets


def _bind_source(b: Builder, inst: Instruction, state: StageState, m: RunMount) -> str:
    src = m.get("source") or "/"
    origin = m.get("from")
    if not origin:
        rel = b.context.resolve(b.context.clean(src, line=inst.line), line=inst.line)
        path = str(b.context.path(rel))
        if not os.path.exists(path):
            raise fail(b, inst, f"RUN --mount: {src}: not found in the build context")
        if m.flag("rw"):  # writes go to a copy, never to the context
            copy = b.workspace.dir / f"bind-{os.urandom(8).hex()}"  # this step's own
            if os.path.isdir(path):
                shutil.copytree(path, copy, symlinks=True, dirs_exist_ok=True)
            else:
                shutil.copy2(path, copy)
            return str(copy)
        return path
    layers = b.source_layers(inst, origin)
    copy = b.workspace.dir / f"from-{hashlib.sha256((origin + src).encode()).hexdigest()[:12]}"
    with b.lock:  # one copy, made once, for steps of concurrent stages
        if not copy.exists():
            _copy_from(b, inst, layers, origin, src, copy)
    return str(copy)


def _copy_from(b: Builder, inst: Instruction, layers: list[tuple[Descriptor, Digest]],
               origin: str, src: str, copy: Path) -> None:  # fmt: skip
    from pycontainers import _fsapi

    with mounted(lowers_for(b.store, layers, b.workspace)) as root:
        try:
            fd = _fsapi.open_in_root(root, src, os.O_PATH | os.O_CLOEXEC)
        except OSError as exc:
            raise fail(b, inst, f"RUN --mount from={origin}: {src}: {exc.strerror}") from None
        try:
            where = f"/proc/self/fd/{fd}"
            if os.path.isdir(where):
                shutil.copytree(where, copy, symlinks=True)
            else:
                shutil.copy2(where, copy)
        finally:
            os.close(fd)


def _execute(b: Builder, inst: Instruction, lowers: list[str], upper: str, work: str,
             argv: list[str], env: dict[str, str], cwd: str, state: StageState,
             mounts: list[Mount], network: str, step: Step) -> tuple[int, list[str]]:  # fmt: skip
    from pycontainers.spec import OverlayRootfs

    tail: deque[str] = deque(maxlen=20)
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)

    def pump() -> None:
        partial = b""
        while chunk := os.read(read_fd, 65536):
            step.output(chunk)
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            tail.extend(line.decode("utf-8", "replace") for line in lines)
        if partial:
            tail.append(partial.decode("utf-8", "replace"))

    reader = threading.Thread(target=pump, name="build-run-output", daemon=True)
    reader.start()
    user = state.config.get("User") or None
    try:
        code = _run_step(b, OverlayRootfs(tuple(lowers), upper, work), argv, env=env, cwd=cwd,
                         user=user, mounts=mounts, network=network, output=write_fd)  # fmt: skip
    except ContainerStartError as exc:
        raise fail(b, inst, f"RUN: {exc}") from None
    except SpecError as exc:
        raise fail(b, inst, f"RUN: {exc}") from None
    finally:
        os.close(write_fd)
        reader.join()
        os.close(read_fd)
        step.flush()
    return code, list(tail)


def _run_step(b: Builder, rootfs: OverlayRootfs, argv: list[str], *, env: dict[str, str],
              cwd: str, user: str | None, mounts: list[Mount], network: str,
              output: int) -> int:  # fmt: skip
    """What :func:`pycontainers.run` does for one container (the same spec, the same
    :class:`~pycontainers.runtime.launch.Launch`), except that the wait also ends when the
    build is cancelled (another stage failed, or SIGINT): then the container is killed,
    its cgroup removed, and :class:`BuildCancelled` raised.
    """
    from pycontainers import _sys
    from pycontainers.builder.stages import SIGNAL_CHECK
    from pycontainers.runtime.launch import Launch
    from pycontainers.runtime.run import host_mountpoint, make_spec, needs_mountpoint
    from pycontainers.runtime.stdio import DEVNULL, Stdio

    spec = make_spec(rootfs, argv, env=env, cwd=cwd, user=user, mounts=mounts,
                     network=network, hostname="buildkitsandbox")  # fmt: skip
    b.check_cancelled()
    stdio = Stdio(DEVNULL, output, output)
    try:
        mnt = host_mountpoint() if needs_mountpoint(spec) else None
        launch = Launch(
            spec, stdio, host_mountpoint=mnt, start_fifo=None, cgroup_name=os.urandom(8).hex()
        )
        try:
            poller = select.poll()
            poller.register(launch.pidfd, select.POLLIN)
            poller.register(b.cancel_fd, select.POLLIN)
            # with a timeout: in the main thread (a one-stage build) SIGINT delivered to
            # another thread is raised only once this loop runs Python again
            while not any(fd == launch.pidfd for fd, _ in poller.poll(SIGNAL_CHECK * 1000)):
                if b.cancelled:
                    raise BuildCancelled()
            code = _sys.reap(launch.pidfd)
        except BaseException:
            if launch.pidfd >= 0:
                launch.abort()
            raise
        finally:
            launch.remove_cgroup()
            launch.remove_layer()
            launch.remove_network()
        launch.close()
    finally:
        stdio.close_all()
    return code


def _prune_mountpoints(upper: str, lowers: list[str], targets: list[str]) -> None:
    """Remove what the engine made in the upper only to mount on (empty dirs and files
    that no lower has), so mount points never become part of a layer.
    """
    for target in sorted(set(targets), key=lambda t: -t.count("/")):
        path = target
        while path not in ("/", ""):
            rel = path.lstrip("/")
            if any(os.path.lexists(os.path.join(lo, rel)) for lo in lowers):
                break
            host = Path(upper) / rel
            try:
                if host.is_dir() and not host.is_symlink():
                    host.rmdir()  # only if empty
                elif host.is_file() and host.stat().st_size == 0:
                    host.unlink()
                else:
                    break
            except OSError:
                break
            path = os.path.dirname(path)


def check_run(b: Builder, inst: Instruction) -> None:
    """Validate a RUN's flags before anything is built (BuildError naming the line)."""
    for m in inst.flag_values("mount"):
        try:
            parse_mount(m)
        except SpecError as exc:
            raise BuildError(f"RUN {exc}", dockerfile=b.dockerfile.path, line=inst.line) from None
