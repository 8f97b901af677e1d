"""A detached container's health check, sealed for its monitor: no interpreter per check.

Once per start of the container (when its process has exec'd its command),
:func:`seal_health_entry` computes the process a health
check becomes through exactly what ``exec`` uses — :func:`~pycontainers.runtime.enter.open_entry`
(stored spec, live process, namespaces, user mapping, cgroup) and
:func:`~pycontainers.runtime.exec.exec_plan` (confinement, user, environment) — and writes
it to ``<state dir>/health.entry``. The monitor (``_native/monitor_entry.c``) reads and
verifies the file before every check, checks that it still describes the running
container, and spawns the command with the shim's own C code.

The file::

    pycontainers-health-entry 1           (a line)
    sha256 <hex digest of all that follows>  (a line)
    <key> <length>                        (a line, then <length> bytes and a newline; repeated)

Keys: ``pid`` (the process it was computed for), ``spec_sha256`` (the digest of the
``config.json`` it came from: a changed spec refuses), ``ns`` (``kind nstype join dev ino``
for every namespace kind: join 1 for the container's own, 0 for one shared with the
monitor; both checked by inode), ``cgroup`` (``cgroup.procs`` files), and the plan:
``argv``, ``env``, ``cwd``, ``umask``, ``uid``, ``gid``, ``group``, ``setgroups``, ``caps``
(bounding effective permitted inheritable ambient), ``cap_last``, ``seccomp`` (BPF bytes),
``seccomp_flags``, ``no_new_privs``, ``rlimit`` (``resource soft hard``), ``new_session``.
A file with only ``refuse`` records why the entry could not be computed. The monitor
refuses an unknown version or key, a bad digest, a missing field.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import TYPE_CHECKING

import attrs

from pycontainers import _log
from pycontainers._files import write_atomic
from pycontainers._plan import Plan
from pycontainers.errors import ContainerError
from pycontainers.runtime.enter import JOIN_ORDER
from pycontainers.runtime.plan import CLONE_FLAGS

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container
    from pycontainers.supervision import HealthCheck

ENTRY_NAME = "health.entry"
MAGIC = b"pycontainers-health-entry"
VERSION = 1

_CARRIED = frozenset(
    {"argv", "env", "joins", "cgroup_fds", "ids", "no_setgroups", "cwd", "umask", "fds",
     "new_session", "no_sync", "rlimits", "capabilities", "cap_last", "seccomp_bpf",
     "seccomp_flags", "no_new_privs"}
)  # fmt: skip
"""Plan fields the entry carries (or the monitor sets: the fds); any other must be default."""

log = _log.get_logger("pycontainers.runtime")


def entry_path(state_dir: str) -> str:
    """Where a container's sealed health-check entry lives."""
    return os.path.join(state_dir, ENTRY_NAME)


def seal(records: list[tuple[str, bytes | str | int]], version: int = VERSION) -> bytes:
    """The entry file of ``records`` (key, value), with its header and digest."""
    body = bytearray()
    for key, value in records:
        if isinstance(value, int):
            value = str(value)
        raw = os.fsencode(value) if isinstance(value, str) else value
        body += f"{key} {len(raw)}\n".encode() + raw + b"\n"
    digest = hashlib.sha256(body).hexdigest()
    return MAGIC + f" {version}\nsha256 {digest}\n".encode() + bytes(body)


def records(
    plan: Plan, *, pid: int, spec_sha256: str, ns: list[str], cgroups: list[str]
) -> list[tuple[str, bytes | str | int]]:
    """The records of ``plan`` (an :func:`exec_plan`), refusing a field they cannot carry."""
    for field in attrs.fields(Plan):
        if field.name not in _CARRIED and getattr(plan, field.name) != field.default:
            raise ContainerError(f"health check: the monitor cannot carry plan field {field.name}")
    if plan.argv is None or plan.capabilities is None or plan.ids is None or not plan.no_sync:
        raise ContainerError("health check: an exec plan without command, capabilities or ids")
    uid, gid, groups = plan.ids
    out: list[tuple[str, bytes | str | int]] = [("pid", pid), ("spec_sha256", spec_sha256)]
    out += [("ns", line) for line in ns]
    out += [("cgroup", path) for path in cgroups]
    out += [("argv", a) for a in plan.argv]
    out += [("env", e) for e in plan.env]
    out += [("cwd", plan.cwd or "/"), ("umask", plan.umask), ("uid", uid), ("gid", gid)]
    out += [("group", g) for g in groups]
    out += [("setgroups", 0 if plan.no_setgroups else 1)]
    out += [("caps", " ".join(str(m % 2**64) for m in plan.capabilities))]
    out += [("cap_last", plan.cap_last), ("seccomp", plan.seccomp_bpf or b"")]
    out += [("seccomp_flags", plan.seccomp_flags), ("no_new_privs", int(plan.no_new_privs))]
    out += [("rlimit", f"{r} {s % 2**64} {h % 2**64}") for r, s, h in plan.rlimits]
    out += [("new_session", plan.new_session)]
    return out


