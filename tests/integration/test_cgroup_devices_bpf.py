"""Device rules on cgroup v2, on the real kernel: the BPF_PROG_TYPE_CGROUP_DEVICE program
pycontainers attaches to a group's cgroup2 directory lets a process in the group open and
mknod what the rules allow and nothing else (EPERM), exactly as a v1 devices group given
the same rules does; it replaces the group's older program; a program that cannot be
loaded leaves nothing behind; and a container whose v1 device rules are lifted is still
held to Docker's device list (and its ``--device``) by the program on its unified group.

The probes open device nodes made in a directory of the host's /tmp (a filesystem that
allows device nodes), so only the device cgroup decides. Every node opened is one whose
open has no effect: null, zero, kmsg, loop-control, an unbound loop device (loop0, the
block device here: this VM refuses its root disk even to the host's root) and numbers
without a driver. Nothing is read or written.
"""

from __future__ import annotations

import json
import os
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pycontainers as pc
from pycontainers.cgroups import (
    CGroup,
    CgroupError,
    CgroupLayout,
    CgroupNotSupported,
    DeviceRule,
    detect_layout,
)
from pycontainers.cgroups._devbpf import (
    POLICY_XATTR,
    DeviceException,
    DevicePolicy,
    device_policy,
    device_programs,
    stored_policy,
)
from pycontainers.cgroups._factory import remove_parent
from pycontainers.runtime.devrules import DEFAULT_DEVICE_RULES

pytestmark = pytest.mark.root

PARENT = f"pycontainers-devbpf-{os.getpid()}"
ACCESS = {"m": 1, "r": 2, "w": 4, "rw": 6}

# (type, major, minor): devices whose open does nothing (or fails in the driver, after the
# cgroup allowed it: ENXIO is "allowed" here, only EPERM is the cgroup's no)
SAFE = [("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 11), ("c", 1, 12), ("c", 10, 237),
        ("c", 240, 0), ("c", 240, 1), ("b", 240, 0), ("b", 7, 0)]  # fmt: skip
LOOP0 = ("b", 7, 0)

PROBE = r"""
import errno, json, os, stat, sys
nodes, here = json.loads(sys.argv[1]), sys.argv[2]
for procs in sys.argv[3:]:  # join the group (in each hierarchy)
    with open(procs, "w") as f:
        f.write("0")
out = {}
for kind, major, minor in nodes:
    key, node = f"{kind} {major}:{minor}", f"{here}/{kind}-{major}-{minor}"
    got = {}
    mode = (stat.S_IFCHR if kind == "c" else stat.S_IFBLK) | 0o600
    try:
        os.mknod(f"{here}/new-{kind}-{major}-{minor}", mode, os.makedev(major, minor))
        os.unlink(f"{here}/new-{kind}-{major}-{minor}")
        got["m"] = True
    except OSError as exc:
        got["m"] = exc.errno != errno.EPERM
    for name, flags in (("r", os.O_RDONLY), ("w", os.O_WRONLY), ("rw", os.O_RDWR)):
        try:
            os.close(os.open(node, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC))
            got[name] = True
        except OSError as exc:
            got[name] = exc.errno != errno.EPERM
    out[key] = got
print(json.dumps(out))
"""


def make_nodes(where: Path, nodes: list[tuple[str, int, int]]) -> None:
    for kind, major, minor in nodes:
        mode = (stat.S_IFCHR if kind == "c" else stat.S_IFBLK) | 0o600
        os.mknod(where / f"{kind}-{major}-{minor}", mode, os.makedev(major, minor))


def probe(
    where: Path, nodes: list[tuple[str, int, int]], procs: list[str]
) -> dict[str, dict[str, bool]]:
    """What a process in the groups whose ``cgroup.procs`` are ``procs`` may do with each
    node: ``{"c 1:3": {"m": True, "r": True, "w": True, "rw": True}}`` (False: EPERM).
    """
    r = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(nodes), str(where), *procs],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    result: dict[str, dict[str, bool]] = json.loads(r.stdout)
    return result


