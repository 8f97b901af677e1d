"""The ``resolve`` step of starting a container: user keywords + image config + engine
defaults → :class:`ContainerSpec`.

Two halves, as for the plan: :func:`gather_inputs` reads what the machine holds (our euid,
the image's config and layers, another container's network namespace, subordinate id
ranges); :func:`resolve_spec` is pure — the same keywords and inputs always give the same
spec, with no filesystem access — so it is tested without root from fixed inputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import attrs

from pycontainers.cgroups._resources import Resources
from pycontainers.errors import SpecError
from pycontainers.runtime.options import LIMIT_KEYWORDS, SPEC_KEYWORDS, check_keywords
from pycontainers.spec import (
    DEFAULT_NAMESPACES,
    ContainerSpec,
    IdMapping,
    Mount,
    OverlayRootfs,
    Process,
    SecurityOptions,
    User,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.12

    from pycontainers.images.config import ImageConfig
    from pycontainers.images.image import Image
    from pycontainers.runtime.options import SpecOptions

Mappings = tuple[tuple[IdMapping, ...], tuple[IdMapping, ...]]


class ImageInputs(NamedTuple):
    """What a spec takes from an image: its name, its layers (lowest first), its config.

    The inputs are typed tuples, not attrs classes: cheaper to define in a short process.
    """

    reference: str
    lowers: tuple[str, ...]
    config: ImageConfig


class SpecInputs(NamedTuple):
    """Everything :func:`resolve_spec` needs from the machine, gathered beforehand."""

    euid: int = 0
    image: ImageInputs | None = None
    netns: str | None = None
    """``/proc/PID/ns/net`` of the container named by ``network="container:NAME"``."""
    auto_mappings: Mappings | None = None
    """The ``userns="auto"`` id ranges (from /etc/subuid and /etc/subgid)."""
    rootless_mappings: Mappings | None = None
    """A non-root caller's own ids (and subordinate ranges), when ``euid`` is not 0."""
    volumes_from: tuple[Mount, ...] = ()
    """The volume and bind mounts of the ``volumes_from`` containers (their modes applied)."""


def is_image_ref(rootfs: object) -> bool:
    """Whether ``rootfs`` names an image (not a directory, ``"host"`` or layers)."""
    if isinstance(rootfs, OverlayRootfs):
        return False
    return not isinstance(rootfs, str) or (rootfs != "host" and not rootfs.startswith("/"))


def gather_inputs(rootfs: str | OverlayRootfs | Image, options: SpecOptions) -> SpecInputs:
    """Read what :func:`resolve_spec` needs from this machine for ``rootfs`` and ``options``."""
    euid = os.geteuid()
    image = None
    if is_image_ref(rootfs):
        from pycontainers.images import default_store

        store = default_store(options.get("image_root"))
        img = store.get(rootfs) if isinstance(rootfs, str) else rootfs
        assert not isinstance(img, OverlayRootfs)
        image = ImageInputs(str(img.reference), tuple(store.snapshots_for(img)), img.config)
    netns = None
    network = options.get("network") or ""
    if network.startswith("container:"):
        netns = _container_netns(network.partition(":")[2])
    auto = None
    if options.get("userns") == "auto":
        from pycontainers.security.userns import auto_mappings

        auto = auto_mappings()
    rootless = None
    if euid != 0 and not options.get("uid_mappings"):
        from pycontainers.security.rootless import rootless_mappings

        rootless = rootless_mappings()
    shared: list[Mount] = []
    for ref in options.get("volumes_from", ()):
        shared += _volumes_of(ref)
    return SpecInputs(
        euid=euid, image=image, netns=netns, auto_mappings=auto, rootless_mappings=rootless,
        volumes_from=tuple(shared),
    )  # fmt: skip


