"""Per-container bandwidth limits with tc (token bucket filters) over netlink (pyroute2).

A container on a bridge network has a veth pair: the host end (``pc<11 hex>``) in the host's
network namespace, the peer (``eth0``) in the container's. Both limits are *shaped* by a
``tbf`` root qdisc (a queue, not a policer that drops, so TCP settles at the rate):

- **ingress** (what the container receives) on the egress side of the host end: outside the
  container's reach altogether;
- **egress** (what the container sends) on the container's own ``eth0``, set up from the host
  by opening a netlink socket inside the container's network namespace. The sending socket
  feels the queue directly (TCP small queues), so the rate holds closely. Removing it needs
  CAP_NET_ADMIN in the container's network namespace, which containers do not have by
  default; a container given NET_ADMIN (or ``privileged``) can lift its own egress limit.

Nothing here runs the ``tc`` binary; pyroute2 is imported lazily.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pycontainers._log import get_logger
from pycontainers.errors import SpecError
from pycontainers.network._bandwidth import (
    MAX_RATE,
    MIN_BURST,
    MIN_RATE,
    Bandwidth,
    parse_rate,
    parse_size,
)
from pycontainers.network._loop import off_event_loop
from pycontainers.network._pyroute2 import iproute, netlink_error
from pycontainers.network.links import NetworkError, check_ifname

log = get_logger("pycontainers.network")

QDISC_HANDLE = 0x50430000
"""The handle (``5043:``, "PC") of the tbf root qdiscs this module installs."""

DEFAULT_LATENCY = 0.05
"""Seconds a packet may wait in the tbf queue; the queue holds ``rate * latency + burst``."""

_TC_H_ROOT = 0xFFFFFFFF


def tbf_burst(rate: int, burst: int | None = None, mtu: int = 1500) -> int:
    """The tbf bucket size in bytes used for ``rate`` bits/s (``burst`` if given) on ``mtu``."""
    if burst is None:
        burst = min(max(MIN_BURST, rate // 8 // 200), 4 * 1024 * 1024)
    return max(burst, mtu + 64)  # a frame (L2 header, VLAN tag) larger than the bucket stalls


# --- netlink -----------------------------------------------------------------------------


def _netlink_errors() -> tuple[type[BaseException], ...]:
    return (netlink_error(), OSError)


def _code(exc: BaseException) -> int:
    return int(getattr(exc, "code", getattr(exc, "errno", 0)) or 0)


@contextmanager
def _netlink(what: str) -> Iterator[None]:
    try:
        yield
    except _netlink_errors() as exc:
        raise NetworkError(f"{what}: {exc}") from exc


def _namespace(target: int | str | os.PathLike[str]) -> Any:
    from pycontainers.namespaces import Namespace

    if isinstance(target, bool) or not isinstance(target, (int, str, os.PathLike)):
        raise SpecError("container_netns", f"expected a pid or a netns path, got {target!r}")
    if isinstance(target, int):
        return Namespace.of_pid(target, "net")
    return Namespace.open(target)


def _open_ipr(netns: int | str | os.PathLike[str] | None) -> Any:
    """An IPRoute socket in the calling thread's namespace, or in ``netns``."""
    if netns is None:
        return iproute()
    ns = _namespace(netns)
    with ns.enter():
        return iproute()  # the socket stays bound to the namespace it was opened in


def _index(ipr: Any, name: str, where: str) -> int:
    found: list[int] = ipr.link_lookup(ifname=name)
    if not found:
        raise NetworkError(f"link {name!r} does not exist {where}")
    return found[0]


def _our_root(ipr: Any, index: int) -> Any:
    for q in ipr.get_qdiscs(index=index):
        if q["index"] == index and q["parent"] == _TC_H_ROOT and q["handle"] == QDISC_HANDLE:
            return q
    return None


def _set_limit(ipr: Any, name: str, index: int, rate: int | None, burst: int | None) -> None:
    """Install (or replace) our tbf root qdisc on ``index`` at ``rate``; remove it for None."""
    if rate is None:
        if _our_root(ipr, index) is not None:
            try:
                ipr.tc("del", index=index, handle=QDISC_HANDLE, parent=_TC_H_ROOT)
            except _netlink_errors() as exc:
                if _code(exc) != errno.ENOENT:  # gone meanwhile
                    raise
        return
    mtu = int(ipr.get_links(index)[0].get("IFLA_MTU") or 1500)
    size = tbf_burst(rate, burst, mtu)
    ipr.tc(
        "replace",
        "tbf",
        index,
        handle=QDISC_HANDLE,
        rate=rate // 8,  # bytes per second
        burst=size,
        latency=int(DEFAULT_LATENCY * 1_000_000),  # microseconds
    )
    log.debug("network.tbf_set", link=name, rate=rate, burst=size)