def host() -> CgroupLayout:
    layout = detect_layout()
    if not layout.unified:
        pytest.skip("no cgroup2 hierarchy is mounted")
    return layout


def v2_only() -> CgroupLayout:
    return CgroupLayout("v2", unified=host().unified)


@pytest.fixture
def groups() -> Iterator[list[CGroup]]:
    made: list[CGroup] = []
    yield made
    for cg in made:
        cg.delete(kill=True)
    for layout in {cg.layout for cg in made}:
        remove_parent(PARENT, layout=layout)
    assert not os.path.exists(f"{host().unified}/{PARENT}")


def make(
    made: list[CGroup], layout: CgroupLayout, deny: tuple[str, ...], allow: tuple[str, ...]
) -> CGroup:
    name = f"g{len(made)}"
    cg = CGroup.create(name, parent=PARENT, layout=layout, devices_deny=deny, devices_allow=allow)
    made.append(cg)
    return cg


def test_the_program_allows_and_denies_what_the_rules_say(
    tmp_path: Path, groups: list[CGroup]
) -> None:
    nodes = [("c", 1, 3), ("c", 1, 5), ("c", 1, 11), LOOP0]
    make_nodes(tmp_path, nodes)
    cg = make(groups, v2_only(), ("a",), DEFAULT_DEVICE_RULES)
    assert cg.unified_path is not None and len(device_programs(cg.unified_path)) == 1
    got = probe(tmp_path, nodes, cg.procs_paths())
    assert got["c 1:3"] == got["c 1:5"] == {"m": True, "r": True, "w": True, "rw": True}
    assert got["c 1:11"] == {"m": True, "r": False, "w": False, "rw": False}  # /dev/kmsg
    assert got["b 7:0"] == {"m": True, "r": False, "w": False, "rw": False}  # only mknod
    # the same probe outside the group opens all of them
    outside = probe(tmp_path, nodes, [])
    assert all(all(access.values()) for access in outside.values()), outside


RULE_LISTS = [
    (("a",), DEFAULT_DEVICE_RULES),
    (("a",), ("c 1:* r", "c 1:5 w", "c 10:237 rwm", "b 240:* m", "c *:1 rw", "b 7:0 w")),
    (("a",), ("b *:* r", "b 240:* w", "c 240:0 r", "c 240:0 w")),  # rw needs one rule
    (("c 1:5 w", "b *:* rwm", "c 10:237 m", "c 240:* r"), ()),
    (("c 1:* rwm", "b 7:0 rw"), ("c 1:3 rw", "c 1:* m", "b 7:0 r")),
    (("a",), ("c 1:3 rwm", "a")),
    ((), ()),
]


@pytest.mark.parametrize(("deny", "allow"), RULE_LISTS)
def test_the_program_agrees_with_a_v1_devices_group(
    tmp_path: Path, groups: list[CGroup], deny: tuple[str, ...], allow: tuple[str, ...]
) -> None:
    layout = host()
    if "devices" not in layout.v1:
        pytest.skip("needs the v1 devices controller to compare with")
    make_nodes(tmp_path, SAFE)
    v1 = make(groups, CgroupLayout("v1", layout.v1_hierarchies), deny, allow)
    v2 = make(groups, v2_only(), deny, allow)
    by_v1 = probe(tmp_path, SAFE, v1.procs_paths())
    by_v2 = probe(tmp_path, SAFE, v2.procs_paths())
    assert by_v2 == by_v1
    policy = device_policy(
        [DeviceRule.parse("deny", r) for r in deny], [DeviceRule.parse("allow", r) for r in allow]
    )
    for kind, major, minor in SAFE:
        for name, allowed in by_v2[f"{kind} {major}:{minor}"].items():
            assert policy.permits(kind, major, minor, ACCESS[name]) == allowed, (kind, major, name)


