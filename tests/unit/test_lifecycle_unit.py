"""The container state machine: statuses, moves, and which operation each status allows."""

from __future__ import annotations

import pytest

import pycontainers as pc
from pycontainers.runtime.lifecycle import OPERATIONS, TRANSITIONS, Status, move, require


def test_status_is_a_string_for_old_callers_and_the_state_file() -> None:
    running: str = Status.RUNNING
    assert running == "running" and f"{Status.PAUSED}" == "paused"
    assert Status("stopped") is Status.STOPPED


def test_moves() -> None:
    assert move("created", Status.RUNNING, "c1") is Status.RUNNING
    assert move("running", Status.RUNNING, "c1") is Status.RUNNING  # no-op
    assert move("stopped", Status.RUNNING, "c1") is Status.RUNNING  # a detached restart
    for bad_from, bad_to in (("deleted", Status.RUNNING), ("paused", Status.CREATED),
                             ("running", Status.CREATED)):  # fmt: skip
        with pytest.raises(pc.ContainerError, match=f"no move from {bad_from} to {bad_to}"):
            move(bad_from, bad_to, "c1")
    assert all(Status.DELETED in TRANSITIONS[s] for s in Status if s is not Status.DELETED)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_operation_in_the_wrong_status_names_both(operation: str) -> None:
    for status in Status:
        if status in OPERATIONS[operation]:
            require(operation, status, "abcdef1234567890")
        else:
            with pytest.raises(pc.ContainerError) as info:
                require(operation, status, "abcdef1234567890")
            text = str(info.value)
            assert text.startswith(f"container abcdef123456 is {status}; {operation} needs a ")
