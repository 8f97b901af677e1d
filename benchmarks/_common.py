"""What several benchmark scripts share: a busybox rootfs, a private network namespace, the
host's mount table, and an untimed quiet command. Imported by the scripts of this directory
(run as ``python3 benchmarks/NAME.py``, which puts this directory first on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

BUSYBOX = Path("/bin/busybox")


def busybox_rootfs(root: Path, hostname: str | None = None) -> Path:
    """A busybox rootfs as tests/conftest.py builds it: bin/busybox and a link per applet,
    /tmp 1777, root in /etc/passwd and /etc/group (and /etc/hostname if given)."""
    if not BUSYBOX.exists():
        raise SystemExit(f"{BUSYBOX} missing: apt-get install -y busybox-static")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for d in ("bin", "proc", "sys", "dev", "tmp", "etc", "root"):
        (root / d).mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    listing = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    for applet in listing.stdout.split():
        if applet != "busybox" and not (root / "bin" / applet).exists():
            (root / "bin" / applet).symlink_to("busybox")
    if not (root / "bin" / "true").exists():
        raise SystemExit(f"{BUSYBOX} has no 'true' applet")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\n")
    if hostname is not None:
        (root / "etc" / "hostname").write_text(hostname + "\n")
    return root


def private_netns() -> None:
    """Move this process (and so every child) into a new network namespace with ``lo`` up,
    with no library (ctypes' unshare, then SIOCSIFFLAGS on a datagram socket)."""
    import ctypes
    import fcntl
    import socket
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x40000000) != 0:  # CLONE_NEWNET
        raise SystemExit(f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)  # struct ifreq: name, flags, padding
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def host_mounts() -> set[str]:
    """This process's mount table without mount ids (they churn): the end of a run must
    add nothing to it (podman, say, can leave its storage's overlay bind mounted)."""
    with open("/proc/self/mountinfo") as f:
        return {" ".join(line.split()[2:]) for line in f}


def unmount_under(path: Path) -> None:
    """Lazily unmount anything still mounted under path (podman's shm, say) before rmtree."""
    prefix = str(path) + "/"
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        quiet(["umount", "-l", m])


def quiet(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run argv untimed, output captured, never raising."""
    return subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
