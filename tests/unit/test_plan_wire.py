"""The packed plan (``_native/plan_wire.c``), which the warm OCI runtime's worker sends to
the C front end: packed, then unpacked with other fds, it is the same C struct again, field
by field (a field added to ``shim.h`` and not compared here fails the comparison); malformed
bytes are refused (NULL, EINVAL) and never make the unpacked plan point outside its buffer.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from pycontainers import _plan, _sys
from pycontainers._plan import Op, Plan
from pycontainers.errors import SyscallError

ffi, lib = _sys.ffi, _sys.lib
HEADER = 24  # magic, version, sizeof(struct pc_plan), sizeof(struct pc_op), length (8)
LEN_AT = 16  # the length in the header
STRINGS = ("rootfs", "rootfs_fstype", "rootfs_source", "rootfs_data", "hostname",
           "domainname", "cwd", "path", "start_fifo", "timens_offsets")  # fmt: skip
Fd = Callable[[int], int]


@pytest.fixture
def fds() -> Iterator[list[int]]:
    opened = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(9)]
    yield opened
    for fd in opened:
        os.close(fd)


def rich_plan(fds: list[int]) -> Plan:
    """Every field of the plan set, each op kind, NULs in a file's data and the filter."""
    join_net, join_ipc, tree, fifo, cg1, cg2, cgdir, idmapped, out = fds
    return Plan(
        argv=("/bin/sh", "-c", "echo ok", ""),
        env=("A=1", "EMPTY="),
        path="/bin/sh",
        clone_flags=_sys.CLONE_NEWNS | _sys.CLONE_NEWUTS | _sys.CLONE_NEWPID,
        joins=((join_net, _sys.CLONE_NEWNET), (join_ipc, _sys.CLONE_NEWIPC)),
        rootfs="/var/lib/r",
        rootfs_fstype="overlay",
        rootfs_source="overlay",
        rootfs_data="lowerdir=/a,upperdir=/b,workdir=/c",
        rootfs_propagation=_plan.MS_SLAVE | _plan.MS_REC,
        readonly_rootfs=True,
        rootfs_flags=_plan.MS_NODEV,
        rootfs_tree_fd=tree,
        ops=(
            Op(
                _plan.OP_MOUNT,
                "/proc",
                source="proc",
                fstype="proc",
                data="hidepid=2",
                flags=_plan.MS_NOSUID,
                propagation=_plan.MS_PRIVATE,
            ),
            Op(
                _plan.OP_BIND,
                "/data",
                source="/srv/data",
                flags=_plan.MS_RDONLY,
                options=_plan.OPT_RECURSIVE | _plan.OPT_RRO,
            ),
            Op(_plan.OP_BIND, "/idmapped", options=_plan.OPT_TREE, mode=0),
            Op(_plan.OP_MKNOD, "/dev/null", mode=0o20666, dev=(1 << 8) | 3),
            Op(_plan.OP_SYMLINK, "/dev/fd", source="/proc/self/fd"),
            Op(_plan.OP_MKDIR, "/run/x", mode=0o755, options=_plan.OPT_STRICT),
            Op(_plan.OP_WRITE, "/etc/hostname", data=b"box\x00with\x00NULs\n", mode=0o644),
            Op(_plan.OP_WRITE, "/etc/empty", data=b"", mode=0o600),
            Op(_plan.OP_WRITE, "/etc/text", data="text\n", mode=0o644),
            Op(_plan.OP_BIND_DEV, "/dev/tty", source="/dev/tty", options=_plan.OPT_FILE),
            Op(_plan.OP_MASK, "/proc/kcore"),
            Op(_plan.OP_READONLY, "/proc/sys", options=_plan.OPT_OPTIONAL),
            Op(
                _plan.OP_DEVICE,
                "/dev/fuse",
                mode=0o20600,
                dev=(10 << 8) | 229,
                flags=1000,
                propagation=1000,
                options=_plan.OPT_HOSTNODE,
            ),
        ),
        hostname="box",
        domainname="",
        rlimits=((7, 1024, 2048), (6, 2**64 - 1, 2**64 - 1)),
        ids=(1000, 1001, (10, 20, 30)),
        umask=0o027,
        cwd="/home",
        fds=((-1, 0), (out, 1), (out, 2), (join_net, 7)),  # /dev/null, one fd twice, shared
        start_fifo="/run/x/start.fifo",
        start_fifo_fd=fifo,
        init=True,
        new_session=2,
        console_sock=5,
        no_new_privs=True,
        pdeathsig=9,
        no_sync=True,
        cgroup_fds=(cg1, cg2),
        cgroup_v2_fd=cgdir,
        cgroup_v2_index=1,
        unshare_flags=_sys.CLONE_NEWCGROUP | _sys.CLONE_NEWTIME,
        capabilities=(0xA80425FB, 0xA80425FB, 0xA80425FB, 1, 2),
        cap_last=40,
        seccomp_bpf=bytes(range(256)) * 2,
        seccomp_flags=1,
        console_size=(24, 80),
        mount_trees=(idmapped,),
        seccomp_listener=True,
        timens_offsets="monotonic 5 0\nboottime 1 0\n",
        clone_parent=True,
    )