def _spec_digest(state_dir: str) -> str:
    from pycontainers.runtime.specfile import SPEC_NAME

    try:
        with open(os.path.join(state_dir, SPEC_NAME), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError as exc:
        raise ContainerError(f"cannot read the container's spec: {exc.strerror}") from None


def compute(container: Container, check: HealthCheck) -> bytes:
    """The sealed entry of ``check`` for the running ``container`` (raises what exec raises)."""
    from pycontainers.runtime.enter import open_entry
    from pycontainers.runtime.exec import exec_plan

    digest = _spec_digest(container.state_dir)
    entry = open_entry(container)
    try:
        # the monitor joins every hierarchy by writing cgroup.procs (no clone into the group)
        plan = attrs.evolve(exec_plan(entry, check.test), cgroup_v2_fd=-1, cgroup_v2_index=-1)
        joined = {nstype: fd for fd, nstype in entry.joins}
        ns = []
        for kind in JOIN_ORDER:
            nstype = CLONE_FLAGS[kind]
            if nstype in joined:
                st, join = os.fstat(joined.pop(nstype)), 1
            elif os.path.exists(f"/proc/self/ns/{kind}"):
                st, join = os.stat(f"/proc/self/ns/{kind}"), 0  # shared with us (and the monitor)
            else:
                continue
            ns.append(f"{kind} {nstype} {join} {st.st_dev} {st.st_ino}")
        if joined:
            raise ContainerError(f"health check: namespaces of unknown kind {sorted(joined)}")
        cgroups = [os.readlink(f"/proc/self/fd/{fd}") for fd in entry.cgroup_fds]
    finally:
        entry.close()
    if _spec_digest(container.state_dir) != digest:
        raise ContainerError("the container's spec changed while its health check was sealed")
    return seal(records(plan, pid=entry.pid, spec_sha256=digest, ns=ns, cgroups=cgroups))


def seal_health_entry(container: Container, check: HealthCheck | None = None) -> None:
    """Write the container's sealed health-check entry, once its process runs its command
    (``check``: the stored spec's when None; nothing to do without a health check). If it
    cannot be computed, a sealed refusal makes every check fail with the reason (the
    container itself runs on).
    """
    path = entry_path(container.state_dir)
    try:
        if check is None:
            from pycontainers.runtime.specfile import load_spec

            check = load_spec(container.state_dir)[1]["detach"].healthcheck
            if check is None:
                return
        _wait_past_exec(container.pid)
        data = compute(container, check)
    except Exception as exc:
        log.warning("container.health_entry_refused", id=container.id, error=str(exc))
        data = seal([("refuse", f"{type(exc).__name__}: {exc}")])
    write_atomic(path, data)


def seal_pending(state_dir: str) -> None:
    """Before a start: a sealed refusal until the new process runs and its entry is sealed."""
    write_atomic(entry_path(state_dir), seal([("refuse", "the container has not started yet")]))


def _wait_past_exec(pid: int, timeout: float = 2.0) -> None:
    """Until the container's process has exec'd its command: before that it is not dumpable,
    and a runtime without CAP_SYS_PTRACE (rootless) cannot open its namespaces yet.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.close(os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC))
            return
        except PermissionError:
            if time.monotonic() > deadline:
                return  # open_entry reports it
            time.sleep(0.002)
        except OSError:
            return  # gone, or no such namespace kind: open_entry reports it


__all__ = [
    "ENTRY_NAME",
    "VERSION",
    "compute",
    "entry_path",
    "records",
    "seal",
    "seal_health_entry",
    "seal_pending",
]
