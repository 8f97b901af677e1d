"""Published ports: ``PortMapping``, parsing of docker-py's and Docker's forms, host-port leases.

``parse_ports`` turns what a user writes (``{"80/tcp": 8080}``, ``"127.0.0.1:8080:80"``,
``"8000-8002:80-82/udp"``...) into one :class:`PortMapping` per port. A
:class:`PortAllocator` leases host ports to owners (containers) in one JSON file under an
exclusive ``flock``, resolves random host ports from the ephemeral range and refuses a port
that another owner leases or that a host process has bound. The netfilter rules that make a
mapping work live in :mod:`pycontainers.network.nft`.
"""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pycontainers._files import locked, write_atomic
from pycontainers._log import get_logger
from pycontainers.errors import PortError as PortError
from pycontainers.errors import PortInUse as PortInUse
from pycontainers.errors import PortLeasesCorrupt as PortLeasesCorrupt
from pycontainers.errors import SpecError
from pycontainers.network._portmap import PortMapping, check_unique, parse_ports

log = get_logger("pycontainers.network")

_FORMAT = 1
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")


# -- leases ---------------------------------------------------------------------------------


def check_owner(owner: str) -> str:
    """Return ``owner`` if it is a valid lease/rule owner (``[A-Za-z0-9_.:@-]``, 1-100)."""
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise SpecError("owner", f"{owner!r} is not a valid owner ([A-Za-z0-9_.:@-], 1-100)")
    return owner


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral port range of the calling thread's netns (random host ports)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return 32768, 60999
    return low, high


def _socket_holder(protocol: str, port: int) -> str:
    """Best effort: which process of this netns has a socket bound to ``port``."""
    inodes: set[str] = set()
    for table in (protocol, protocol + "6"):
        try:
            with open(f"/proc/thread-self/net/{table}") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    inodes.discard("socket:[0]")
    if inodes:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                    with open(f"/proc/{pid}/comm") as f:
                        return f"a process on the host holds it (pid {pid}, {f.read().strip()})"
            except OSError:
                continue
    return "a process on the host holds it"


def _try_bind(m: PortMapping, port: int) -> OSError | None:
    """Bind a socket of ``m``'s protocol on its address and ``port`` (no SO_REUSEADDR)."""
    import socket  # here: releasing leases (every container's removal) needs none of it

    kind = socket.SOCK_STREAM if m.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        try:
            s.bind((m.host_ip or "0.0.0.0", port))
        except OSError as exc:
            return exc
    return None


def _bind_error(m: PortMapping, port: int, exc: OSError) -> PortError:
    address = m.host_ip or "0.0.0.0"
    if exc.errno == errno.EADDRINUSE:
        return PortInUse(address, port, m.protocol, _socket_holder(m.protocol, port))
    if exc.errno == errno.EADDRNOTAVAIL:
        return PortError(f"cannot publish on {address}: it is not an address of this host")
    return PortError(f"cannot bind {address}:{port}/{m.protocol} to test it: {exc.strerror}")


