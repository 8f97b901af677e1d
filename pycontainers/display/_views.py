"""Views of namespaces, cgroups, images and containers: rows of real values, as HTML or text.

Each ``*_rows`` function reads the object once (live values where the object is live) and
returns ``(caption, rows)``; :func:`render_html` and :func:`render_text` turn them into a
notebook table or a plain-text block. Nothing here raises for a half-gone object: a value
that cannot be read is shown as ``—`` (or ``deleted``).
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING, Any

from pycontainers.display._html import MISSING, fields, table, text_block
from pycontainers.errors import PyContainersError

if TYPE_CHECKING:
    from pycontainers.cgroups import CGroup
    from pycontainers.images.image import Image
    from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceSet
    from pycontainers.runtime.container import Container

# ioctl(nsfs fd, NS_GET_USERNS) returns a new fd on the user namespace that owns it
NS_GET_USERNS = 0xB701

Rows = list[tuple[str, object]]


def _size(n: int | None) -> str:
    from pycontainers.cgroups._units import format_bytes

    return MISSING if n is None else format_bytes(n)


# -- namespaces -------------------------------------------------------------------------------


def owner_userns(ns: Namespace) -> int | None:
    """The inode of the user namespace that owns ``ns`` (for a user namespace: its parent),
    or None when it cannot be asked (a removed handle, or an owner outside our reach).
    """
    try:
        fd = ns.open_fd()
    except (PyContainersError, OSError):  # removed, exited, or replaced: nothing to ask
        return None
    try:
        owner = fcntl.ioctl(fd, NS_GET_USERNS)
    except OSError:  # EPERM: the owner is outside this process's user namespace
        return None
    finally:
        os.close(fd)
    try:
        return os.fstat(owner).st_ino
    finally:
        os.close(owner)


def namespace_rows(ns: Namespace) -> tuple[str, Rows]:
    """Kind, inode, device, where it was found (pid or path) and the owning user namespace."""
    rows: Rows = [
        ("kind", ns.kind.value),
        ("inode", ns.inode),
        ("device", f"{os.major(ns.device)}:{os.minor(ns.device)}"),
    ]
    if ns.pid is not None:
        rows.append(("pid", ns.pid))
    if ns.persisted_path is not None:
        rows.append(("persisted at", ns.persisted_path))
    elif ns.path is not None:
        rows.append(("path", ns.path))
    owner = owner_userns(ns)
    rows.append(("owner user ns", f"user:[{owner}]" if owner is not None else MISSING))
    return f"Namespace {ns}", rows


def namespace_html(ns: Namespace) -> str:
    """``Namespace._repr_html_``: a two-column table."""
    caption, rows = namespace_rows(ns)
    return table(None, rows, caption=caption)


def namespace_set_html(nss: NamespaceSet) -> str:
    """``NamespaceSet._repr_html_``: kind and inode per namespace (and where it was found)."""
    caption = "Namespaces" + (f" of pid {nss.pid}" if nss.pid is not None else "")
    rows = [
        (kind.value, ns.inode, ns.persisted_path or ns.path or MISSING) for kind, ns in nss.items()
    ]
    return table(["kind", "inode", "path"], rows, caption=caption)


def _side(nss: NamespaceSet, default: str) -> str:
    return f"pid {nss.pid}" if nss.pid is not None else default


def comparison_html(cmp: NamespaceComparison, *, caption: str = "Namespace comparison") -> str:
    """``NamespaceComparison._repr_html_``: kind, both inodes, shared or not."""
    rows = [
        (kind.value, cmp.left[kind].inode, cmp.right[kind].inode, "yes" if same else "no")
        for kind, same in cmp.shared.items()
    ]
    headers = ["kind", _side(cmp.left, "left"), _side(cmp.right, "right"), "shared"]
    return table(headers, rows, caption=caption)


def host_namespaces() -> NamespaceSet:
    """The host's namespaces: those of pid 1 (init), else, where /proc/1 cannot be read,
    those of this process.
    """
    from pycontainers.namespaces import NamespaceSet

    try:
        return NamespaceSet.of_pid(1)
    except (PyContainersError, OSError):
        return NamespaceSet.current()


def shared_with_host(container: Container) -> NamespaceComparison:
    """Compare a running container's namespaces with the host's (:func:`host_namespaces`)."""
    from pycontainers.namespaces import NamespaceSet

    return NamespaceSet.of_pid(container.pid).compare(host_namespaces())


# -- cgroups ----------------------------------------------------------------------------------


def cgroup_rows(cg: CGroup) -> tuple[str, Rows]:
    """The limits in force and a live snapshot of memory, cpu, pids and io."""
    caption = f"CGroup {cg.kind} {cg.path}"
    try:
        limits = cg.limits()
        stats = cg.stats()
    except (PyContainersError, OSError, ValueError):
        return caption, [("state", "deleted" if not cg.exists() else "unreadable")]
    rows: Rows = [(f"limit {k}", v) for k, v in limits.items()]
    if not limits:
        rows.append(("limits", "none"))
    if (m := stats.memory) is not None:
        usage = _size(m.usage)
        if m.limit:
            usage += f" of {_size(m.limit)} ({100 * m.usage / m.limit:.1f}%)"
        rows.append(("memory usage", usage))
        if m.peak is not None:
            rows.append(("memory peak", _size(m.peak)))
        rows.append(("oom kills", m.oom_kill))
    if (c := stats.cpu) is not None:
        cpu = f"{c.usage / 1e9:.3f} s"
        if c.user is not None and c.system is not None:
            cpu += f" (user {c.user / 1e9:.3f} s, system {c.system / 1e9:.3f} s)"
        rows.append(("cpu usage", cpu))
        if c.nr_throttled:
            rows.append(("cpu throttled", f"{c.nr_throttled} of {c.nr_periods} periods"))
    if (p := stats.pids) is not None:
        rows.append(("pids", f"{p.current}" + (f" of {p.max}" if p.max is not None else "")))
    if (io := stats.io) is not None and io.devices:
        rows.append(("io", f"read {_size(io.read_bytes)}, written {_size(io.write_bytes)}"))
    return caption, rows


def cgroup_html(cg: CGroup) -> str:
    """``CGroup._repr_html_``: limits and live statistics."""
    caption, rows = cgroup_rows(cg)
    return table(None, rows, caption=caption)


# -- images -----------------------------------------------------------------------------------


def _argv(args: tuple[str, ...] | None) -> str:
    return MISSING if args is None else " ".join(args) or '""'


def image_rows(img: Image) -> tuple[str, Rows]:
    """Reference, digests, platform, size and the runtime config (entrypoint, cmd, env...)."""
    cfg = img.config
    rows: Rows = [
        ("Reference", img.reference),
        ("Digest", img.digest),
        ("ID", img.id),
        ("Platform", f"{img.platform.os}/{img.platform.architecture}"),
        ("Created", img.created or MISSING),
        ("Size", f"{_size(img.size)} in {len(img.layers)} layers"),
        ("Command", " ".join(cfg.command()) or MISSING),
        ("Entrypoint", _argv(cfg.entrypoint)),
        ("Cmd", _argv(cfg.cmd)),
        ("Env", ", ".join(cfg.env) or MISSING),
        ("WorkingDir", cfg.working_dir or MISSING),
        ("User", cfg.user or MISSING),
    ]
    if cfg.exposed_ports:
        rows.append(("ExposedPorts", ", ".join(cfg.exposed_ports)))
    if cfg.volumes:
        rows.append(("Volumes", ", ".join(cfg.volumes)))
    if cfg.labels:
        rows.append(("Labels", ", ".join(f"{k}={v}" for k, v in cfg.labels)))
    return f"Image {img.reference.familiar}", rows


def layer_rows(img: Image) -> list[tuple[object, ...]]:
    """One row per layer, bottom first: index, blob digest, diff ID, media type, size."""
    diff_ids: list[object] = list(img.diff_ids) + [MISSING] * (len(img.layers) - len(img.diff_ids))
    return [
        (
            i,
            str(layer.digest)[:19],
            str(diff)[:19],
            layer.media_type.rsplit(".", 1)[-1],
            _size(layer.size),
        )
        for i, (layer, diff) in enumerate(zip(img.layers, diff_ids, strict=False))
    ]


def image_html(img: Image) -> str:
    """``Image._repr_html_``: the image's fields and config, then a table of its layers."""
    caption, rows = image_rows(img)
    layers = table(["#", "blob", "diff ID", "type", "size"], layer_rows(img))
    return fields([*rows, ("Layers", layers)], caption=caption, raw=frozenset({"Layers"}))