def _read_limit(ipr: Any, index: int) -> int | None:
    q = _our_root(ipr, index)
    if q is None or q.get_attr("TCA_KIND") != "tbf":
        return None
    parms = q.get_nested("TCA_OPTIONS", "TCA_TBF_PARMS")
    return int(parms["rate"]) * 8 if parms else None


@off_event_loop
def apply_bandwidth(
    host_veth: str,
    bandwidth: Bandwidth,
    *,
    container_netns: int | str | os.PathLike[str] | None = None,
    peer_name: str = "eth0",
) -> None:
    """Make the limits of ``host_veth``'s container those of ``bandwidth``.

    ``host_veth`` is the host end (in the calling thread's network namespace). The ingress
    limit is shaped there; the egress limit on ``peer_name`` inside ``container_netns`` (a
    pid or a netns path), which is required when ``bandwidth.egress`` is set. A direction
    that is ``None`` loses its limit (given the namespace, for egress). Calling again
    replaces the limits in place. If anything fails, neither end keeps a limit of ours.
    """
    check_ifname(host_veth, "host_veth")
    check_ifname(peer_name, "peer_name")
    if not isinstance(bandwidth, Bandwidth):
        raise SpecError("bandwidth", f"expected a Bandwidth, got {bandwidth!r}")
    if bandwidth.egress is not None and container_netns is None:
        raise SpecError(
            "container_netns",
            "an egress limit is shaped on the container's own interface: "
            "give the pid or netns path of the container",
        )
    try:
        _apply(host_veth, bandwidth, container_netns, peer_name)
    except BaseException:
        try:
            _apply(host_veth, Bandwidth(), container_netns, peer_name)
        except Exception as exc:  # the link may be what failed; the first error is raised
            log.warning("network.bandwidth_rollback_failed", link=host_veth, error=str(exc))
        raise
    log.info(
        "network.bandwidth_set",
        link=host_veth,
        egress=bandwidth.egress,
        ingress=bandwidth.ingress,
    )


def _apply(
    host_veth: str,
    bandwidth: Bandwidth,
    container_netns: int | str | os.PathLike[str] | None,
    peer_name: str,
) -> None:
    with _open_ipr(None) as ipr, _netlink(f"ingress limit on {host_veth}"):
        index = _index(ipr, host_veth, "in this network namespace")
        _set_limit(ipr, host_veth, index, bandwidth.ingress, bandwidth.burst)
    if container_netns is not None:
        with _open_ipr(container_netns) as ipr, _netlink(f"egress limit on {peer_name}"):
            index = _index(ipr, peer_name, f"in network namespace {container_netns}")
            _set_limit(ipr, peer_name, index, bandwidth.egress, bandwidth.burst)


@off_event_loop
def clear_bandwidth(
    host_veth: str,
    *,
    container_netns: int | str | os.PathLike[str] | None = None,
    peer_name: str = "eth0",
) -> None:
    """Remove the limits :func:`apply_bandwidth` set: ingress always, egress given the netns.

    Missing limits are fine; a missing link raises NetworkError. Deleting the veth removes
    both limits with it, so a container going away needs no call.
    """
    apply_bandwidth(host_veth, Bandwidth(), container_netns=container_netns, peer_name=peer_name)


@off_event_loop
def get_bandwidth(
    host_veth: str,
    *,
    container_netns: int | str | os.PathLike[str] | None = None,
    peer_name: str = "eth0",
) -> Bandwidth:
    """The limits in force on ``host_veth`` (egress only read when ``container_netns`` is given).

    ``burst`` is not read back (it is ``None`` in the result).
    """
    check_ifname(host_veth, "host_veth")
    check_ifname(peer_name, "peer_name")
    with _open_ipr(None) as ipr, _netlink(f"limits of {host_veth}"):
        ingress = _read_limit(ipr, _index(ipr, host_veth, "in this network namespace"))
    egress = None
    if container_netns is not None:
        with _open_ipr(container_netns) as ipr, _netlink(f"limits of {peer_name}"):
            index = _index(ipr, peer_name, f"in network namespace {container_netns}")
            egress = _read_limit(ipr, index)
    return Bandwidth(egress=egress, ingress=ingress)


__all__ = [
    "DEFAULT_LATENCY",
    "MAX_RATE",
    "MIN_BURST",
    "MIN_RATE",
    "QDISC_HANDLE",
    "Bandwidth",
    "apply_bandwidth",
    "clear_bandwidth",
    "get_bandwidth",
    "parse_rate",
    "parse_size",
    "tbf_burst",
]
