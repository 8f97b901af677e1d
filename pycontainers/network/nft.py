"""Netfilter rules for bridge networks and published ports, through libnftables (cffi).

Everything lives in one table of our own, ``ip pycontainers``; nothing else on the host is
read or changed, and nothing runs the ``nft`` binary. Layout::

    chain prerouting  nat hook prerouting (dstnat):  fib daddr type local jump published
    chain output      nat hook output (dstnat):      fib daddr type local jump published
    chain postrouting nat hook postrouting (srcnat): jump nat_out
    chain forward     filter hook forward (filter):  ct status dnat accept; jump isolation
    chain input       filter hook input (filter):    drop new traffic from a bridge to 127/8
    chain published     DNAT rules, comment "owner:<owner>"
    chain nat_out        masquerade rules, comment "net:<bridge> <subnet>"
    chain isolation     drops between two of our bridges, comment "net:<bridge> <subnet>"
    set bridges       the bridges of our networks

Every change is one libnftables transaction (all or nothing). Operations work on the network
namespace of the calling thread: each one opens its own libnftables context (and netlink
socket) there. Rules are found by their comment and deleted by handle.

libnftables is called through :mod:`pycontainers.network._nftables`, compiled at build time
(cffi API mode) when the build found libnftables' header; without it, through the same
declarations parsed at run time (cffi ABI mode, some 30 ms more per process).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
import threading
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network
from typing import Any

import attrs

from pycontainers._log import get_logger
from pycontainers.errors import NetfilterError as NetfilterError
from pycontainers.errors import SpecError
from pycontainers.network._nftdecl import CDEF, CONSTANTS
from pycontainers.network.links import check_ifname
from pycontainers.network.ports import PortMapping, check_owner

log = get_logger("pycontainers.network")

LIBRARY = "libnftables.so.1"
DEBIAN_PACKAGE = "libnftables1"
TABLE = "pycontainers"

_BASE = "pc-base"
_OWNER = "owner:"
_NET = "net:"
_RETRIES = 5
_BASE_CHAINS = ("prerouting", "output", "postrouting", "forward", "input")
_REGULAR = ("published", "nat_out", "isolation")
_BASE_RULES = 6
_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
# libnftables keeps some global state; one call at a time per process.
_lock = threading.Lock()


@attrs.frozen
class _Lib:
    """libnftables loaded: the cffi ``ffi`` and ``lib``, and the output flags we use."""

    ffi: Any
    lib: Any
    handle: int
    json: int


def _missing(exc: OSError | ImportError) -> NetfilterError:
    return NetfilterError(
        f"cannot load {LIBRARY} ({exc}); port publishing and bridge networks need "
        f"libnftables: install the Debian package {DEBIAN_PACKAGE}",
        errno=getattr(exc, "errno", None),
        path=LIBRARY,
    )


@functools.cache
def _load() -> _Lib:
    """The compiled module if the build made it, else libnftables in cffi ABI mode."""
    try:
        mod: Any = importlib.import_module("pycontainers.network._nftables")
    except ModuleNotFoundError as exc:
        if exc.name != "pycontainers.network._nftables":
            raise
        return _load_abi()
    except ImportError as exc:  # built, but libnftables.so.1 is not installed
        raise _missing(exc) from None
    lib = mod.lib
    return _Lib(mod.ffi, lib, lib.NFT_CTX_OUTPUT_HANDLE, lib.NFT_CTX_OUTPUT_JSON)


def _load_abi() -> _Lib:
    """Load libnftables in cffi ABI mode: parse the declarations now, open the library."""
    cffi: Any = importlib.import_module("cffi")
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    try:
        lib = ffi.dlopen(LIBRARY)
    except OSError as exc:
        raise _missing(exc) from None
    return _Lib(ffi, lib, CONSTANTS["NFT_CTX_OUTPUT_HANDLE"], CONSTANTS["NFT_CTX_OUTPUT_JSON"])


def run(commands: str, *, json_output: bool = False, what: str = "nftables") -> str:
    """Run ``commands`` (nft syntax, one transaction) in the calling thread's netns.

    Returns libnftables' output (JSON with handles if ``json_output``); raises
    :class:`NetfilterError` with libnftables' error text.
    """
    nft = _load()
    ffi, lib = nft.ffi, nft.lib
    with _lock:
        ctx = lib.nft_ctx_new(0)
        if ctx == ffi.NULL:
            raise NetfilterError(f"{what}: nft_ctx_new failed")
        try:
            lib.nft_ctx_output_set_flags(ctx, nft.json | nft.handle if json_output else 0)
            if lib.nft_ctx_buffer_output(ctx) or lib.nft_ctx_buffer_error(ctx):
                raise NetfilterError(f"{what}: cannot buffer libnftables output")
            rc = lib.nft_run_cmd_from_buffer(ctx, commands.encode())
            out = lib.nft_ctx_get_output_buffer(ctx)
            err = lib.nft_ctx_get_error_buffer(ctx)
            output = ffi.string(out).decode() if out != ffi.NULL else ""
            errors = ffi.string(err).decode() if err != ffi.NULL else ""
        finally:
            lib.nft_ctx_free(ctx)
    if rc != 0:
        raise NetfilterError(f"{what}: {errors.strip() or 'failed'}")
    return output


@attrs.frozen
class _Rule:
    chain: str
    handle: int
    comment: str


@attrs.frozen
class _Snapshot:
    """What our table holds right now (empty if it does not exist)."""

    exists: bool
    chains: frozenset[str]
    rules: tuple[_Rule, ...]
    bridges: frozenset[str] = frozenset()

    def tagged(self, prefix: str) -> list[_Rule]:
        return [r for r in self.rules if r.comment.startswith(prefix)]


def _bridge(name: str) -> str:
    check_ifname(name, "bridge")
    if not _IFNAME.match(name):
        raise SpecError("bridge", f"{name!r}: only [A-Za-z0-9_.-] are allowed in bridge names")
    return name


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as exc:
        raise NetfilterError(
            f"cannot set {path} to {value}: {exc.strerror}", errno=exc.errno, path=path
        ) from None


class Netfilter:
    """Our nftables table: base chains, bridge networks and published ports.

    Stateless: every call reads the kernel's ruleset of the calling thread's netns, so
    any process (and a garbage collector after a crash) sees the same rules.
    """

    def __init__(self, table: str = TABLE) -> None:
        if not table.isidentifier():
            raise SpecError("table", f"{table!r} is not a valid nftables table name")
        self.table = table

    # -- reading ------------------------------------------------------------------------

    def _snapshot(self) -> _Snapshot:
        try:  # one libnftables call when the table is there (nearly always)
            raw = run(f"list table ip {self.table}", json_output=True, what="list table")
        except NetfilterError:  # not there, or unreadable: which one, the list of tables says
            tables = json.loads(run("list tables ip", json_output=True, what="list tables"))
            items = tables.get("nftables", [])
            if self.table not in {i["table"]["name"] for i in items if "table" in i}:
                return _Snapshot(False, frozenset(), ())
            try:
                raw = run(f"list table ip {self.table}", json_output=True, what="list table")
            except NetfilterError:
                return _Snapshot(False, frozenset(), ())  # removed meanwhile
        chains: set[str] = set()
        rules: list[_Rule] = []
        bridges: set[str] = set()
        for item in json.loads(raw).get("nftables", []):
            if "chain" in item:
                chains.add(item["chain"]["name"])
            elif "rule" in item:
                r = item["rule"]
                rules.append(_Rule(r["chain"], int(r["handle"]), str(r.get("comment", ""))))
            elif "set" in item and item["set"].get("name") == "bridges":
                bridges.update(e for e in item["set"].get("elem", []) if isinstance(e, str))
        return _Snapshot(True, frozenset(chains), tuple(rules), frozenset(bridges))

    def owners(self) -> set[str]:
        """The owners that have published ports (for garbage collection)."""
        return {r.comment[len(_OWNER) :] for r in self._snapshot().tagged(_OWNER)}

    def networks(self) -> set[str]:
        """The bridges that have network rules."""
        return {r.comment[len(_NET) :].split(" ")[0] for r in self._snapshot().tagged(_NET)}

    def exists(self) -> bool:
        """Whether our table exists."""
        return self._snapshot().exists

    def rule_count(self) -> int:
        """How many rules our table holds, base rules included (0 without the table)."""
        return len(self._snapshot().rules)

    # -- changing -----------------------------------------------------------------------

    def _base_commands(self) -> list[str]:
        t = f"ip {self.table}"
        c = f'comment "{_BASE}"'
        hooks = [  # chain, type, hook, priority (output has no "dstnat" keyword)
            ("prerouting", "nat", "prerouting", "dstnat"),
            ("output", "nat", "output", "-100"),
            ("postrouting", "nat", "postrouting", "srcnat"),
            ("forward", "filter", "forward", "filter"),
            ("input", "filter", "input", "filter"),
        ]
        return [
            f"add table {t}",
            *(
                f"add chain {t} {name} {{ type {kind} hook {hook} priority {prio}; policy accept; }}"
                for name, kind, hook, prio in hooks
            ),
            *(f"add chain {t} {name}" for name in _REGULAR),
            f"add set {t} bridges {{ type ifname; }}",
            f"flush chain {t} prerouting",
            f"add rule {t} prerouting fib daddr type local jump published {c}",
            f"flush chain {t} output",
            f"add rule {t} output fib daddr type local jump published {c}",
            f"flush chain {t} postrouting",
            f"add rule {t} postrouting jump nat_out {c}",
            f"flush chain {t} forward",
            f"add rule {t} forward ct status dnat accept {c}",
            f"add rule {t} forward jump isolation {c}",
            # route_localnet=1 on our bridges must not let a container reach the host's
            # 127.0.0.0/8 services: only replies of DNATed (published) connections pass.
            f"flush chain {t} input",
            f"add rule {t} input iifname @bridges ip daddr 127.0.0.0/8 ct status and dnat == 0 drop {c}",
        ]

    def _base_complete(self, snap: _Snapshot) -> bool:
        wanted = {*_BASE_CHAINS, *_REGULAR}
        return wanted <= snap.chains and len(snap.tagged(_BASE)) == _BASE_RULES

    def ensure_base(self) -> None:
        """Create our table, chains and base rules if they are not all there (idempotent)."""
        if self._base_complete(self._snapshot()):
            return
        run("\n".join(self._base_commands()), what="create the base chains")
        log.info("nft.base_created", table=self.table)

    def _transaction(self, build: Any, what: str) -> Any:
        """Run ``build(snapshot) -> (commands, result)`` as one transaction; retry on races.

        A concurrent change (a rule deleted by another process meanwhile) makes the batch
        fail as a whole; the snapshot is then read again.
        """
        for attempt in range(_RETRIES):
            snap = self._snapshot()
            commands, result = build(snap)
            if not commands:
                return result
            try:
                run("\n".join(commands), what=what)
                return result
            except NetfilterError:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _delete(self, rules: Sequence[_Rule]) -> list[str]:
        return [f"delete rule ip {self.table} {r.chain} handle {r.handle}" for r in rules]

    def add_network(self, bridge: str, subnet: IPv4Network) -> None:
        """Masquerade ``subnet`` out of other interfaces; isolate ``bridge`` from our others.

        Also masquerades loopback-sourced and hairpin (DNAT back into the bridge) traffic
        going into ``bridge``, and sets ``net.ipv4.ip_forward=1`` and
        ``net.ipv4.conf.<bridge>.route_localnet=1`` (needed for 127.0.0.1 DNAT) in the
        calling thread's netns. The bridge must exist. Idempotent; a changed subnet replaces
        the rules. Call :meth:`ensure_base` first (or use :meth:`ensure_network`).
        """
        self._network(bridge, subnet, base=False)

    def ensure_network(self, bridge: str, subnet: IPv4Network) -> None:
        """:meth:`ensure_base` and :meth:`add_network` in one: one read of the table (one
        libnftables call when everything is in place, as on every container start but the
        first) and, if anything is missing, one transaction that adds it.
        """
        self._network(bridge, subnet, base=True)

    def _network(self, bridge: str, subnet: IPv4Network, *, base: bool) -> None:
        _bridge(bridge)
        try:
            net = IPv4Network(subnet)
        except (ValueError, TypeError) as exc:
            raise SpecError("subnet", f"{subnet!r} is not an IPv4 network: {exc}") from None
        conf = f"/proc/sys/net/ipv4/conf/{bridge}"
        if not os.path.isdir(conf):
            raise NetfilterError(f"bridge {bridge!r} does not exist in this network namespace")
        _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
        _sysctl(f"{conf}/route_localnet", "1")
        t, b = f"ip {self.table}", f'"{bridge}"'
        tag = f"{_NET}{bridge} {net}"
        c = f'comment "{tag}"'
        adds = [
            f"add element {t} bridges {{ {b} }}",
            f"add rule {t} nat_out ip saddr {net} oifname != {b} masquerade {c}",
            f"add rule {t} nat_out oifname {b} ip saddr 127.0.0.0/8 masquerade {c}",
            f"add rule {t} nat_out oifname {b} ip saddr {net} ct status dnat masquerade {c}",
            f"add rule {t} isolation iifname {b} oifname != {b} oifname @bridges drop {c}",
        ]

        def build(snap: _Snapshot) -> tuple[list[str], tuple[bool, bool]]:
            missing_base = base and not self._base_complete(snap)
            before = self._base_commands() if missing_base else []
            if not missing_base:
                self._require_base(snap)
            mine = [r for r in snap.tagged(_NET) if r.comment.split(" ")[0] == f"{_NET}{bridge}"]
            if len(mine) == 4 and all(r.comment == tag for r in mine) and bridge in snap.bridges:
                return before, (missing_base, False)
            if bridge in snap.bridges:  # re-adding an element is fine, but keep it explicit
                adds_now = [a for a in adds if not a.startswith("add element")]
            else:
                adds_now = adds
            return before + self._delete(mine) + adds_now, (missing_base, True)

        made_base, added = self._transaction(build, f"add network {bridge}")
        if made_base:
            log.info("nft.base_created", table=self.table)
        if added:
            log.info("nft.network_added", bridge=bridge, subnet=str(net))

    def remove_network(self, bridge: str) -> bool:
        """Remove the rules of ``bridge``; False if it had none."""
        _bridge(bridge)

        def build(snap: _Snapshot) -> tuple[list[str], bool]:
            mine = [r for r in snap.tagged(_NET) if r.comment.split(" ")[0] == f"{_NET}{bridge}"]
            element = f'delete element ip {self.table} bridges {{ "{bridge}" }}'
            drop = [element] if bridge in snap.bridges else []
            return self._delete(mine) + drop, bool(mine or drop)

        removed: bool = self._transaction(build, f"remove network {bridge}")
        if removed:
            log.info("nft.network_removed", bridge=bridge)
        return removed

    def _require_base(self, snap: _Snapshot) -> None:
        if not set(_REGULAR) <= snap.chains:
            raise NetfilterError(
                f"table ip {self.table} has no base chains: call ensure_base() first"
            )

    def publish(
        self,
        owner: str,
        container_ip: IPv4Address,
        mappings: Sequence[PortMapping],
        bridge: str,
    ) -> int:
        """DNAT each mapping's ``host_ip:host_port/protocol`` to ``container_ip:container_port``.

        Applies to packets addressed to a local address (``fib daddr type local``) coming
        from outside (prerouting) and from the host's own processes (output), 127.0.0.1
        included; ``host_ip`` ``""`` means any local address. ``bridge`` must have been set
        up with :meth:`add_network`. Replaces earlier rules of ``owner``, atomically.
        Returns the number of rules added.
        """
        check_owner(owner)
        _bridge(bridge)
        ip = IPv4Address(container_ip)
        t = f"ip {self.table}"
        adds = []
        for m in mappings:
            if not isinstance(m, PortMapping) or m.host_port == 0:
                raise SpecError("ports", f"{m!r} is not a PortMapping with a resolved host port")
            daddr = f"ip daddr {m.host_ip} " if m.host_ip else ""
            adds.append(
                f"add rule {t} published {daddr}{m.protocol} dport {m.host_port} "
                f'dnat to {ip}:{m.container_port} comment "{_OWNER}{owner}"'
            )

        def build(snap: _Snapshot) -> tuple[list[str], None]:
            self._require_base(snap)
            if not any(r.comment.split(" ")[0] == f"{_NET}{bridge}" for r in snap.tagged(_NET)):
                raise NetfilterError(f"bridge {bridge!r} has no network rules: add_network first")
            mine = [r for r in snap.tagged(_OWNER) if r.comment == f"{_OWNER}{owner}"]
            return self._delete(mine) + adds, None

        self._transaction(build, f"publish ports of {owner}")
        log.info("nft.published", owner=owner, ip=str(ip), ports=[str(m) for m in mappings])
        return len(adds)

    def unpublish(self, owner: str) -> int:
        """Remove the DNAT rules of ``owner``; return how many there were."""
        check_owner(owner)

        def build(snap: _Snapshot) -> tuple[list[str], int]:
            mine = [r for r in snap.tagged(_OWNER) if r.comment == f"{_OWNER}{owner}"]
            return self._delete(mine), len(mine)

        count: int = self._transaction(build, f"unpublish ports of {owner}")
        if count:
            log.info("nft.unpublished", owner=owner, rules=count)
        return count

    def remove_all(self) -> bool:
        """Delete our whole table; False if it did not exist."""

        def build(snap: _Snapshot) -> tuple[list[str], bool]:
            if not snap.exists:
                return [], False
            return [f"delete table ip {self.table}"], True

        removed: bool = self._transaction(build, "remove the table")
        if removed:
            log.info("nft.table_removed", table=self.table)
        return removed


__all__ = ["LIBRARY", "TABLE", "Netfilter", "NetfilterError", "run"]