# -- containers -------------------------------------------------------------------------------


def _ports(doc: dict[str, Any]) -> str:
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    out = [
        f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')} → {cport}"
        for cport, bindings in ports.items()
        for b in bindings or ()
    ]
    return ", ".join(out) or MISSING


def _network(doc: dict[str, Any]) -> str:
    nets = (doc.get("NetworkSettings") or {}).get("Networks") or {}
    return ", ".join(f"{name} {n.get('IPAddress')}" for name, n in nets.items()) or MISSING


def _mounts(c: Container) -> str:
    if c.spec is None:
        return MISSING  # a load()-ed handle: the spec stays with the creator
    out = [
        f"{m.source or m.type} → {m.target}{' (ro)' if m.read_only else ''}" for m in c.spec.mounts
    ]
    return ", ".join(out) or "none"


def _resources(c: Container) -> tuple[str, str]:
    try:
        cg = c.cgroup  # ContainerError without one
        limits = cg.limits()
        summary = cg.stats().summary()
    except (PyContainersError, OSError, ValueError):
        return "none", MISSING
    lim = ", ".join(f"{k}={v}" for k, v in limits.items()) or "none"
    return lim, ", ".join(f"{k} {v}" for k, v in summary) or MISSING


def container_rows(c: Container) -> tuple[str, Rows]:
    """State, process, image, network, mounts, limits and live usage, and health."""
    try:
        doc = c.inspect()
    except (
        PyContainersError,
        OSError,
        ValueError,
    ):  # deleted meanwhile: show what the handle still knows
        doc = {"State": {"Status": c.status}}
    state = doc.get("State") or {}
    status = str(state.get("Status", c.status))
    if status == "exited" and c.returncode is not None:
        status += f" (exit code {c.returncode})"
    if state.get("OOMKilled"):
        status += ", OOM killed"
    limits, usage = _resources(c)
    health = (state.get("Health") or {}).get("Status")
    rows: Rows = [
        ("ID", c.id),
        ("Name", c.name or MISSING),
        ("State", status),
        ("PID", c.pid if status.startswith(("running", "paused", "created")) else MISSING),
        ("Image", doc.get("Image") or MISSING),
        ("Command", " ".join((doc.get("Config") or {}).get("Cmd") or ()) or MISSING),
        ("Network", _network(doc)),
        ("Ports", _ports(doc)),
        ("Mounts", _mounts(c)),
        ("Limits", limits),
        ("Usage", usage),
        ("Health", health or MISSING),
    ]
    caption = f"Container {c.id[:12]}" + (f" ({c.name})" if c.name else "")
    return caption, rows


