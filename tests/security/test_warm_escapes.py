"""The escapes of ``test_entry_points.py``'s attack probe, tried from a warm sandbox call:
each is refused as it is for a container's first process, though the call is a fork of a
zygote that itself holds CAP_SYS_ADMIN (the control there shows the probe sees a call that
gets through)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_entry_points import ATTACK_PROBE, REFUSED, attack_results

import pycontainers as pc

pytestmark = pytest.mark.root


def run_probe(text: str) -> None:
    exec(compile(text, "attack.py", "exec"), {"__name__": "__main__"})


def test_attacks_are_refused_from_a_warm_call(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    (marks / "monitor").write_text(str(os.getpid()))  # the caller: out of the call's sight
    with pc.Sandbox(mounts=[pc.Mount("/marks", str(marks), read_only=True)]) as sb:
        sb.call(run_probe, ATTACK_PROBE)
        text = sb.records[-1].stdout.decode()
        results = attack_results(text)
        allowed = {k: v for k, v in results.items() if v not in REFUSED}
        assert not allowed, allowed
        assert results["ptrace-monitor"] == "ESRCH"  # no pid of the host's, or the zygote's
        sb.call(run_probe, ATTACK_PROBE)  # the next call, from the next standby: the same
        assert attack_results(sb.records[-1].stdout.decode()) == results
