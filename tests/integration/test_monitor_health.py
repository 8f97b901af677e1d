"""pycontainers-monitor health checks: status transitions, timeouts, the start period, output
capture and the health.json format. Short intervals; no wall-clock assertions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from monitor_util import TIME_RE, Monitor, read_json, wait_for


def health(state: Path) -> dict[str, Any]:
    try:
        return read_json(state / "health.json")
    except FileNotFoundError:
        return {}


def checks(state: Path, n: int) -> dict[str, Any]:
    """health.json once at least n checks are logged (the log keeps 5)."""
    return wait_for(  # type: ignore[no-any-return]
        lambda: len(health(state).get("log", [])) >= n and health(state), f"{n} checks"
    )


def status_becomes(state: Path, status: str) -> dict[str, Any]:
    return wait_for(  # type: ignore[no-any-return]
        lambda: health(state).get("status") == status and health(state), f"status {status}"
    )


def test_starting_healthy_unhealthy_healthy(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    args = [
        "--health-cmd",
        "/bin/sh",
        "-c",
        f"echo probing; test -e {ok}",
        "--",
        "--health-interval",
        "20",
        "--health-timeout",
        "5000",
        "--health-retries",
        "2",
    ]
    with Monitor(tmp_path / "st", *args, argv=["sleep", "300"]):
        state = tmp_path / "st"
        first = health(state)  # written before the monitor reported ready
        assert first == {"status": "starting", "failing_streak": 0, "log": []}
        ok.touch()
        h = status_becomes(state, "healthy")
        assert h["failing_streak"] == 0
        entry = h["log"][-1]
        assert entry["exit_code"] == 0 and entry["output"] == "probing\n"
        assert TIME_RE.match(entry["start"]) and TIME_RE.match(entry["end"])
        ok.unlink()
        h = status_becomes(state, "unhealthy")
        assert h["failing_streak"] >= 2 and h["log"][-1]["exit_code"] == 1
        assert len(h["log"]) <= 5
        ok.touch()
        h = status_becomes(state, "healthy")
        assert h["failing_streak"] == 0


def test_a_failure_streak_shorter_than_retries_keeps_healthy(tmp_path: Path) -> None:
    counter = tmp_path / "n"
    # succeed, then fail twice, then succeed forever: retries 3 is never reached
    script = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; "
        '[ "$n" -eq 0 ] || [ "$n" -ge 3 ]'
    )
    args = ["--health-cmd", "/bin/sh", "-c", script, "--", "--health-interval", "10"]
    with Monitor(tmp_path / "st", *args, argv=["sleep", "300"]):
        h = checks(tmp_path / "st", 5)
        assert [e["exit_code"] for e in h["log"]] == [0, 1, 1, 0, 0]
        assert h["status"] == "healthy"


def test_timeout_kills_the_check_and_counts_as_failure(tmp_path: Path) -> None:
    args = ["--health-cmd", "/bin/sh", "-c", "echo slow; sleep 300", "--"]
    args += ["--health-interval", "10", "--health-timeout", "50", "--health-retries", "1"]
    with Monitor(tmp_path / "st", *args, argv=["sleep", "300"]) as m:
        h = status_becomes(tmp_path / "st", "unhealthy")
        assert h["log"][0]["exit_code"] == -1 and h["log"][0]["output"] == "slow\n"
        checks(tmp_path / "st", 3)
        # killed checks (sh and its sleep, a subreaped orphan) are reaped: no zombies pile
        # up; at most the container and one running check (sh + sleep) remain
        children = Path(f"/proc/{m.pid}/task/{m.pid}/children").read_text().split()
        assert len(children) <= 3


def test_failures_in_the_start_period_do_not_count(tmp_path: Path) -> None:
    args = ["--health-cmd", "/bin/false", "--", "--health-interval", "10"]
    args += ["--health-retries", "1", "--health-start-period", "600000"]
    with Monitor(tmp_path / "st", *args, argv=["sleep", "300"]):
        h = checks(tmp_path / "st", 4)
        assert h["status"] == "starting" and h["failing_streak"] == 0
        assert all(e["exit_code"] == 1 for e in h["log"])


def test_check_output_is_capped(tmp_path: Path) -> None:
    args = ["--health-cmd", "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", "--"]
    args += ["--health-interval", "10"]
    with Monitor(tmp_path / "st", *args, argv=["sleep", "300"]):
        h = checks(tmp_path / "st", 1)
        assert h["log"][0]["output"] == "x" * 4096 and h["status"] == "healthy"