def container_html(c: Container) -> str:
    """``Container._repr_html_``: the container's fields, and for a running container which
    namespaces it shares with the host.
    """
    caption, rows = container_rows(c)
    if c.status in ("running", "paused", "created"):
        try:
            cmp = shared_with_host(c)
            rows.append(("Namespaces", comparison_html(cmp, caption="shared with the host")))
            return fields(rows, caption=caption, raw=frozenset({"Namespaces"}))
        except (PyContainersError, OSError):  # exited between the status check and /proc
            pass
    return fields(rows, caption=caption)


# -- plain text -------------------------------------------------------------------------------


def render_text(obj: object) -> str:
    """A multi-line plain-text view of a Namespace, NamespaceSet, NamespaceComparison,
    CGroup, Image or Container (what the HTML view shows, for a terminal).
    """
    from pycontainers.cgroups import CGroup
    from pycontainers.images.image import Image
    from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceSet
    from pycontainers.runtime.container import Container

    if isinstance(obj, Namespace):
        return text_block(*namespace_rows(obj))
    if isinstance(obj, NamespaceSet):
        return text_block(repr(obj), [(k.value, f"{ns.inode}") for k, ns in obj.items()])
    if isinstance(obj, NamespaceComparison):
        cmp_rows: Rows = [
            (k.value, f"{obj.left[k].inode} {obj.right[k].inode} {'shared' if same else '-'}")
            for k, same in obj.shared.items()
        ]
        return text_block(repr(obj), cmp_rows)
    if isinstance(obj, CGroup):
        return text_block(*cgroup_rows(obj))
    if isinstance(obj, Image):
        caption, rows = image_rows(obj)
        layers = [(f"layer {r[0]}", f"{r[1]} {r[4]}") for r in layer_rows(obj)]
        return text_block(caption, [*rows, *layers])
    if isinstance(obj, Container):
        caption, rows = container_rows(obj)
        if obj.status == "running":
            try:
                cmp = shared_with_host(obj)
                shared = ",".join(sorted(k.value for k in cmp.shared_kinds)) or "none"
                rows.append(("shared with host", shared))
            except (PyContainersError, OSError):
                pass
        return text_block(caption, rows)
    raise TypeError(f"no view for {type(obj).__name__}")


def render_html(obj: object) -> str:
    """The HTML view of any object :func:`render_text` knows."""
    from pycontainers.cgroups import CGroup
    from pycontainers.images.image import Image
    from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceSet
    from pycontainers.runtime.container import Container

    if isinstance(obj, Namespace):
        return namespace_html(obj)
    if isinstance(obj, NamespaceSet):
        return namespace_set_html(obj)
    if isinstance(obj, NamespaceComparison):
        return comparison_html(obj)
    if isinstance(obj, CGroup):
        return cgroup_html(obj)
    if isinstance(obj, Image):
        return image_html(obj)
    if isinstance(obj, Container):
        return container_html(obj)
    raise TypeError(f"no view for {type(obj).__name__}")


def register_views() -> None:
    """Register the HTML views with :func:`pycontainers._views.html_view` (on import of
    :mod:`pycontainers.display`), so the objects' ``_repr_html_`` finds them.
    """
    from pycontainers._views import html_view
    from pycontainers.cgroups import CGroup
    from pycontainers.images.image import Image
    from pycontainers.namespaces import Namespace, NamespaceComparison, NamespaceSet
    from pycontainers.runtime.container import Container

    html_view.register(Namespace, namespace_html)
    html_view.register(NamespaceSet, namespace_set_html)
    html_view.register(NamespaceComparison, comparison_html)
    html_view.register(CGroup, cgroup_html)
    html_view.register(Image, image_html)
    html_view.register(Container, container_html)