def _volumes_of(entry: str) -> list[Mount]:
    """Docker's ``--volumes-from NAME[:ro|rw]``: the container's volumes and binds (their
    own mode, or ``ro``/``rw`` for all).
    """
    from pycontainers.errors import ContainerError
    from pycontainers.runtime.container import Container
    from pycontainers.runtime.specfile import load_spec

    ref, _, mode = str(entry).partition(":")
    if mode not in ("", "ro", "rw"):
        raise SpecError("volumes_from", f"{entry!r}: the mode must be ro or rw")
    try:
        other = Container.load(ref)
    except ContainerError:
        raise SpecError("volumes_from", f"no such container: {ref}") from None
    try:
        spec, _ = load_spec(other.state_dir)
    finally:
        other.close()
    return [
        attrs.evolve(m, read_only=(mode == "ro") if mode else m.read_only, create=False)
        for m in spec.mounts
        if m.type in ("bind", "volume")
    ]


def _container_netns(ref: str) -> str:
    from pycontainers.runtime.container import Container

    other = Container.load(ref)
    try:
        if other.status not in ("running", "paused", "created"):
            raise SpecError("network", f"container {other.id[:12]} is {other.status}")
        return f"/proc/{other.pid}/ns/net"
    finally:
        other.close()


def resolve_spec(
    rootfs: str | OverlayRootfs | Image,
    args: Sequence[str] | None,
    options: SpecOptions,
    inputs: SpecInputs,
) -> ContainerSpec:
    """The spec of :func:`~pycontainers.runtime.run.run`'s keywords (validated), with the
    image's defaults (entrypoint + cmd as Docker combines them, env, workdir, user, stop
    signal) and the engine's. Pure: everything from the machine comes in ``inputs``.
    """
    check_keywords(options, SPEC_KEYWORDS, "run()/Container.create()")
    limits = {k: v for k, v in options.items() if k in LIMIT_KEYWORDS}
    o = options  # short: read below with each keyword's default
    env, cwd, user = o.get("env"), o.get("cwd"), o.get("user")
    entrypoint, stop_signal = o.get("entrypoint"), o.get("stop_signal")
    uid_mappings, gid_mappings = o.get("uid_mappings", ()), o.get("gid_mappings", ())
    network, ports, bandwidth = o.get("network"), o.get("ports"), o.get("bandwidth")
    aliases, userns, resources = o.get("aliases", ()), o.get("userns"), o.get("resources")
    namespaces = o.get("namespaces", DEFAULT_NAMESPACES)
    kinds = frozenset([namespaces] if isinstance(namespaces, str) else namespaces)
    netns: str | None = None
    net_spec = None
    if network is None:
        network = "bridge" if ports else "none"
    if network in ("none", "host") or network.startswith(("container:", "ns:")):
        for field, value in (("ports", ports), ("aliases", aliases), ("bandwidth", bandwidth),
                             ("ip", o.get("ip"))):  # fmt: skip
            if value:
                raise SpecError(field, f"needs a bridge network, not network={network!r}")
    if network == "none":
        pass
    elif network == "host":
        kinds -= {"net"}
    elif network.startswith("container:"):
        netns = inputs.netns
        if netns is None:
            raise SpecError("network", f"{network}: not gathered")
        kinds -= {"net"}
    elif network.startswith("ns:"):
        netns = network.partition(":")[2]
        kinds -= {"net"}
    else:
        from pycontainers.network.spec import NetworkSpec

        net_spec = NetworkSpec(
            network=network,
            ports=ports,
            aliases=aliases,
            dns=o.get("dns", ()),
            extra_hosts=o.get("extra_hosts", ()),
            bandwidth=bandwidth,
            dns_search=o.get("dns_search", ()),
            dns_options=o.get("dns_options", ()),
            ip=o.get("ip"),
        )
    if userns == "auto":
        if inputs.auto_mappings is None:
            raise SpecError("userns", "auto: no subordinate id ranges were gathered")
        uid_mappings, gid_mappings = inputs.auto_mappings
        kinds |= {"user"}
    elif userns not in (None, "host"):
        raise SpecError("userns", f"expected 'auto', 'host' or None, got {userns!r}")
    if inputs.euid != 0:  # rootless: a user namespace of our own is the only way
        kinds |= {"user"}
        if not uid_mappings:
            if inputs.rootless_mappings is None:
                raise SpecError("uid_mappings", "rootless: no id mappings were gathered")
            uid_mappings, gid_mappings = inputs.rootless_mappings
    if limits:
        if resources is not None:
            raise SpecError(
                next(iter(limits)), "give limits as keywords or as resources=, not both"
            )
        resources = Resources.from_docker(**limits)
    devices = o.get("devices") or ()
    if devices and resources is None:
        if inputs.euid != 0:
            raise SpecError("devices", "devices need a cgroup, and rootless containers get none")
        resources = Resources()  # the device cgroup that allows them
    if resources is not None and inputs.euid != 0:
        raise SpecError(
            "resources",
            "cgroup limits need root: rootless containers get no cgroup here "
            "(a delegated cgroup v2 subtree is not supported yet)",
        )
    image_ref: str | None = None
    taken = {os.path.normpath(m.target) for m in o.get("mounts", ())}
    shared = tuple(m for m in inputs.volumes_from if os.path.normpath(m.target) not in taken)
    image_volumes: tuple[Mount, ...] = ()
    if inputs.image is not None and is_image_ref(rootfs):
        # an image: its layers under a writable layer of the container's own, and its
        # config's defaults (entrypoint + cmd as Docker combines them, env, workdir, user)
        image = inputs.image
        image_ref = image.reference
        rootfs = OverlayRootfs(image.lowers)
        args = image.config.command(args, entrypoint)
        env = {**image.config.environ(), **dict(_env_pairs(env))}
        cwd = cwd or image.config.working_dir or None
        if user is None and image.config.user:
            user = image.config.user
        if stop_signal is None and image.config.stop_signal:
            stop_signal = image.config.stop_signal
        image_volumes = _image_volumes(image.config.volumes, (*o.get("mounts", ()), *shared))
    elif is_image_ref(rootfs):
        raise SpecError("rootfs", f"image {rootfs!r}: not gathered")
    elif entrypoint is not None:
        args = (*entrypoint, *(args or ()))
    assert not is_image_ref(rootfs)
    security = o.get("security") or _security(
        tuple(o.get("cap_add", ())),
        tuple(o.get("cap_drop", ())),
        o.get("privileged", False),
        o.get("seccomp", "default"),
    )
    group_add = tuple(o.get("group_add", ()))
    if group_add:
        user = _with_groups(user, group_add)
    process = Process(
        args=tuple(args or ()),
        env=env,
        cwd=cwd or "/",
        user=user,
        rlimits=o.get("rlimits"),
        umask=o.get("umask", 0o022),
        no_new_privs=o.get("no_new_privs", True),
    )
    return ContainerSpec(
        rootfs=rootfs,  # type: ignore[arg-type]  # not an Image: checked above
        process=process,
        hostname=o.get("hostname"),
        domainname=o.get("domainname"),
        namespaces=kinds,
        mounts=(*o.get("mounts", ()), *shared, *image_volumes),
        uid_mappings=tuple(uid_mappings),
        gid_mappings=tuple(gid_mappings),
        readonly_rootfs=o.get("readonly_rootfs", False),
        init=o.get("init", False),
        security=security,
        resources=resources,
        cgroup_parent=o.get("cgroup_parent", "pycontainers"),
        image=image_ref,
        netns=netns,
        network=net_spec,
        stop_signal=stop_signal or "",
        shm_size=o.get("shm_size", 64 * 1024 * 1024),
        sysctls=o.get("sysctls") or (),
        devices=devices,  # strings are parsed by its converter
    )


