"""The plan step is pure: the same spec and inputs give the same plan, byte for byte, as
recorded in ``golden/plans.json``. No root, no files: the rootfs paths need not exist.

After an intended change of the plan, regenerate the file with
``PYCONTAINERS_UPDATE_GOLDEN=1 python3 -m pytest tests/unit/test_plan_golden.py`` and review
the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pytest

import pycontainers as pc
from pycontainers._plan import Op, Plan
from pycontainers.runtime.confine import Confinement
from pycontainers.runtime.plan import PlanInputs, make_plan

GOLDEN = Path(__file__).parent / "golden" / "plans.json"
CAPS = 0xA80425FB
SECURITY = Confinement((CAPS, CAPS, CAPS, 0, 0), 63, b"\x06\x00\x00\x00\x00\x00\xff\x7f", 0,
                       True, ((7, 1024, 1024),), False)  # fmt: skip
MAP = (pc.IdMapping(0, 100000, 65536),)


def process(**kw: Any) -> pc.Process:
    return pc.Process(args=("sh", "-c", "true"), **kw)


CASES: dict[str, tuple[pc.ContainerSpec, PlanInputs, dict[str, Any]]] = {
    "directory": (
        pc.ContainerSpec(rootfs="/no/such/rootfs", process=process(env={"A": "1"}),
                         hostname="box", mounts=[pc.Mount("/data", "/srv/data", read_only=True)]),
        PlanInputs("box", "/no/such/rootfs", (), (0, 0, ()), SECURITY),
        {"fds": ((0, 0), (1, 1), (2, 2))},
    ),
    "host image, detached, cgroup": (
        pc.ContainerSpec(rootfs="host", process=process(user="1000:1000"), readonly_rootfs=True),
        PlanInputs("0123456789ab", None,
                   (Op(6, "/etc/hostname", data="0123456789ab\n", mode=0o644),),
                   (1000, 1000, ()), SECURITY),
        {"fds": ((5, 0),), "host_mountpoint": "/run/pc/.mnt", "cgroup_fds": (9, 10),
         "detached": True, "start_fifo": "/run/pc/x/start.fifo", "start_fifo_fd": 11},
    ),
    "user namespace, privileged": (
        pc.ContainerSpec(rootfs="/r", process=process(), namespaces=["user", "mnt", "pid", "uts"],
                         uid_mappings=MAP, gid_mappings=MAP,
                         security=pc.SecurityOptions(privileged=True)),
        PlanInputs(None, "/r", (), (0, 0, (10, 20)), attrs.evolve(SECURITY, seccomp_bpf=None)),
        {"fds": (), "netns_fd": 12, "console": True},
    ),
    "joined pid namespace": (
        pc.ContainerSpec(rootfs="/r", process=process(), namespaces=["mnt", "uts", "ipc", "net"],
                         join=[("pid", "/proc/7/ns/pid")]),
        PlanInputs(None, "/r", (), (0, 0, ()), SECURITY),
        {"fds": (), "join_fds": (("pid", 13),), "start_fifo": "/run/pc/y/start.fifo"},
    ),
}  # fmt: skip


def plain(plan: Plan) -> Any:
    """The plan as JSON-ready data (bytes as hex)."""

    def conv(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.hex()
        if isinstance(value, (tuple, list)):
            return [conv(v) for v in value]
        if isinstance(value, dict):
            return {k: conv(v) for k, v in value.items()}
        return value

    return conv(attrs.asdict(plan, recurse=True))


def test_plans_match_the_golden_file() -> None:
    plans = {
        name: plain(make_plan(spec, inputs, **kw)) for name, (spec, inputs, kw) in CASES.items()
    }
    if os.environ.get("PYCONTAINERS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(plans, indent=1, sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    for name in CASES:
        assert plans[name] == golden[name], f"plan of {name!r} changed (see the module docstring)"


@pytest.mark.parametrize("name", list(CASES))
def test_the_same_inputs_give_the_same_plan(name: str) -> None:
    spec, inputs, kw = CASES[name]
    assert make_plan(spec, inputs, **kw) == make_plan(spec, inputs, **kw)


def test_only_an_attached_process_entering_a_pid_namespace_is_handed_over() -> None:
    """``clone_parent``: with a joined pid namespace, or one made after a joined user
    namespace; not under a monitor (it waits for its own child), not with a new one."""
    spec, inputs, kw = CASES["joined pid namespace"]
    assert make_plan(spec, inputs, **kw).clone_parent
    assert not make_plan(spec, inputs, **kw, detached=True).clone_parent
    userns = attrs.evolve(spec, namespaces={"mnt", "pid"}, join=[("user", "/proc/7/ns/user")])
    assert make_plan(userns, inputs, fds=(), join_fds=(("user", 14),)).clone_parent
    own = attrs.evolve(spec, namespaces={"mnt", "pid"}, join=())
    assert not make_plan(own, inputs, fds=()).clone_parent
