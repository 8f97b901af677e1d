"""The one function that confines every process entering a container, and the guard that
keeps any other plan from running a program with its security left unknown."""

from __future__ import annotations

from typing import Any

import pytest

import pycontainers as pc
from pycontainers import _sys
from pycontainers._plan import Plan
from pycontainers.runtime.confine import confinement, held_caps
from pycontainers.security.capabilities import CAP_NUMBERS, DEFAULT_CAPABILITIES, to_mask

DEFAULT = to_mask(DEFAULT_CAPABILITIES)


def spec(**kw: object) -> pc.ContainerSpec:
    return pc.ContainerSpec(rootfs="/", process=pc.Process(args=("true",)), **kw)  # type: ignore[arg-type]


def test_default_is_dockers_set_with_its_seccomp_filter() -> None:
    c = confinement(spec())
    assert c.capabilities == (DEFAULT, DEFAULT, DEFAULT, 0, 0)
    assert c.seccomp_bpf and c.no_new_privs and c.rlimits == ()
    assert c.cap_last == 63  # every bounding bit is dropped unless granted


def test_exec_widening_is_explicit_and_keeps_the_filter() -> None:
    base = confinement(spec())
    added = confinement(spec(), cap_add=["NET_ADMIN"])
    assert added.capabilities[0] == DEFAULT | 1 << CAP_NUMBERS["CAP_NET_ADMIN"]
    assert added.seccomp_bpf == base.seccomp_bpf
    wide = confinement(spec(), privileged=True)
    assert wide.capabilities[0] == held_caps()  # everything the runtime holds, no more
    assert wide.seccomp_bpf == base.seccomp_bpf and wide.no_new_privs  # Docker's exec --privileged


def test_the_spec_decides_and_nothing_else() -> None:
    none = confinement(spec(security=pc.SecurityOptions(cap_drop=["ALL"], seccomp=None)))
    assert none.capabilities == (0, 0, 0, 0, 0) and none.seccomp_bpf is None
    maps = [pc.IdMapping(0, 100000, 65536)]
    userns = confinement(
        spec(namespaces=["user", "mnt", "pid"], uid_mappings=maps, gid_mappings=maps)
    )
    assert userns.capabilities == (DEFAULT, DEFAULT, DEFAULT, 0, 0)
    with pytest.raises(TypeError):
        confinement(None)  # type: ignore[arg-type]


def test_a_plan_with_unknown_security_never_runs() -> None:
    with pytest.raises(ValueError, match="needs its capabilities"):
        _sys.spawn(Plan(argv=("/bin/true",), path="/bin/true"))


def test_filters_come_from_a_verified_disk_cache(tmp_path: Any, monkeypatch: Any) -> None:
    """The first confinement compiles and stores the filter; the next one reads it back;
    a corrupt, foreign-owned or group-writable entry is ignored and compiled again."""
    import os

    from pycontainers.runtime import confine
    from pycontainers.security import _seccomp_cache

    monkeypatch.setenv("PYCONTAINERS_ROOT", str(tmp_path))
    confine._SECCOMP_MEMO.clear()  # (the process's memo: see the next test)
    compiled = confinement(spec()).seccomp_bpf
    entries = os.listdir(_seccomp_cache.cache_dir())
    assert len(entries) == 1
    path = os.path.join(_seccomp_cache.cache_dir(), entries[0])
    calls: list[object] = []
    import pycontainers.security.seccomp as seccomp_mod

    real = seccomp_mod.compile_profile

    def counting(*args: Any, **kw: Any) -> bytes:
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(seccomp_mod, "compile_profile", counting)
    confine._SECCOMP_MEMO.clear()
    assert confine.confinement(spec()).seccomp_bpf == compiled and calls == []  # a hit
    from pathlib import Path

    data = bytearray(Path(path).read_bytes())
    data[-1] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    confine._SECCOMP_MEMO.clear()
    assert confine.confinement(spec()).seccomp_bpf == compiled and len(calls) == 1
    os.chmod(path, 0o666)
    confine._SECCOMP_MEMO.clear()
    assert confine.confinement(spec()).seccomp_bpf == compiled and len(calls) == 2
    other = confinement(spec(security=pc.SecurityOptions(cap_add=["SYS_ADMIN"])))
    assert other.seccomp_bpf != compiled  # the capabilities are part of the key


def test_a_process_reads_a_filter_once_per_profile_and_capabilities(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """After the first confinement the process keeps the filter: the disk cache is not read
    again for the same profile and capability set, and another capability set or profile
    is not served from it."""
    import shutil

    from pycontainers.runtime import confine
    from pycontainers.security import _seccomp_cache

    monkeypatch.setenv("PYCONTAINERS_ROOT", str(tmp_path))
    confine._SECCOMP_MEMO.clear()
    first = confinement(spec()).seccomp_bpf
    shutil.rmtree(_seccomp_cache.cache_dir())
    reads: list[str] = []
    monkeypatch.setattr(_seccomp_cache, "load", lambda key: reads.append(key))
    assert confinement(spec()).seccomp_bpf == first and reads == []
    widened = confinement(spec(security=pc.SecurityOptions(cap_add=["SYS_ADMIN"])))
    assert widened.seccomp_bpf != first and len(reads) == 1
    own = confinement(spec(security=pc.SecurityOptions(seccomp={"defaultAction": "SCMP_ACT_ALLOW",
                                                                "syscalls": []})))  # fmt: skip
    assert own.seccomp_bpf not in (first, widened.seccomp_bpf) and len(reads) == 2


def test_configs_take_the_resolved_profile_from_a_verified_disk_cache(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """A stored config.json's ``linux.seccomp`` is the profile resolved for the container's
    capabilities: computed once, then read from the cache (no parse of the profile); a
    corrupt or group-writable entry is ignored and the profile resolved again."""
    import os
    from pathlib import Path

    import pycontainers.security.seccomp as seccomp_mod
    from pycontainers.oci import config as oci_config
    from pycontainers.security import _seccomp_cache

    monkeypatch.setenv("PYCONTAINERS_ROOT", str(tmp_path))
    expected = seccomp_mod.default_profile().resolve(spec().security.capabilities()).to_dict()
    expected.pop("comment", None)
    first = oci_config.seccomp(spec())
    assert first == expected
    (entry,) = [n for n in os.listdir(_seccomp_cache.cache_dir()) if n.endswith(".oci")]
    path = Path(_seccomp_cache.cache_dir(), entry)
    resolved: list[object] = []
    real = seccomp_mod.default_profile

    def counting() -> seccomp_mod.SeccompProfile:
        resolved.append(1)
        return real()

    monkeypatch.setattr(seccomp_mod, "default_profile", counting)
    assert oci_config.seccomp(spec()) == expected and resolved == []  # a hit
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x20
    path.write_bytes(bytes(data))
    assert oci_config.seccomp(spec()) == expected and len(resolved) == 1
    os.chmod(path, 0o664)
    assert oci_config.seccomp(spec()) == expected and len(resolved) == 2
    other = oci_config.seccomp(spec(security=pc.SecurityOptions(cap_add=["SYS_ADMIN"])))
    assert other != expected  # the capabilities are part of the key
    assert oci_config.seccomp(spec(security=pc.SecurityOptions(seccomp=None))) is None