def _with_groups(user: object, groups: tuple[str | int, ...]) -> User:
    """``user`` (None: root) with Docker's ``--group-add`` gids added."""
    gids = []
    for g in groups:
        text = str(g)
        if not text.isdigit():
            raise SpecError(
                "group_add", f"group names are not supported yet, use a numeric gid: {g!r}"
            )
        gids.append(int(text))
    base = User(uid=0) if user is None else User.parse(user)  # type: ignore[arg-type]
    return attrs.evolve(base, additional_gids=(*base.additional_gids, *gids))


def _image_volumes(paths: Iterable[str], mounts: Iterable[Mount]) -> tuple[Mount, ...]:
    """An anonymous volume for each of the image's ``Volumes`` that no mount of the user's
    covers (as Docker does); populated from the image on first use.
    """
    taken = {os.path.normpath(m.target) for m in mounts}
    return tuple(
        Mount(target=path, type="volume") for path in paths if os.path.normpath(path) not in taken
    )


def _env_pairs(env: Mapping[str, str] | Iterable[str] | None) -> tuple[tuple[str, str], ...]:
    from pycontainers._specprocess import _env

    return _env(env)


_DEFAULT_SECURITY = SecurityOptions()


def _security(
    cap_add: tuple[str, ...],
    cap_drop: tuple[str, ...],
    privileged: bool,
    seccomp: str | dict[str, Any] | None,
) -> SecurityOptions:
    if not cap_add and not cap_drop and not privileged and seccomp == "default":
        return _DEFAULT_SECURITY  # validated once
    return SecurityOptions(
        cap_add=cap_add, cap_drop=cap_drop, privileged=privileged, seccomp=seccomp
    )


