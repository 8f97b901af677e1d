"""Rootfs planning: the default container mounts, /dev, user mounts and the built-in host image.

Everything here produces :class:`~pycontainers._plan.Op` lists; the C child executes them
inside the new mount namespace, resolving every target beneath the rootfs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pycontainers._plan import (
    MS_NOATIME,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_SHARED,
    MS_SLAVE,
    MS_STRICTATIME,
    MS_UNBINDABLE,
    OP_BIND,
    OP_BIND_DEV,
    OP_DEVICE,
    OP_MASK,
    OP_MKDIR,
    OP_MKNOD,
    OP_MOUNT,
    OP_READONLY,
    OP_SYMLINK,
    OP_WRITE,
    OPT_FILE,
    OPT_HOSTNODE,
    OPT_OPTIONAL,
    OPT_RECURSIVE,
    OPT_RRO,
    OPT_STRICT,
    Op,
)
from pycontainers.spec import ContainerSpec, Mount, SecurityOptions

if TYPE_CHECKING:
    from pycontainers.cgroups import CgroupLayout


_SET_FLAGS = {
    "ro": MS_RDONLY,
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "relatime": MS_RELATIME,
    "noatime": MS_NOATIME,
    "strictatime": MS_STRICTATIME,
}
_CLEAR_FLAGS = {"rw": MS_RDONLY, "suid": MS_NOSUID, "dev": MS_NODEV, "exec": MS_NOEXEC}
_PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}

# (name, major, minor): Docker's and runc's default device nodes, all 0666 char devices.
DEFAULT_DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEFAULT_DEV_LINKS = (
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
    ("/dev/ptmx", "pts/ptmx"),
    ("/dev/core", "/proc/kcore"),
)

HOST_IMAGE_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
HOST_IMAGE_ETC_BINDS = ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime")


def mount_to_op(m: Mount) -> Op:
    """Translate a user :class:`Mount` into a plan op."""
    flags = 0
    propagation = 0
    recursive = m.type == "bind"  # Docker binds are recursive unless told "bind"
    rro = False
    data = []
    for opt in m.options:
        if opt in _SET_FLAGS:
            flags |= _SET_FLAGS[opt]
        elif opt in _CLEAR_FLAGS:
            flags &= ~_CLEAR_FLAGS[opt]
        elif opt in _PROPAGATION:
            propagation = _PROPAGATION[opt]
        elif opt == "bind":
            recursive = False
        elif opt == "rbind":
            recursive = True
        elif opt == "rro":  # read-only, and so is every mount under it (mount_setattr)
            flags |= MS_RDONLY
            rro = True
        else:
            data.append(opt)
    if m.read_only:
        flags |= MS_RDONLY
    target = m.normalized_target
    if m.type == "bind":
        return Op(
            kind=OP_BIND,
            target=target,
            source=m.source,
            flags=flags,
            propagation=propagation,
            options=(OPT_RECURSIVE if recursive else 0) | (OPT_RRO if rro else 0),
        )
    return Op(
        kind=OP_MOUNT,
        target=target,
        source=m.source or m.type,
        fstype=m.type,
        data=",".join(data) or None,
        flags=flags,
        propagation=propagation,
        options=OPT_RRO if rro else 0,
    )


def default_ops(spec: ContainerSpec) -> list[Op]:
    """The mounts every container gets: /proc, /dev (nodes, pts, shm, mqueue), /sys.

    Unless privileged, /dev is a nodev tmpfs and its device nodes are binds of the host's
    (a bind keeps the host mount's flags): a node the container makes itself with mknod,
    there or in the nodev rootfs, cannot be opened. That is the device cgroup's job, done
    with mount flags so that it holds with or without a cgroup, on v1 and v2 alike.
    """
    userns = "user" in spec.namespaces
    bind_devices = userns or not spec.security.privileged
    strict = OPT_STRICT
    dev_flags = MS_NOSUID | MS_STRICTATIME | (MS_NODEV if bind_devices else 0)
    ops = [
        Op(
            OP_MOUNT,
            "/proc",
            "proc",
            "proc",
            None,
            MS_NOSUID | MS_NODEV | MS_NOEXEC,
            options=strict,
        ),
        Op(OP_MOUNT, "/dev", "tmpfs", "tmpfs", "mode=755,size=65536k", dev_flags, options=strict),
    ]
    for name, major, minor in DEFAULT_DEVICES:
        path = f"/dev/{name}"
        if bind_devices:
            ops.append(Op(OP_BIND_DEV, path, path, options=strict | OPT_FILE))
        else:
            mode = 0o20666
            ops.append(Op(OP_MKNOD, path, mode=mode, dev=os.makedev(major, minor), options=strict))
    pts_data = "newinstance,ptmxmode=0666,mode=0620" + ("" if userns else ",gid=5")
    ops += [
        Op(
            OP_MOUNT,
            "/dev/pts",
            "devpts",
            "devpts",
            pts_data,
            MS_NOSUID | MS_NOEXEC,
            options=strict,
        ),
        Op(
            OP_MOUNT,
            "/dev/shm",
            "shm",
            "tmpfs",
            f"mode=1777,size={spec.shm_size // 1024}k",
            MS_NOSUID | MS_NODEV | MS_NOEXEC,
            options=strict,
        ),
    ]
    if "ipc" in spec.namespaces:
        ops.append(
            Op(
                OP_MOUNT,
                "/dev/mqueue",
                "mqueue",
                "mqueue",
                None,
                MS_NOSUID | MS_NODEV | MS_NOEXEC,
                options=strict,
            )
        )
    for link, target in DEFAULT_DEV_LINKS:
        ops.append(Op(OP_SYMLINK, link, target, options=strict))
    if "net" in spec.namespaces or spec.netns is not None:
        ops.append(
            Op(
                OP_MOUNT,
                "/sys",
                "sysfs",
                "sysfs",
                None,
                MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                options=strict,
            )
        )
    else:  # sysfs of the host's network namespace: only a read-only bind is allowed
        ops.append(
            Op(
                OP_BIND,
                "/sys",
                "/sys",
                flags=MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                options=strict | OPT_RECURSIVE,
            )
        )
    return ops


def device_ops(spec: ContainerSpec) -> list[Op]:
    """Binds of the spec's host device nodes (Docker's ``--device``) at their paths, then
    its ``device_nodes`` (OCI ``linux.devices``) made in /dev (see ``_native/shim.h``,
    PC_OP_DEVICE). A bind keeps the host /dev's ``dev`` flag and works in a user namespace,
    where mknod cannot; the device cgroup decides what may be done with each.
    """
    ops = [
        Op(OP_BIND_DEV, d.path, d.host_path, options=OPT_STRICT | OPT_FILE) for d in spec.devices
    ]
    userns = "user" in spec.namespaces or any(kind == "user" for kind, _ in spec.join)
    for n in spec.device_nodes:  # owner in flags, group in propagation (_native/shim.h)
        # in a user namespace mknod of a device is refused: the host's node at that path, checked in C
        # to be that device, is bound instead
        options = OPT_STRICT | (OPT_HOSTNODE if userns and n.type != "p" else 0)
        ops.append(Op(OP_DEVICE, n.path, flags=n.uid, propagation=n.gid, mode=n.mode,
                      dev=n.rdev, options=options))  # fmt: skip
    return ops


def _etc_files(hostname: str) -> list[Op]:
    files = {
        "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        "/etc/group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
        "/etc/hostname": f"{hostname}\n",
        "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n",
        "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    }
    return [Op(OP_WRITE, path, data=text, mode=0o644) for path, text in files.items()]


def host_image_ops(hostname: str) -> list[Op]:
    """The built-in ``host`` image on a fresh tmpfs root: the host's /usr, /bin, /sbin and
    /lib* read-only, a minimal /etc, a writable /tmp.
    """
    ops: list[Op] = []
    for name in HOST_IMAGE_DIRS:
        path = f"/{name}"
        if os.path.islink(path):
            ops.append(Op(OP_SYMLINK, path, os.readlink(path)))
        elif os.path.isdir(path):
            ops.append(Op(OP_BIND, path, path, flags=MS_RDONLY | MS_NODEV, options=OPT_RECURSIVE))
    ops += [Op(OP_MKDIR, d) for d in ("/etc", "/root", "/var/tmp", "/run", "/home")]
    ops += _etc_files(hostname)
    for path in HOST_IMAGE_ETC_BINDS:
        ops.append(
            Op(
                OP_BIND,
                path,
                path,
                flags=MS_RDONLY | MS_NODEV | MS_NOSUID,
                options=OPT_OPTIONAL | OPT_RECURSIVE,
            )
        )
    ops.append(Op(OP_MOUNT, "/tmp", "tmpfs", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV))
    return ops


def sysctl_ops(sysctls: tuple[tuple[str, str], ...]) -> list[Op]:
    """Writes of the spec's sysctls under the container's /proc/sys (before it is made
    read-only); they act on the namespaces the child is in by then (its own, or the
    network namespace it joined).
    """
    return [
        Op(OP_WRITE, "/proc/sys/" + key.replace(".", "/"), data=value, mode=0o644,
           options=OPT_STRICT | OPT_FILE)
        for key, value in sysctls
    ]  # fmt: skip


def security_ops(security: SecurityOptions) -> list[Op]:
    """Masked and read-only paths (none for a privileged container)."""
    if security.privileged:
        return []
    ops = [Op(OP_MASK, path, options=OPT_STRICT) for path in security.masked_paths]
    ops += [Op(OP_READONLY, path, options=OPT_STRICT) for path in security.readonly_paths]
    return ops


def cgroup_bind_ops(layout: CgroupLayout, group: str) -> list[Op]:
    """/sys/fs/cgroup for a container without a cgroup namespace (as runc makes it): its
    own group of each hierarchy bound read-only from the host, so it sees its limits and
    nothing above them.
    """
    quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME
    ro = quiet | MS_RDONLY
    group = group.strip("/")
    if layout.kind == "v2":
        assert layout.unified is not None
        return [Op(OP_BIND, "/sys/fs/cgroup", os.path.join(layout.unified, group), flags=ro,
                   options=OPT_STRICT)]  # fmt: skip
    ops = [Op(OP_MOUNT, "/sys/fs/cgroup", "tmpfs", "tmpfs", "mode=755", quiet, options=OPT_STRICT)]
    for key, mountpoint in layout.v1_hierarchies:
        name = os.path.basename(mountpoint.rstrip("/")) or key
        ops.append(Op(OP_BIND, f"/sys/fs/cgroup/{name}", os.path.join(mountpoint, group),
                      flags=ro, options=OPT_STRICT))  # fmt: skip
    if layout.unified:
        ops.append(Op(OP_BIND, "/sys/fs/cgroup/unified", os.path.join(layout.unified, group),
                      flags=ro, options=OPT_STRICT | OPT_OPTIONAL))  # fmt: skip
    # the tmpfs holding them stays writable, as runc leaves it (the container's own memory)
    ops += [Op(OP_SYMLINK, path, target) for path, target in layout.container_symlinks()]
    return ops


def cgroupfs_ops(layout: CgroupLayout) -> list[Op]:
    """Read-only cgroup filesystems at /sys/fs/cgroup, mounted from inside the container's
    cgroup namespace so that each hierarchy's root is the container's own group.
    """
    quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME
    ops = []
    for m in layout.container_mounts():
        flags = quiet if m.fstype == "tmpfs" else quiet | MS_RDONLY
        ops.append(
            Op(OP_MOUNT, m.target, m.fstype, m.fstype, m.data or None, flags, options=OPT_STRICT)
        )
    ops += [Op(OP_SYMLINK, path, target) for path, target in layout.container_symlinks()]
    if layout.kind != "v2":
        ops.append(Op(OP_READONLY, "/sys/fs/cgroup", options=OPT_STRICT))
    return ops
