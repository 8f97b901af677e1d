"""The package's own promises: constants match the C header, __all__ is honest, import is lazy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pycontainers
from pycontainers import _plan

ROOT = Path(__file__).resolve().parents[2]


def test_plan_constants_match_the_c_header() -> None:
    header = (ROOT / "_native" / "shim.h").read_text()
    defines = dict(re.findall(r"#define (PC_\w+) (\d+)", header))
    for name in dir(_plan):
        if name.startswith(("OP_", "OPT_")):
            assert int(defines[f"PC_{name}"]) == getattr(_plan, name), name
    stages = {int(v): k for k, v in defines.items() if k.startswith("PC_STAGE_")}
    assert set(stages) == set(_plan.STAGES)


def test_native_constants_match() -> None:
    from pycontainers import _sys

    assert _sys.lib.PC_OP_WRITE == _plan.OP_WRITE
    assert _sys.lib.PC_STAGE_READY == _plan.STAGE_READY


def test_all_names_resolve_and_are_documented() -> None:
    exported = set(pycontainers._EXPORTS) | {"__version__"}
    assert sorted(pycontainers.__all__) == sorted(exported)
    for name in pycontainers.__all__:
        value = getattr(pycontainers, name)
        if callable(value) and name.isidentifier() and not name.isupper():
            assert value.__doc__, f"{name} has no docstring"


def test_import_is_lazy() -> None:
    code = (
        "import sys, pycontainers; heavy = {'structlog', 'attrs', 'cffi', 'pycontainers._native', "
        "'pycontainers.runtime.run'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute() -> None:
    try:
        getattr(pycontainers, "no_such_name")  # noqa: B009
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
