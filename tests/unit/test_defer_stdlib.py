"""``platform``, ``tokenize`` and the other modules the short commands load and never use
are deferred to their first use (:func:`pycontainers._lazy.defer_stdlib`): not executed on
a command's path, and the same modules, values and answers once used.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pycontainers
from pycontainers._lazy import DEFERRED


def probe(code: str, **env: str) -> list[str]:
    """Lines printed by ``code`` in a fresh ``-S`` interpreter that deferred first."""
    path = [os.path.dirname(os.path.dirname(os.path.abspath(pycontainers.__file__))), *sys.path]
    head = (
        f"import sys\nsys.path[:0] = {path!r}\n"
        "from pycontainers._lazy import defer_stdlib\nprint(*defer_stdlib())\n"
    )
    r = subprocess.run([sys.executable, "-S", "-c", head + code], capture_output=True,
                       text=True, env={**os.environ, **env}, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_a_command_path_runs_neither_module() -> None:
    lines = probe(
        "import attrs, pycontainers.runtime.container, pycontainers.runtime.launch, inspect\n"
        "print(type(sys.modules['platform']).__name__, type(sys.modules['tokenize']).__name__)\n"
        "print('_sys_version' in vars(sys.modules['platform']))\n"
    )
    assert lines == [" ".join(DEFERRED), "_Platform _Deferred", "False"]


def test_once_used_they_are_the_real_modules() -> None:
    lines = probe(
        "import attrs\nimport platform, tokenize, io, importlib.util\n"
        "print(platform.python_implementation())\n"
        "print(importlib.util.find_spec('platform').origin == platform.__spec__.origin)\n"
        "print(platform.system(), platform.machine())\n"
        "real = sys.modules['platform']\n"
        "print(type(real).__name__, real is not platform, real.system is platform.system)\n"
        "print(platform.python_implementation is real.python_implementation)\n"
        "toks = list(tokenize.generate_tokens(io.StringIO('x = 1\\n').readline))\n"
        "print(len(toks), type(sys.modules['tokenize']).__name__)\n"
        "import inspect\nprint(inspect.getsource(inspect.getsource).split('(')[0])\n"
        "import copy\nprint('deepcopy' in dir(copy), type(sys.modules['copy']).__name__)\n"
    )
    assert lines == [
        " ".join(DEFERRED),
        platform.python_implementation(),
        "True",
        f"{platform.system()} {platform.machine()}",
        "module True True",
        "True",
        "5 module",
        "def getsource",
        "True module",
    ]


def test_what_is_loaded_or_opted_out_is_left_alone() -> None:
    assert probe("", PYCONTAINERS_NO_DEFER="1") == [""]
    lines = probe("from pycontainers._lazy import defer_stdlib\nprint(defer_stdlib())\n")
    assert lines == [" ".join(DEFERRED), "[]"]  # a second call: all are in sys.modules
    path = [os.path.dirname(os.path.dirname(os.path.abspath(pycontainers.__file__))), *sys.path]
    code = (
        f"import sys\nsys.path[:0] = {path!r}\nimport platform\n"
        "from pycontainers._lazy import defer_stdlib\nprint(defer_stdlib())\n"
        "print(type(sys.modules['platform']).__name__)\n"
    )
    r = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                       check=True, timeout=60)  # fmt: skip
    assert r.stdout.splitlines() == [repr(list(DEFERRED[1:])), "module"]