def _array(ptr: Any, count: int, item: Callable[[Any], Any]) -> list[Any] | None:
    return None if ptr == ffi.NULL else [item(ptr[i]) for i in range(count)]


def _string(ptr: Any) -> bytes | None:
    return None if ptr == ffi.NULL else ffi.string(ptr)


def _vector(ptr: Any) -> list[bytes] | None:
    if ptr == ffi.NULL:
        return None
    out: list[bytes] = []
    while ptr[len(out)] != ffi.NULL:
        out.append(ffi.string(ptr[len(out)]))
    return out


def _op(op: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in ffi.typeof("struct pc_op").fields:
        value = getattr(op, name)
        if field.type.kind == "primitive":
            out[name] = value
        elif name == "data" and op.kind == _plan.OP_WRITE and value != ffi.NULL:
            out[name] = bytes(ffi.buffer(value, op.data_len))
        else:
            assert name in ("source", "target", "fstype", "data"), f"unknown op field {name}"
            out[name] = _string(value)
    return out


def _pointers(p: Any, fd: Fd) -> dict[str, Callable[[], Any]]:
    """How each pointer field of ``struct pc_plan`` reads (a new one is missing: KeyError)."""

    def string(name: str) -> Callable[[], bytes | None]:
        return lambda: _string(getattr(p, name))

    return {
        "joins": lambda: _array(p.joins, p.n_joins, lambda j: (fd(j.fd), j.nstype)),
        "ops": lambda: _array(p.ops, p.n_ops, _op),
        "rlimits": lambda: _array(p.rlimits, p.n_rlimits, lambda r: (r.resource, r.soft, r.hard)),
        "groups": lambda: _array(p.groups, max(p.n_groups, 0), int),
        "argv": lambda: _vector(p.argv),
        "envp": lambda: _vector(p.envp),
        "fds": lambda: _array(p.fds, p.n_fds, lambda f: (fd(f.src), f.dst)),
        "cgroup_fds": lambda: _array(p.cgroup_fds, p.n_cgroup_fds, fd),
        "mount_trees": lambda: _array(p.mount_trees, p.n_mount_trees, fd),
        "seccomp_bpf": lambda: (
            None if p.seccomp_bpf == ffi.NULL else bytes(ffi.buffer(p.seccomp_bpf, p.seccomp_len))
        ),
        **{name: string(name) for name in STRINGS},
    }


def snapshot(p: Any, fd: Fd) -> dict[str, Any]:
    """Every field of the C plan ``p`` as Python values, its fds passed through ``fd``."""
    pointers = _pointers(p, fd)
    out: dict[str, Any] = {}
    for name, field in ffi.typeof("struct pc_plan").fields:
        value = getattr(p, name)
        if name in ("rootfs_tree_fd", "start_fifo_fd") or (
            name == "cgroup_v2_fd" and p.cgroup_v2_slot
        ):
            out[name] = fd(value)
        elif field.type.kind == "primitive":
            out[name] = value
        else:
            out[name] = pointers[name]()
    return out


def unpack(data: bytes, fds: list[int]) -> tuple[Any, Any]:
    """The unpacked plan (or NULL) and the malloc'd buffer it lives in."""
    buf = ffi.new("unsigned char[]", data)
    ffi.errno = 0
    return lib.pc_plan_unpack(buf, len(data), fds, len(fds)), buf


def assert_inside(p: Any, buf: Any, size: int) -> None:
    """Every pointer of the unpacked plan names bytes of its buffer, strings with their NUL."""
    base = int(ffi.cast("uintptr_t", buf))
    raw = bytes(ffi.buffer(buf, size))

    def region(ptr: Any, length: int) -> int:
        off = int(ffi.cast("uintptr_t", ptr)) - base
        assert off >= 0 and off + length <= size, (off, length, size)
        return off

    def string(ptr: Any) -> None:
        if ptr != ffi.NULL:
            assert raw.find(b"\0", region(ptr, 1)) >= 0

    def vector(ptr: Any) -> None:
        if ptr == ffi.NULL:
            return
        off = region(ptr, 8)
        while (slot := struct.unpack_from("=Q", raw, off)[0]) != 0:
            string(ffi.cast("char *", slot))
            off = region(ffi.cast("char *", base + off + 8), 8)

    for name in STRINGS:
        string(getattr(p, name))
    vector(p.argv)
    vector(p.envp)
    for name, count, ctype in (("joins", "n_joins", "struct pc_join"), ("ops", "n_ops", "struct pc_op"),
                               ("rlimits", "n_rlimits", "struct pc_rlimit"), ("fds", "n_fds", "struct pc_fdmap"),
                               ("cgroup_fds", "n_cgroup_fds", "int"), ("mount_trees", "n_mount_trees", "int"),
                               ("groups", "n_groups", "unsigned int")):  # fmt: skip
        if getattr(p, name) != ffi.NULL:
            region(getattr(p, name), max(getattr(p, count), 0) * ffi.sizeof(ctype))
    if p.seccomp_bpf != ffi.NULL:
        region(p.seccomp_bpf, p.seccomp_len)
    for i in range(p.n_ops if p.ops != ffi.NULL else 0):
        op = p.ops[i]
        for name in ("source", "target", "fstype"):
            string(getattr(op, name))
        if op.kind == _plan.OP_WRITE and op.data != ffi.NULL:
            region(op.data, op.data_len)
        else:
            string(op.data)


def roundtrip(plan: Plan) -> None:
    """Pack ``plan``, unpack it with dups of its fds: the same C plan, fds replaced."""
    builder = _sys._Builder()
    original = builder.plan(plan)
    data, sent = _sys.pack_plan(plan)
    assert len(sent) == len(set(sent)) and all(fd >= 0 for fd in sent)
    received = [os.dup(fd) for fd in sent]
    try:
        unpacked, buf = unpack(data, received)
        assert unpacked != ffi.NULL, os.strerror(ffi.errno)
        assert_inside(unpacked, buf, len(data))
        moved = dict(zip(sent, received, strict=True))
        named: set[int] = set()

        def mapped(fd: int) -> int:
            if fd < 0:
                return fd
            named.add(fd)
            return moved[fd]

        expected = snapshot(original, mapped)
        assert snapshot(unpacked, lambda fd: fd) == expected
        assert named == set(sent)  # each fd sent is one the plan names
    finally:
        for fd in received:
            os.close(fd)


def test_a_rich_plan_comes_back_field_by_field(fds: list[int]) -> None:
    plan = rich_plan(fds)
    roundtrip(plan)
    roundtrip(attrs.evolve(plan, no_setgroups=True))  # n_groups -1: groups not read


def test_a_minimal_plan_comes_back(fds: list[int]) -> None:
    roundtrip(Plan(argv=None))  # NULL argv: hold; no rootfs, no fds
    roundtrip(Plan(argv=None, ids=(0, 0, ()), no_setgroups=True, fds=((-1, 0),)))
    roundtrip(Plan(argv=("/bin/true",), env=(), host_tool=True, hostname=""))


def test_the_fds_are_sent_once_each(fds: list[int]) -> None:
    _, sent = _sys.pack_plan(rich_plan(fds))
    assert sorted(sent) == sorted(fds)  # `out` twice and join_net in fds: one slot each
    _, sent = _sys.pack_plan(Plan(argv=None, fds=((-1, 0), (-1, 1))))
    assert sent == []


def test_pack_refuses_what_spawn_refuses_and_too_many_fds() -> None:
    with pytest.raises(ValueError, match="capabilities"):
        _sys.pack_plan(Plan(argv=("/bin/true",)))
    many = Plan(argv=None, fds=tuple((1000 + i, i) for i in range(_sys.PACK_MAX_FDS + 1)))
    with pytest.raises(SyscallError) as info:
        _sys.pack_plan(many)
    assert info.value.errno == errno.E2BIG


def _pack_c(cplan: Any) -> int:
    out, size, count = ffi.new("unsigned char **"), ffi.new("size_t *"), ffi.new("int *")
    fds = ffi.new("int[]", 8)
    rc = lib.pc_plan_pack(cplan, out, size, fds, 8, count)
    if rc == 0:
        lib.pc_plan_free(out[0])
    return int(rc)


def test_pack_refuses_negative_counts_and_counts_without_arrays() -> None:
    builder = _sys._Builder()
    cplan = builder.plan(Plan(argv=None, rlimits=((7, 1, 1),)))
    assert _pack_c(cplan) == 0
    for field, value in (("n_ops", -1), ("n_joins", -1), ("n_groups", -2), ("n_ops", 1)):
        saved = getattr(cplan, field)
        setattr(cplan, field, value)
        assert _pack_c(cplan) == -errno.EINVAL, (field, value)
        setattr(cplan, field, saved)
    cplan.n_groups = -1
    assert _pack_c(cplan) == 0


@pytest.fixture
def packed(fds: list[int]) -> tuple[bytes, list[int]]:
    return _sys.pack_plan(rich_plan(fds))


def refused(data: bytes, fds: list[int]) -> bool:
    p, _ = unpack(data, fds)
    return bool(p == ffi.NULL and ffi.errno == errno.EINVAL)


def with_len(data: bytes) -> bytes:
    """``data`` with the header's length made its own (for the checks past that one)."""
    return data[:LEN_AT] + struct.pack("=Q", len(data)) + data[LEN_AT + 8 :]


def put(data: bytes, at: int, fmt: str, value: int) -> bytes:
    raw = bytearray(data)
    struct.pack_into(fmt, raw, at, value)
    return bytes(raw)


def plan_at(field: str) -> int:
    return HEADER + int(ffi.offsetof("struct pc_plan", field))


def test_every_truncation_is_refused(packed: tuple[bytes, list[int]]) -> None:
    data, fds = packed
    assert not refused(data, fds)
    for size in range(len(data)):
        assert refused(data[:size], fds), size
        if size >= HEADER:
            assert refused(with_len(data[:size]), fds), size  # past the length check


def test_a_bad_header_fd_index_or_alignment_is_refused(packed: tuple[bytes, list[int]]) -> None:
    data, fds = packed
    for at in (0, 4, 8, 12, LEN_AT):  # magic, version, sizes, length
        assert refused(put(data, at, "=I", struct.unpack_from("=I", data, at)[0] ^ 1), fds), at
    assert refused(data, fds[:-1]) and refused(data, [])
    assert lib.pc_plan_unpack(ffi.NULL, len(data), fds, len(fds)) == ffi.NULL
    odd = ffi.new("unsigned char[]", len(data) + 1)
    ffi.memmove(odd + 1, data, len(data))
    assert lib.pc_plan_unpack(odd + 1, len(data), fds, len(fds)) == ffi.NULL


def test_named_malformations_are_refused(packed: tuple[bytes, list[int]]) -> None:
    data, fds = packed
    ptr = "=Q"
    joins = struct.unpack_from(ptr, data, plan_at("joins"))[0]
    for what, bad in (
        ("a count over the buffer", put(data, plan_at("n_ops"), "=i", 2**31 - 1)),
        ("a negative count", put(data, plan_at("n_joins"), "=i", -1)),
        ("n_groups below -1", put(data, plan_at("n_groups"), "=i", -2)),
        ("a huge seccomp_len", put(data, plan_at("seccomp_len"), ptr, 2**64 - 8)),
        ("an offset at the end", put(data, plan_at("rootfs"), ptr, len(data))),
        ("an offset past the end", put(data, plan_at("cwd"), ptr, 2**63)),
        ("an offset into the plan", put(data, plan_at("hostname"), ptr, HEADER)),
        ("an earlier region again", put(data, plan_at("argv"), ptr, joins)),
        ("a misaligned array", put(data, plan_at("joins"), ptr, joins + 1)),
        ("a count without its array", put(data, plan_at("mount_trees"), ptr, 0)),
        ("a string without its NUL", data[:-1] + b"x"),  # timens_offsets is the last
        ("a bad fd index", put(data, plan_at("start_fifo_fd"), "=i", len(fds))),
    ):
        assert refused(bad, fds), what


@pytest.mark.parametrize("xor", [0x01, 0x08, 0x80, 0xFF])
def test_flipped_bytes_are_refused_or_stay_inside(
    packed: tuple[bytes, list[int]], xor: int
) -> None:
    data, fds = packed
    accepted = 0
    for at in range(len(data)):
        bad = bytearray(data)
        bad[at] ^= xor
        p, buf = unpack(bytes(bad), fds)
        if p == ffi.NULL:
            assert ffi.errno == errno.EINVAL
        else:  # a value changed (a flag, a character), or an offset to the next good place
            accepted += 1
            assert_inside(p, buf, len(data))
    assert 0 < accepted < len(data)
