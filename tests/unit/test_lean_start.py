"""The stand-ins that keep costly standard-library modules off a container's start path give
what those modules give (issue 15's import diet): SHA-256 digests, subprocess's stdio
constants, argparse's help width, the default detach keys.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from pycontainers import _digest
from pycontainers.cli import argparser
from pycontainers.runtime import stdio


def test_sha256_hex_is_hashlibs() -> None:
    for data in (b"", b"abc", os.urandom(1000), b"x" * 1_000_003):
        assert _digest.sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_stdio_constants_are_subprocess_ones() -> None:
    assert (stdio.PIPE, stdio.STDOUT, stdio.DEVNULL) == (
        subprocess.PIPE,
        subprocess.STDOUT,
        subprocess.DEVNULL,
    )


def test_help_is_as_wide_as_columns_says() -> None:
    code = (
        "from pycontainers.cli.argparser import ArgumentParser, terminal_columns\n"
        "p = ArgumentParser(prog='x')\n"
        "sub = p.add_subparsers().add_parser('s', help='a sub command')\n"
        "sub.add_argument('--flag', help='word ' * 40)\n"
        "print(terminal_columns(), max(len(line) for line in sub.format_help().splitlines()),"
        " type(sub).__module__)\n"
    )
    env = {**os.environ, "COLUMNS": "60", "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    assert out[0] == "60"
    assert 40 < int(out[1]) <= 58  # argparse's rule: the width less 2
    assert out[2] == "pycontainers.cli.argparser"  # subparsers are of the lean class too


def test_terminal_columns_falls_back_to_80_without_a_terminal() -> None:
    code = "from pycontainers.cli.argparser import terminal_columns\nprint(terminal_columns())\n"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, check=True)  # fmt: skip
    assert r.stdout.strip() == "80"
    assert argparser.terminal_columns() > 0


def test_attach_default_detach_keys_are_supervisions() -> None:
    # Container's module spells the default out so that a create does not load supervision
    import inspect

    from pycontainers.runtime.container import Container
    from pycontainers.supervision import DEFAULT_DETACH_KEYS

    default = inspect.signature(Container.attach).parameters["detach_keys"].default
    assert default == DEFAULT_DETACH_KEYS


def _finish(body: str, **env: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import atexit, sys\n"
        "from pycontainers._launcher import finish\n"
        "class Noisy:\n"
        "    def __del__(self):\n"
        "        print('teardown', file=sys.stderr)\n"
        "noisy = Noisy()  # a module global: freed only by the interpreter's teardown\n"
        "atexit.register(print, 'atexit ran')\n"
        "print('out', end=' ')\n" + body
    )
    full = {k: v for k, v in os.environ.items() if k not in ("PYCONTAINERS_NO_FAST_START",)}
    full.update(PYTHONPATH=os.pathsep.join(sys.path), **env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_the_launchers_exit_skips_only_the_teardown() -> None:
    # what sys.exit gives (status, atexit handlers once, flushed output), without the
    # interpreter freeing its modules (the teardown, where Noisy would speak)
    for status, want in (("None", 0), ("3", 3), ("125", 125), ("256 + 7", 7)):
        r = _finish(f"finish({status})\n")
        assert (r.returncode, r.stdout, r.stderr) == (want, "out atexit ran\n", ""), status
    # the ordinary exit where it is needed: a message, a thread still running, an opt-out
    r = _finish("finish('bad thing')\n")
    assert (r.returncode, r.stdout) == (1, "out atexit ran\n")
    assert r.stderr.splitlines()[0] == "bad thing" and "teardown" in r.stderr
    r = _finish(
        "import threading, time\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
        "finish(4)\n"
    )
    assert (r.returncode, r.stdout) == (4, "out thread done\natexit ran\n")
    r = _finish("finish(5)\n", PYCONTAINERS_NO_FAST_START="1")
    assert (r.returncode, r.stdout, r.stderr) == (5, "out atexit ran\n", "teardown\n")
