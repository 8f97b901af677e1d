"""pycontainers-runtime's pure parts: sysctls in the spec and the plan, linux.resources,
exec's process file, the error log line, features and the spec template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers._plan import OP_WRITE, OPT_STRICT
from pycontainers.errors import OciConfigError, SpecError
from pycontainers.fs.rootfs import sysctl_ops
from pycontainers.oci import from_config, to_config
from pycontainers.oci.resources import DEFAULT_ALLOWED, oci_resources
from pycontainers.ociruntime.execute import read_process
from pycontainers.ociruntime.info import features_doc, template
from pycontainers.ociruntime.report import Reporter


def spec(**kw: Any) -> pc.ContainerSpec:
    return pc.ContainerSpec(rootfs="/", process=pc.Process(args=("true",)), **kw)


def test_sysctls_are_namespaced_ones_of_namespaces_the_container_has() -> None:
    s = spec(sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmax": "4096"})
    assert s.sysctls == (("kernel.shmmax", "4096"), ("net.ipv4.ip_forward", "1"))
    with pytest.raises(SpecError, match=r"sysctls\.kernel\.panic: not a namespaced sysctl"):
        spec(sysctls={"kernel.panic": "1"})
    with pytest.raises(SpecError, match=r"needs the container's own 'net' namespace"):
        spec(sysctls={"net.ipv4.ip_forward": "1"}, namespaces={"mnt", "pid"})
    joined = spec(sysctls={"net.ipv4.ip_forward": "1"}, namespaces={"mnt"}, netns="/run/netns/x")
    assert joined.sysctls  # a joined network namespace is the container's too
    with pytest.raises(SpecError, match="not a sysctl name"):
        spec(sysctls={"../../etc/passwd": "x"})
    with pytest.raises(SpecError, match="must be a string"):
        spec(sysctls={"net.ipv4.ip_forward": 1})


def test_sysctls_become_strict_writes_under_proc_sys_and_round_trip() -> None:
    ops = sysctl_ops((("net.ipv4.ping_group_range", "0 0"),))
    assert [(o.kind, o.target, o.data, o.options & OPT_STRICT) for o in ops] == [
        (OP_WRITE, "/proc/sys/net/ipv4/ping_group_range", "0 0", OPT_STRICT)
    ]
    s = spec(sysctls={"net.core.somaxconn": "1024"})
    doc = to_config(s)
    assert doc["linux"]["sysctl"] == {"net.core.somaxconn": "1024"}
    assert from_config(doc).spec == s
    doc["linux"]["sysctl"]["net.core.somaxconn"] = 5
    with pytest.raises(OciConfigError) as info:
        from_config(doc)
    assert info.value.field == "linux.sysctl.net.core.somaxconn"


def test_linux_resources_map_to_limits_with_the_default_devices() -> None:
    res = oci_resources({
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 60},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
        "pids": {"limit": 100},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
    })  # fmt: skip
    assert (res.memory_max, res.memory_low, res.pids_max) == (64 << 20, 32 << 20, 100)
    assert (res.cpu_shares, res.cpu_quota, res.cpu_period, res.cpuset_cpus) == (
        512,
        50000,
        100000,
        "0",
    )
    assert [str(r) for r in res.devices_deny] == ["a *:* rwm"]
    assert [str(r) for r in res.devices_allow] == ["c 10:229 rw", *DEFAULT_ALLOWED]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"memory": {"limit": "lots"}}, "linux.resources.memory.limit"),
        ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
        ({"memory": {"disableOOMKiller": 1}}, "linux.resources.memory.disableOOMKiller"),
        ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle"),
        ({"cpu": {"realtimeRuntime": 2000, "realtimePeriod": 1000}},
         "linux.resources.cpu.realtimeRuntime"),
        ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 5}]}},
         "linux.resources.blockIO.weightDevice"),
        ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}},
         "linux.resources.blockIO.weightDevice[0]"),
        ({"network": {"priorities": [{"name": "eth0"}]}}, "linux.resources.network.priorities[0]"),
        ({"network": {"classID": -1}}, "linux.resources.network.classID"),
        ({"rdma": {"x": {}}}, "linux.resources.rdma"),
        ({"unified": {"memory.max": 5}}, "linux.resources.unified.memory.max"),
        ({"unified": {"../memory.max": "5"}}, "linux.resources.unified"),
        ({"unified": {"cgroup.procs": "1"}}, "linux.resources.unified"),
        ({"unified": {"nodot": "1"}}, "linux.resources.unified"),
        ({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 3},
                      {"allow": False, "type": "c", "major": 1, "minor": 5}]},
         "linux.resources.devices[1]"),
        ({"devices": [{"allow": "yes"}]}, "linux.resources.devices[0].allow"),
        ({"blockIO": {"throttleReadBpsDevice": [{"major": 8}]}},
         "linux.resources.blockIO.throttleReadBpsDevice[0]"),
        ({"pids": {"limit": 0.5}}, "linux.resources.pids.limit"),
    ],
)  # fmt: skip
def test_linux_resources_refusals_name_the_json_path(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(OciConfigError) as info:
        oci_resources(doc)
    assert info.value.field == field


def test_an_exec_process_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"args": ["sh"], "env": ["A=1"], "cwd": "/w",
                                "user": {"uid": 5, "gid": 6, "additionalGids": [7]},
                                "capabilities": {"bounding": ["CAP_KILL"]},
                                "noNewPrivileges": True, "terminal": True}))  # fmt: skip
    p = read_process(str(path))
    assert (p.args, p.env, p.cwd, p.uid, p.gid, p.additional_gids) == (
        ("sh",),
        ("A=1",),
        "/w",
        5,
        6,
        (7,),
    )
    # the sets are checked against the container's spec when the exec is planned
    assert p.capabilities == {"bounding": ["CAP_KILL"]} and p.no_new_privs and p.terminal
    for doc, field in (({"args": []}, "args"), ({"args": ["x"], "env": ["noequals"]}, "env"),
                       ({"args": ["x"], "cwd": "rel"}, "cwd"),
                       ({"args": ["x"], "user": {"uid": -1}}, "user.uid"),
                       ({"args": ["x"], "selinuxLabel": "s0"}, "selinuxLabel"),
                       ({"args": ["x"], "capabilities": ["CAP_KILL"]}, "capabilities")):  # fmt: skip
        path.write_text(json.dumps(doc))
        with pytest.raises(OciConfigError) as info:
            read_process(str(path))
        assert info.value.field == field


def test_errors_are_json_lines_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "log.json"
    Reporter(str(log), "json", False).error(pc.ContainerError("boom"))
    line = json.loads(log.read_text())
    assert (line["level"], line["msg"]) == ("error", "boom") and line["time"].endswith("Z")
    assert capsys.readouterr().err == "pycontainers-runtime: boom\n"
    Reporter(str(log), "text", False).error(pc.ContainerError("again"))
    assert 'level=error msg="again"' in log.read_text().splitlines()[1]


def test_features_and_template_say_what_is_supported() -> None:
    f = features_doc()
    assert f["linux"]["cgroup"]["systemd"] is False and f["linux"]["apparmor"]["enabled"] is False
    assert "createContainer" not in f["hooks"] and "poststop" in f["hooks"]
    loaded = from_config(template(), bundle="/b").spec
    assert loaded.rootfs == "/b/rootfs" and loaded.readonly_rootfs and loaded.process.no_new_privs


def test_quick_path_constants_and_signals_match_the_engine() -> None:
    import signal

    from pycontainers.oci.config import OCI_VERSION
    from pycontainers.ociruntime import quick
    from pycontainers.spec import signal_number

    assert quick.OCI_VERSION == OCI_VERSION
    for name in ("KILL", "SIGTERM", "term", "9", "15", "SIGRTMIN", "usr1", "HUP"):
        assert quick.signal_number(name) == signal_number(name), name
    for bad in ("0", str(signal.NSIG), "NOPE", "SIG", ""):
        assert quick.signal_number(bad) is None, bad


def test_quick_command_line_only_takes_plain_forms(tmp_path: Path) -> None:
    from pycontainers.ociruntime.main import _quick

    # nothing under this root: a plain form gets as far as the quick path, which declines
    # (the engine then words the error); the other forms never reach it
    root = str(tmp_path)
    for argv in (["--root", root, "state", "x"], [f"--root={root}", "--debug", "kill", "x"],
                 ["--root", root, "--log", "l", "--log-format", "json", "delete", "-f", "x"],
                 ["--root", root, "kill", "-a", "x"], ["--root", root, "state"],
                 ["--root", root, "--systemd-cgroup", "state", "x"], ["--root"],
                 ["--root", root, "--log-format", "yaml", "state", "x"],
                 ["--root", root, "kill", "x", "KILL", "extra"], ["-h"], []):  # fmt: skip
        assert _quick(argv) is False, argv
    assert not (tmp_path / "l").exists()
