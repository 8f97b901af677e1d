"""How a sandboxed call travels, without a sandbox: answers are framed and decoded, an
unpicklable result is a SandboxResultError, a call's limits are explicit, the zygote may
import only installed modules ahead of a call."""

from __future__ import annotations

import json
import pickle

import pytest

from pycontainers.cgroups import Resources
from pycontainers.errors import RemoteTraceback, SandboxError, SandboxResultError
from pycontainers.runtime.call_cgroups import call_limits
from pycontainers.runtime.run import make_spec
from pycontainers.runtime.zygote import _unframe
from pycontainers.testing import _calls


def test_framing() -> None:
    blob = pickle.dumps(("ok", 42))
    assert _unframe(b"%016x" % len(blob) + blob) == blob
    assert _unframe(b"%016x" % len(blob) + blob[:-1]) is None  # cut short: no answer
    assert _unframe(b"") is None and _unframe(b"x" * 20) is None
    marker = b"\n--m--"
    out, answer = _calls.split_answer(b"printed\n" + blob + b"%016x" % len(blob) + marker, marker)
    assert (out, answer) == (b"printed\n", blob)
    assert _calls.split_answer(b"no answer", marker) == (b"no answer", None)


def test_decode() -> None:
    assert _calls.decode(pickle.dumps(("ok", [1])), "w", b"", b"") == [1]
    with pytest.raises(SandboxResultError, match="w: cannot pickle it") as info:
        _calls.decode(
            pickle.dumps(("unpicklable", "cannot pickle it", "Traceback...")), "w", b"o", b"e"
        )
    assert isinstance(info.value, TypeError) and isinstance(info.value, SandboxError)
    assert isinstance(info.value.__cause__, RemoteTraceback) and info.value.stdout == b"o"
    with pytest.raises(KeyError) as key:
        _calls.decode(
            pickle.dumps(("error", pickle.dumps(KeyError("k")), "KeyError('k')", "tb")),
            "w",
            b"",
            b"",
        )
    assert isinstance(key.value.__cause__, RemoteTraceback)
    with pytest.raises(SandboxError, match="raised Weird"):  # a class this side cannot rebuild
        _calls.decode(pickle.dumps(("error", None, "Weird()", "tb")), "w", b"", b"")


def test_call_limits_are_explicit() -> None:
    capped = make_spec("host", ["true"], memory="64m", pids_limit=16)
    assert call_limits(capped) == Resources(memory_max="64m", memory_swap=-1, pids_max=16)
    free = make_spec("host", ["true"])
    # a reused group may carry an earlier call's caps: none set means none, explicitly
    assert call_limits(free) == Resources(memory_max=-1, memory_swap=-1, pids_max=-1)


def test_reference_module() -> None:
    assert _calls.reference_module(json.dumps) == "json"
    assert _calls.reference_module(len) is None  # builtins
    assert _calls.reference_module(test_reference_module) is None  # a test module: by value