def make_spec(
    rootfs: str | os.PathLike[str] | OverlayRootfs | Image,
    args: Sequence[str] | None,
    **options: Unpack[SpecOptions],
) -> ContainerSpec:
    """Build a :class:`ContainerSpec` from :func:`run`'s spec keywords (validated here).

    The keywords are :class:`~pycontainers.runtime.options.SpecOptions` (see :func:`run`);
    an unknown one raises :class:`SpecError` naming it. Resource limits come as docker-py
    keywords (``memory="64m"``, ``cpus=0.5``, ``pids_limit=32``...) or a whole
    ``resources=Resources(...)``. The resolve step: :func:`~pycontainers.runtime.resolve.
    gather_inputs` then the pure :func:`~pycontainers.runtime.resolve.resolve_spec`; then
    named volumes are made and bind sources checked. A :class:`os.PathLike` rootfs is a
    directory (made absolute), never an image reference.
    """
    if isinstance(rootfs, os.PathLike):
        rootfs = os.path.abspath(os.fspath(rootfs))
    from pycontainers.runtime.options import docker_py_spellings

    options = docker_py_spellings(options)  # type: ignore[assignment]
    check_keywords(options, SPEC_KEYWORDS, "run()/Container.create()")
    spec = resolve_spec(rootfs, args, options, gather_inputs(rootfs, options))
    if not any(m.type in ("volume", "bind") for m in spec.mounts):
        return spec  # what resolve_mounts returns for it (not imported: a start's cost)
    from pycontainers.runtime.volumes import resolve_mounts

    return resolve_mounts(spec)  # bind sources checked, volumes made and bound


def needs_mountpoint(spec: ContainerSpec) -> bool:
    """Whether the rootfs is mounted (tmpfs, overlay) on an empty directory of ours."""
    return spec.rootfs == "host" or isinstance(spec.rootfs, OverlayRootfs)


_host_mnt: dict[str, str] = {}


def host_mountpoint() -> str:
    """The empty directory under the state root where the ``host`` image's root is mounted
    (inside each container's own mount namespace), made on first use.
    """
    from pycontainers.runtime import state as st

    root = st.default_state_root()
    if root not in _host_mnt or not os.path.isdir(_host_mnt[root]):
        _host_mnt[root] = st.ensure_dir(os.path.join(st.ensure_dir(root), ".mnt"))
    return _host_mnt[root]


__all__ = [
    "ImageInputs",
    "SpecInputs",
    "gather_inputs",
    "host_mountpoint",
    "is_image_ref",
    "make_spec",
    "needs_mountpoint",
    "resolve_spec",
]
