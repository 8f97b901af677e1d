"""The warm start server's preload list (``pycontainers/warmstart/preload.py``): every name
imports, and what reading ``run``'s and ``ps``'s command lines loads of the package is in
it (the whole ``run`` path, with a container, is checked in
tests/integration/test_warm_start.py).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pycontainers

_PATH = [os.path.dirname(os.path.dirname(os.path.abspath(pycontainers.__file__))), *sys.path]


def _modules(code: str) -> list[str]:
    """The modules a fresh interpreter has loaded after ``code`` (as the launchers start)."""
    code = f"import sys\nsys.path[:0] = {_PATH!r}\n{code}\nprint(*sorted(sys.modules))\n"
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_every_preloaded_module_imports() -> None:
    loaded = _modules(
        "from pycontainers.warmstart.preload import PRELOAD, preload\nassert preload() == []"
    )
    from pycontainers.warmstart.preload import PRELOAD

    assert set(PRELOAD) <= set(loaded)


def test_reading_run_and_ps_command_lines_is_preloaded() -> None:
    loaded = set(_modules("from pycontainers.warmstart.preload import preload\npreload()"))
    used = _modules(
        "from pycontainers.cli.main import _command_of, _parser\n"
        "from pycontainers.cli.runargs import run_args\n"
        "run_args(['run', '--rm', '--network', 'none', '/rootfs', '/bin/true'])\n"
        "_parser('ps').parse_args(['ps', '-a'])\n"
    )
    own = [m for m in used if m.split(".")[0] == "pycontainers"]
    missing = [m for m in own if m not in loaded]
    assert missing == [], missing


def test_the_c_client_and_the_worker_hold_the_same_lists() -> None:
    """The commands and the keyed variables are written twice, in C (the client chooses its
    socket by them) and in Python (the worker checks them again): a drift would only make
    calls cold, silently; this keeps the two equal."""
    import re
    from pathlib import Path

    from pycontainers.warmstart import COMMANDS
    from pycontainers.warmstart.worker import _KEYED

    native = Path(_PATH[0]) / "_native"
    source = (native / "warm_client.c").read_text()
    conn = (native / "warm_conn.c").read_text()
    allowed = re.search(r"ALLOWED\[\] = \{(.*?)\};", source, re.S)
    names = re.search(r"names\[\] = \{(.*?)\};", conn, re.S)
    assert allowed is not None and names is not None
    assert set(re.findall(r'"([a-z]+)"', allowed.group(1))) == COMMANDS
    assert re.findall(r'"([A-Z_]+)="', names.group(1)) == list(_KEYED)
    assert '"PYTHON", 6' in conn and '"LC_", 3' in conn  # the prefixes, as _keyed has


def test_the_runtime_front_end_and_the_worker_find_the_same_command() -> None:
    """The OCI runtime's front end goes warm for `create` after its global options
    (runtime_front.c: is_global); the worker finds the command by the same rules."""
    import re
    from pathlib import Path

    from pycontainers.warmstart import RUNTIME_COMMANDS, RUNTIME_GLOBALS, RUNTIME_TARGET, command_of

    source = (Path(_PATH[0]) / "_native" / "runtime_front.c").read_text()
    listed = re.search(r"globals\[\] = \{(.*?)\};", source, re.S)
    assert listed is not None
    assert tuple(re.findall(r'"(--[a-z-]+)"', listed.group(1))) == RUNTIME_GLOBALS
    assert '!strcmp(arg, "--debug")' in source
    warm = re.search(r'if \((!strcmp\(command, "[a-z]+"\)(?: \|\| )?)+\) \{', source)
    assert warm is not None
    assert set(re.findall(r'"([a-z]+)"', warm.group(0))) == RUNTIME_COMMANDS
    cases = {
        ("create", "--bundle", "b", "id"): "create",
        ("--root", "/r", "--log", "/l", "--log-format=json", "create", "x"): "create",
        ("--debug", "--root=/r", "state", "x"): "state",
        ("--systemd-cgroup", "create", "x"): "--systemd-cgroup",
        ("--root",): None,
        (): None,
    }
    for argv, command in cases.items():
        assert command_of(RUNTIME_TARGET, list(argv)) == command, argv
    assert command_of("pycontainers.cli.main:main", ["--root", "x"]) == "--root"


def test_the_runtime_preload_list_imports() -> None:
    loaded = _modules(
        "from pycontainers.warmstart.preload import PRELOAD_RUNTIME, preload\n"
        "assert preload(PRELOAD_RUNTIME) == []"
    )
    from pycontainers.warmstart.preload import PRELOAD_RUNTIME

    assert set(PRELOAD_RUNTIME) <= set(loaded)