def _load(path: str) -> dict[str, tuple[PortMapping, ...]]:
    try:
        with open(path, "rb") as f:
            doc: Any = json.loads(f.read())
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise PortLeasesCorrupt(path, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != _FORMAT:
        raise PortLeasesCorrupt(path, f"expected an object of format version {_FORMAT}")
    raw = doc.get("leases")
    if not isinstance(raw, dict):
        raise PortLeasesCorrupt(path, "missing or wrong 'leases'")
    leases: dict[str, tuple[PortMapping, ...]] = {}
    taken: list[tuple[str, PortMapping]] = []
    for owner, items in raw.items():
        try:
            check_owner(owner)
            if not isinstance(items, list):
                raise SpecError("ports", f"expected a list, got {items!r}")
            maps = tuple(PortMapping(**item) for item in items)
        except (SpecError, TypeError) as exc:
            raise PortLeasesCorrupt(path, f"bad lease of {owner!r}: {exc}") from None
        for m in maps:
            if m.host_port == 0:
                raise PortLeasesCorrupt(path, f"lease {m} of {owner!r} has no host port")
            clash = next((o for o, t in taken if t.clashes(m)), None)
            if clash is not None:
                raise PortLeasesCorrupt(path, f"{m} is leased twice ({clash!r}, {owner!r})")
            taken.append((owner, m))
        leases[owner] = maps
    return leases


def _dump(leases: Mapping[str, Sequence[PortMapping]]) -> bytes:
    doc = {
        "version": _FORMAT,
        "leases": {o: [attrs.asdict(m) for m in ms] for o, ms in sorted(leases.items()) if ms},
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


class PortAllocator:
    """Host-port leases of owners (containers), kept in ``<state_dir>/ports.json``.

    Safe across threads and processes: every operation holds an exclusive ``flock`` on
    ``<state_dir>/ports.lock`` and every write is atomic. Bind tests run in the calling
    thread's network namespace, which must be the one the ports are published in.
    """

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self._dir = os.path.abspath(os.fspath(state_dir))
        os.makedirs(self._dir, mode=0o700, exist_ok=True)
        self._path = os.path.join(self._dir, "ports.json")
        self._lock = os.path.join(self._dir, "ports.lock")

    @property
    def path(self) -> str:
        """The lease file."""
        return self._path

    def reserve(self, owner: str, mappings: Any) -> tuple[PortMapping, ...]:
        """Lease the host ports of ``mappings`` to ``owner``; return them with ports resolved.

        ``mappings`` is anything :func:`parse_ports` accepts. Host port 0 becomes a free
        port of the ephemeral range. The result replaces any earlier leases of ``owner``.
        Raises :class:`PortInUse` if a port is leased to another owner or cannot be bound
        on the host; then nothing is leased (earlier leases of ``owner`` stay as they were).
        """
        check_owner(owner)
        wanted = parse_ports(mappings)
        with locked(self._lock):
            leases = _load(self._path)
            taken = [(o, m) for o, ms in leases.items() if o != owner for m in ms]
            resolved: list[PortMapping | None] = [None] * len(wanted)
            for i, m in enumerate(wanted):
                if m.host_port:
                    clash = next(((o, t) for o, t in taken if t.clashes(m)), None)
                    if clash is not None:
                        address = m.host_ip or "0.0.0.0"
                        holder = f"leased to {clash[0]!r} ({clash[1]})"
                        raise PortInUse(address, m.host_port, m.protocol, holder)
                    error = _try_bind(m, m.host_port)
                    if error is not None:
                        raise _bind_error(m, m.host_port, error)
                    resolved[i] = m
            fixed = [(owner, m) for m in resolved if m is not None]
            for i, m in enumerate(wanted):
                if not m.host_port:
                    picked = self._pick(m, taken + fixed)
                    resolved[i] = picked
                    fixed.append((owner, picked))
            result = tuple(m for m in resolved if m is not None)
            if result:
                leases[owner] = result
            else:
                leases.pop(owner, None)
            write_atomic(self._path, _dump(leases))
        log.info("ports.reserved", owner=owner, ports=[str(m) for m in result])
        return result

    @staticmethod
    def _pick(m: PortMapping, taken: list[tuple[str, PortMapping]]) -> PortMapping:
        import random

        low, high = ephemeral_range()
        count = high - low + 1
        start = random.randrange(count)
        for step in range(count):
            candidate = attrs.evolve(m, host_port=low + (start + step) % count)
            if any(t.clashes(candidate) for _, t in taken):
                continue
            if _try_bind(candidate, candidate.host_port) is None:
                return candidate
        raise PortError(
            f"no free host port for {m} in the ephemeral range {low}-{high} "
            "(/proc/sys/net/ipv4/ip_local_port_range)"
        )

    def release(self, owner: str) -> bool:
        """Drop every lease of ``owner``; False if it held none."""
        with locked(self._lock):
            leases = _load(self._path)
            if leases.pop(owner, None) is None:
                return False
            write_atomic(self._path, _dump(leases))
        log.info("ports.released", owner=owner)
        return True

    def leases(self) -> dict[str, tuple[PortMapping, ...]]:
        """Every owner and the host ports it leases."""
        with locked(self._lock):
            return _load(self._path)

    def owners(self) -> set[str]:
        """The owners that hold leases (for garbage collection)."""
        return set(self.leases())


__all__ = [
    "PortAllocator",
    "PortError",
    "PortInUse",
    "PortLeasesCorrupt",
    "PortMapping",
    "check_owner",
    "check_unique",
    "ephemeral_range",
    "parse_ports",
]