def test_an_update_replaces_the_program(tmp_path: Path, groups: list[CGroup]) -> None:
    make_nodes(tmp_path, [("c", 1, 3), ("c", 1, 5)])
    cg = make(groups, v2_only(), ("a",), ("c 1:3 rwm",))
    assert cg.unified_path is not None
    first = device_programs(cg.unified_path)
    cg.update(devices_deny=["a"], devices_allow=["c 1:5 r"])
    second = device_programs(cg.unified_path)
    assert len(first) == len(second) == 1 and first != second
    got = probe(tmp_path, [("c", 1, 3), ("c", 1, 5)], cg.procs_paths())
    assert got["c 1:3"]["r"] is False and got["c 1:5"] == {
        "m": False,
        "r": True,
        "w": False,
        "rw": False,
    }


def test_an_update_adds_to_the_rules_as_on_v1(tmp_path: Path, groups: list[CGroup]) -> None:
    """Rules given to a live group apply to its rules (recorded on its directory), not to a
    new group's: granting one more device keeps every other one denied, as on v1.
    """
    layout = host()
    if "devices" not in layout.v1:
        pytest.skip("needs the v1 devices controller to compare with")
    make_nodes(tmp_path, SAFE)
    v1 = make(groups, CgroupLayout("v1", layout.v1_hierarchies), ("a",), ("c 1:3 rwm",))
    v2 = make(groups, v2_only(), ("a",), ("c 1:3 rwm",))
    for update in (
        {"devices_allow": ["c 1:5 r", "b 7:* rw"]},
        {"devices_deny": ["c 1:3 w", "b 7:* w"]},
        {"device_cgroup_rules": ["c 10:237 m"]},
    ):
        v1.update(**update)  # type: ignore[arg-type]
        v2.update(**update)  # type: ignore[arg-type]
        assert probe(tmp_path, SAFE, v2.procs_paths()) == probe(tmp_path, SAFE, v1.procs_paths())
    got = probe(tmp_path, SAFE, v2.procs_paths())
    assert got["c 1:3"] == {"m": True, "r": True, "w": False, "rw": False}
    assert got["b 7:0"] == {"m": False, "r": True, "w": False, "rw": False}
    assert got["c 1:11"] == {"m": False, "r": False, "w": False, "rw": False}
    assert v2.unified_path is not None and len(device_programs(v2.unified_path)) == 1


def test_rules_that_add_to_an_unrecorded_program_are_refused(groups: list[CGroup]) -> None:
    """Without the record a program's rules are unknown: adding to them could open what
    they closed, so only a list that starts over is taken.
    """
    cg = make(groups, v2_only(), ("a",), ("c 1:3 rwm",))
    assert cg.unified_path is not None
    assert stored_policy(cg.unified_path) == DevicePolicy(
        allow=False, exceptions=(DeviceException("c", 1, 3, 7),)
    )
    os.removexattr(cg.unified_path, POLICY_XATTR)
    before = device_programs(cg.unified_path)
    with pytest.raises(CgroupNotSupported, match="no record of its rules"):
        cg.update(devices_allow=["c 1:5 r"])
    assert device_programs(cg.unified_path) == before  # left as it was
    cg.update(devices_deny=["a"], devices_allow=["c 1:5 r"])
    assert stored_policy(cg.unified_path) == DevicePolicy(
        allow=False, exceptions=(DeviceException("c", 1, 5, 2),)
    )


