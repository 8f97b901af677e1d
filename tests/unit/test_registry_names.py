"""``pycontainers.images.registry.pull``/``push`` stay functions whatever was imported
first (they were shadowed by submodules of the same names)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import pycontainers.images.registry.pulling, pycontainers.images.registry.pushing
from pycontainers.images.registry import pull, push
print(type(pull).__name__, type(push).__name__)
"""


def test_pull_and_push_are_functions_after_their_modules_were_imported() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["function", "function"]