def test_a_program_that_cannot_be_loaded_leaves_nothing(groups: list[CGroup]) -> None:
    """A real refusal: the same call from a root process without CAP_SYS_ADMIN and CAP_BPF
    (a container manager run inside a container, say) on a pure-v2 layout, where the program
    is the only device control: the create fails naming the step and removes its group.
    """
    unified = host().unified
    code = (
        "import sys\n"
        "from pycontainers.cgroups import CGroup, CgroupError, CgroupLayout\n"
        f"layout = CgroupLayout('v2', unified={unified!r})\n"
        "try:\n"
        f"    CGroup.create('refused', parent={PARENT!r}, layout=layout, devices_deny=['a'])\n"
        "except CgroupError as exc:\n"
        "    print(exc.errno, exc)\n"
        "    sys.exit(0)\n"
        "sys.exit('created')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(pc.__file__).parent.parent)}
    r = subprocess.run(
        ["setpriv", "--bounding-set", "-sys_admin,-bpf", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "BPF_PROG_LOAD" in r.stdout and "CAP_BPF" in r.stdout, r.stdout
    assert r.stdout.split()[0] == "1"  # EPERM
    assert not os.path.exists(f"{unified}/{PARENT}/refused")
    assert not os.path.exists(f"{unified}/{PARENT}")  # its parent too: the call made it


def test_a_hybrid_group_gets_the_program_and_the_v1_rules(groups: list[CGroup]) -> None:
    layout = host()
    if layout.kind != "hybrid" or "devices" not in layout.v1:
        pytest.skip("needs a hybrid host with the v1 devices controller")
    cg = make(groups, layout, ("a",), ("c 1:3 rwm",))
    assert cg.unified_path is not None and len(device_programs(cg.unified_path)) == 1
    with open(f"{layout.v1['devices']}/{cg.path}/devices.list") as f:
        assert f.read().split("\n")[0] == "c 1:3 rwm"


def test_a_bad_program_attach_on_v2_is_a_cgroup_error(tmp_path: Path) -> None:
    from pycontainers.cgroups._devbpf import attach_device_rules

    with pytest.raises(CgroupError, match="not a cgroup2 directory") as info:
        attach_device_rules(str(tmp_path), [DeviceRule.parse("d", "a")], [])
    assert info.value.path == str(tmp_path)


# -- containers -----------------------------------------------------------------------------------


def lift_v1_rules(c: pc.Container) -> None:
    """Allow every device in the container's v1 devices group: from here on only the
    program on its unified group stands between it and the host's devices.
    """
    layout = detect_layout()
    if "devices" not in layout.v1:
        return  # nothing to lift: the program is the only device control already
    group = f"{layout.v1['devices']}/{c.cgroup.path}"
    with open(f"{group}/devices.allow", "w") as f:
        f.write("a")
    with open(f"{group}/devices.list") as f:
        assert f.read().strip() == "a *:* rwm"


def test_a_default_container_cannot_open_a_block_device_it_makes(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    """Docker's default device list, with the container's v1 device rules lifted: it may
    mknod a block device (loop0, which the host's root opens) in a directory it has from
    the host, and still not open it; /dev/null's numbers open, loop-control's do not.
    """
    probe_sh = (
        "mknod /mnt/blk b 7 0 && echo made; "
        "head -c 512 /mnt/blk > /dev/null && echo READ-BLOCK; "
        "mknod /mnt/null c 1 3 && echo x > /mnt/null && echo null-ok; "
        "mknod /mnt/lc c 10 237 && true < /mnt/lc && echo OPENED-LOOP-CONTROL; true"
    )
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "60"], network="none",
        mounts=[pc.Mount("/mnt", str(tmp_path))],
    ) as c:  # fmt: skip
        c.start()
        assert c.cgroup.unified_path is not None
        assert len(device_programs(c.cgroup.unified_path)) == 1
        lift_v1_rules(c)
        r = c.exec(["sh", "-c", probe_sh], capture_output=True, timeout=30)
    out, err = r.stdout.decode().split(), r.stderr.decode()
    assert out == ["made", "null-ok"], (out, err)
    assert err.count("Operation not permitted") == 2, err


def test_a_device_grants_exactly_that_device(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    """``--device /dev/loop-control:/dev/lc:r`` with the v1 rules lifted: the program lets
    the container open it for reading (at its path and as a node it makes), not for
    writing, and not loop0 (b 7:0), which it may only mknod.
    """
    probe_sh = (
        "true < /dev/lc && echo read-lc; "
        "true > /dev/lc && echo OPENED-LC-FOR-WRITING; "
        "mknod /mnt/lc2 c 10 237 && true < /mnt/lc2 && echo read-lc2; "
        "mknod /mnt/blk b 7 0 && echo made-blk; "
        "true < /mnt/blk && echo OPENED-BLOCK; true"
    )
    with pc.Container.create(
        str(busybox_rootfs), ["sleep", "60"], network="none", devices=["/dev/loop-control:/dev/lc:r"],
        mounts=[pc.Mount("/mnt", str(tmp_path))],
    ) as c:  # fmt: skip
        c.start()
        lift_v1_rules(c)
        r = c.exec(["sh", "-c", probe_sh], capture_output=True, timeout=30)
    out, err = r.stdout.decode().split(), r.stderr.decode()
    assert out == ["read-lc", "read-lc2", "made-blk"], (out, err)
    assert err.count("Operation not permitted") == 2, err


# -- a parent group that refuses our program ------------------------------------------------------

_NR_BPF = {"x86_64": 321, "aarch64": 280}


def attach_exclusive_program(directory: str) -> None:
    """Attach an allow-all device program to ``directory`` *without* BPF_F_ALLOW_MULTI, as
    a manager that wants the only word on a subtree may: the kernel then refuses any device
    program below it. Test scaffolding (a foreign manager's doing), through the raw syscall.
    """
    import ctypes
    import platform

    from pycontainers.cgroups._devbpf import DevicePolicy, compile_policy

    nr = _NR_BPF.get(platform.machine())
    if nr is None:
        pytest.skip(f"the bpf syscall number of {platform.machine()} is not known here")
    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(compile_policy(DevicePolicy(allow=True)))
    license = ctypes.create_string_buffer(b"Apache")
    # union bpf_attr for BPF_PROG_LOAD: type 15 (CGROUP_DEVICE), expected attach type 6
    load = struct.pack(
        "=IIQQIIQII16sII",
        15,
        (len(code) - 1) // 8,
        ctypes.addressof(code),
        ctypes.addressof(license),
        0, 0, 0, 0, 0, b"", 0, 6,
    )  # fmt: skip
    attr = ctypes.create_string_buffer(load.ljust(128, b"\0"), 128)
    prog = libc.syscall(nr, 5, attr, 128)  # BPF_PROG_LOAD
    assert prog >= 0, os.strerror(ctypes.get_errno())
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        attr = ctypes.create_string_buffer(
            struct.pack("=IIII", fd, prog, 6, 0).ljust(128, b"\0"), 128
        )
        assert libc.syscall(nr, 8, attr, 128) == 0, os.strerror(ctypes.get_errno())  # ATTACH
    finally:
        os.close(fd)
        os.close(prog)


@pytest.fixture
def exclusive_parent() -> Iterator[str]:
    """A parent group in the unified tree holding an exclusive device program; removed
    (with its program) at teardown, after checking no group was left in it.
    """
    name = f"pycontainers-devbpf-excl-{os.getpid()}"
    directory = f"{host().unified}/{name}"
    os.mkdir(directory)
    try:
        attach_exclusive_program(directory)
        yield name
        left = (
            [e.name for e in os.scandir(directory) if e.is_dir()]
            if os.path.isdir(directory)
            else []
        )
        assert not left, f"groups left in {directory}: {left}"
    finally:  # (a container's last exit removes its empty parent itself)
        for root in {*detect_layout().v1.values(), host().unified}:
            if os.path.isdir(f"{root}/{name}"):
                os.rmdir(f"{root}/{name}")


PURE_V2 = [
    "unshare", "-m", "--propagation", "private", "sh", "-c",
    'umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', "sh",
]  # fmt: skip
"""Run a command where /sys/fs/cgroup is the host's cgroup2 tree alone: a pure-v2 host as
pycontainers sees it (mountinfo lists no v1 hierarchy), with the same groups and kernel.
"""


def pure_v2(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(pc.__file__).parent.parent)}
    return subprocess.run(
        [*PURE_V2, sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_a_container_on_a_pure_v2_host_is_held_by_the_program(
    busybox_rootfs: Path, tmp_path: Path, no_leaks: object
) -> None:
    """No v1 devices controller at all: the container's group is in the cgroup2 tree only,
    and the program alone keeps it from opening the block device it makes.
    """
    code = (
        "import json, sys\n"
        "import pycontainers as pc\n"
        "from pycontainers.cgroups import detect_layout\n"
        "assert detect_layout().kind == 'v2', detect_layout()\n"
        "probe = 'mknod /mnt/blk b 7 0 && echo made; true < /mnt/blk && echo OPENED; "
        "mknod /mnt/null c 1 3 && true > /mnt/null && echo null-ok; true'\n"
        "with pc.Container.create(sys.argv[1], ['sleep', '60'], network='none',\n"
        "                         mounts=[pc.Mount('/mnt', sys.argv[2])]) as c:\n"
        "    c.start()\n"
        "    r = c.exec(['sh', '-c', probe], capture_output=True, timeout=30)\n"
        "    print(json.dumps([sorted(c.cgroup.paths), r.stdout.decode(), r.stderr.decode()]))\n"
    )
    r = pure_v2(code, str(busybox_rootfs), str(tmp_path))
    assert r.returncode == 0, r.stderr
    paths, out, err = json.loads(r.stdout)
    assert paths == ["unified"]
    assert out.split() == ["made", "null-ok"] and "Operation not permitted" in err, (out, err)


def test_a_start_whose_program_is_refused_fails_and_leaves_nothing(
    busybox_rootfs: Path, exclusive_parent: str, no_leaks: object
) -> None:
    """Pure v2 (the program is the only device control): a parent group holding an
    exclusive device program makes the kernel refuse ours, and the start fails closed with
    a CgroupError naming the step; no group, container or state is left.
    """
    code = (
        "import json, sys\n"
        "import pycontainers as pc\n"
        "from pycontainers.errors import PyContainersError\n"
        "before = [c.id for c in pc.Container.list()]\n"
        "try:\n"
        "    pc.run(sys.argv[1], ['true'], network='none', cgroup_parent=sys.argv[2],\n"
        "           devices=['/dev/null:/dev/n'])\n"
        "    error = None\n"
        "except PyContainersError as exc:\n"
        "    error = [type(exc).__name__, str(exc), getattr(exc, 'errno', None)]\n"
        "after = [c.id for c in pc.Container.list()]\n"
        "print(json.dumps([error, before == after]))\n"
    )
    r = pure_v2(code, str(busybox_rootfs), exclusive_parent)
    assert r.returncode == 0, r.stderr
    error, same_containers = json.loads(r.stdout)
    assert error is not None, "the container started without its device program"
    kind, message, code_ = error
    assert kind == "CgroupError" and "BPF_PROG_ATTACH" in message and code_ == 1, error
    assert "BPF_F_ALLOW_MULTI" in message  # the hint says why
    assert same_containers


def test_on_a_hybrid_host_a_refused_program_leaves_the_v1_rules(
    busybox_rootfs: Path, tmp_path: Path, exclusive_parent: str, no_leaks: object
) -> None:
    """With the v1 devices controller there, the program is defence in depth: refused, it
    is logged and the container starts, held by its v1 rules.
    """
    layout = host()
    if "devices" not in layout.v1:
        pytest.skip("needs the v1 devices controller")
    probe_sh = "mknod /mnt/lc c 10 237 && true < /mnt/lc && echo OPENED; true"
    r = pc.run(
        str(busybox_rootfs), ["sh", "-c", probe_sh], network="none",
        cgroup_parent=exclusive_parent, capture_output=True, timeout=60,
        devices=["/dev/null:/dev/n"],
        mounts=[pc.Mount("/mnt", str(tmp_path))],
    )  # fmt: skip
    assert r.returncode == 0 and r.stdout == b"", r.stdout
    assert b"Operation not permitted" in r.stderr, r.stderr
