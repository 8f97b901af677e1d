"""``run``/``create``'s argparse-free reading (:mod:`pycontainers.cli.runargs`) gives the
full parser's namespace for every command line it takes, takes the usual ones, and its
table of flags is the parser's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
from collections.abc import Sequence
from typing import Any

import pytest

from pycontainers.cli import main as cli_main
from pycontainers.cli.runargs import FLAGS, GLOBALS, RUN_ONLY, run_args


def full(argv: Sequence[str]) -> dict[str, Any] | None:
    """The full parser's namespace for ``argv`` (None: it refuses it), parsed both ways
    main may build it (only the command's subparser, and the whole tree).
    """
    out: list[dict[str, Any] | None] = []
    for command in (cli_main._command_of(argv), None):
        try:
            with (
                contextlib.redirect_stderr(io.StringIO()),
                contextlib.redirect_stdout(io.StringIO()),
            ):
                out.append(vars(cli_main._parser(command).parse_args(list(argv))))
        except SystemExit:
            out.append(None)
    assert out[0] == out[1], argv
    return out[0]


def same(argv: Sequence[str]) -> bool:
    """Whether the fast reading took ``argv`` (asserting it agrees with the full parser)."""
    fast = run_args(argv)
    if fast is None:
        return False
    assert vars(fast) == full(argv), argv
    # argparse's Namespace answers `in` (the remote client asks "detach" in args)
    assert all(dest in fast for dest in vars(fast)) and "no-such-dest" not in fast
    return True


TAKEN = [
    ["run", "--rm", "--network", "none", "/rootfs", "/bin/true"],
    ["run", "alpine"],
    ["create", "alpine"],
    ["run", "-d", "--name", "web", "-p", "8080:80", "nginx"],
    ["--root", "/r", "run", "--rm", "img", "sh", "-c", "exit 5"],
    ["--root=/r", "create", "--name=x", "img"],
    ["-H", "unix:///s", "--tls", "--tlsverify", "--tlscacert", "/ca", "--tlscert", "/c",
     "--tlskey", "/k", "run", "img"],
    ["--host=tcp://h:1", "run", "img"],
    ["run", "-i", "-t", "--rm", "img", "/bin/sh"],
    ["run", "-e", "A=1", "-e", "B", "--env=C=3", "--env-file", "/f", "img"],
    ["run", "-l", "a=b", "--label", "c", "--label-file", "/lf", "img"],
    ["run", "-v", "/a:/b:ro", "--volume", "vol:/c", "--mount", "type=tmpfs,dst=/t",
     "--tmpfs", "/run:size=1m", "img"],
    ["run", "--net", "host", "--network-alias", "a", "--dns", "1.1.1.1", "--add-host",
     "h:1.2.3.4", "--bandwidth", "1mbit", "img"],
    ["run", "-h", "box", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5",
     "--cpuset-cpus", "0", "--cpu-shares", "512", "--pids-limit", "32", "img"],
    ["run", "-u", "1000:1000", "-w", "/tmp", "--entrypoint", "", "--read-only", "--init",
     "--stop-signal", "SIGINT", "img", "x"],
    ["create", "--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL",
     "--security-opt", "seccomp=unconfined", "--userns", "host", "img"],
    ["run", "--restart", "always", "--health-cmd", "true", "--health-interval", "1s",
     "--health-timeout", "2s", "--health-retries", "5", "--health-start-period", "3s", "img"],
    ["run", "--no-healthcheck", "--log-opt", "max-size=1m", "--log-opt=max-file=2", "img"],
    ["run", "--ulimit", "nofile=10:20", "--shm-size", "1m", "--memory-reservation", "1m",
     "--cpu-quota", "50000", "--cpu-period", "100000", "--cgroup-parent", "p", "img"],
    ["run", "--cpu-rt-runtime", "950", "--cpu-rt-period", "1000", "--memory-swappiness", "0",
     "--oom-kill-disable", "--blkio-weight-device", "/dev/sda:200", "img"],
    ["run", "--pid", "host", "--ipc", "host", "--uts", "host", "--domainname", "d", "img"],
    ["run", "--cidfile", "/c", "-P", "--expose", "80", "--publish-all", "img"],
    ["run", "--pull", "never", "--platform", "linux/amd64", "--stop-timeout", "3", "img"],
    ["run", "--group-add", "10", "--ip", "10.0.0.2", "--sysctl", "net.a=1", "--dns-search",
     ".", "--dns-option", "ndots:2", "--dns-opt", "x", "--volumes-from", "c:ro", "img"],
    ["run", "--oom-score-adj", "100", "--log-driver", "none", "--detach-keys", "ctrl-a",
     "-a", "stdout", "--attach", "stderr", "--sig-proxy", "false", "img"],
    ["run", "--gpus", "all", "--device", "/dev/null", "img"],
    ["run", "img", "--rm", "-d", "--", "x"],  # after IMAGE, all is the command
    ["run", "img", "x", "--"],
    ["run", "--name", "", "img"],  # an empty value
    ["run", "--env=", "img"],
    ["run", "--rm", "--rm", "--name", "a", "--name", "b", "img"],
    ["run", "--dns", "x", "--ip", "y", "--net", "z", "img"],  # exact names that prefix others
    ["run", "img", ""],
    ["run", "-d", "img", "sleep", "5"],
    ["create", "--rm", "img"],
]  # fmt: skip

# forms left to the full parser (which takes some of them and refuses others)
LEFT = [
    [],
    ["run"],
    ["run", "--rm"],
    ["run", "-it", "img"],  # combined short flags
    ["run", "-eA=1", "img"],  # a short option's value attached
    ["run", "-e=A=1", "img"],
    ["run", "--netw", "none", "img"],  # an abbreviation
    ["run", "--rm=1", "img"],  # a flag with a value
    ["run", "--pids-limit", "-1", "img"],  # a value starting with '-'
    ["run", "--cpu-shares", "1_0", "img"],  # int() takes it; not plain
    ["run", "--cpu-shares", "x", "img"],
    ["run", "--pull", "sometimes", "img"],  # not a choice
    ["run", "--pull=", "img"],
    ["run", "-a", "stdio", "img"],
    ["run", "--help"],
    ["run", "--", "img"],
    ["run", "img", "--"],  # argparse gives IMAGE the "--" (the command is then empty)
    ["run", "img", "--", "sh"],
    ["run", "-", "img"],
    ["run", "", "img"],
    ["run", "--name"],
    ["create", "-d", "img"],  # run's only
    ["run", "--root", "/r", "img"],  # a global option after the command
    ["--ro", "/r", "run", "img"],
    ["--root"],
    ["--version", "run", "img"],
    ["-H"],
    ["-Hunix:///s", "run", "img"],
    ["--tls=1", "run", "img"],
    ["x", "run", "img"],
    ["run", "--bogus", "img"],
    ["ps"],
]  # fmt: skip


@pytest.mark.parametrize("argv", TAKEN, ids=" ".join)
def test_the_usual_command_lines_are_read_as_the_parser_reads_them(argv: list[str]) -> None:
    assert same(argv), argv


@pytest.mark.parametrize("argv", LEFT, ids=lambda a: " ".join(a) or "(none)")
def test_the_other_forms_go_to_the_full_parser(argv: list[str]) -> None:
    assert run_args(argv) is None


def _actions(parser: argparse.ArgumentParser) -> dict[str, tuple[Any, ...]]:
    out = {}
    for action in parser._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            kind = {argparse._StoreTrueAction: "flag", argparse._AppendAction: "list"}.get(
                type(action), "int" if action.type is int else "str"
            )
            plain = (argparse._StoreAction, argparse._StoreTrueAction, argparse._AppendAction)
            assert type(action) in plain and action.type in (None, int), action
            assert action.nargs == (0 if kind == "flag" else None), action
            out[action.dest] = (tuple(action.option_strings), kind, action.default,
                                tuple(action.choices or ()))  # fmt: skip
    return out


def _sub(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[command]
            return sub
    raise AssertionError("no subparsers")


@pytest.mark.parametrize("command", ["run", "create"])
def test_the_table_is_the_parsers(command: str) -> None:
    parser = cli_main._parser(command)
    table = [*FLAGS, *RUN_ONLY] if command == "run" else FLAGS
    mine = {dest: (names, kind, default, choices)
            for names, dest, kind, default, choices in table}  # fmt: skip
    assert mine == _actions(_sub(parser, command))
    assert {dest: (names, kind, None if kind == "str" else False, ())
            for names, dest, kind in GLOBALS} == _actions(parser)  # fmt: skip


def _random_argv(rng: random.Random) -> list[str]:
    """A command line mixing plain and other forms of the table's options and values."""
    pieces = ["--root", "/r", "-H", "x", "--tls", "--ro", "-", "--", "", "=", "-1", "7",
              "none", "img", "stdin", "never", "no", "-x", "run", "create"]  # fmt: skip
    names = [n for names, *_ in (*FLAGS, *RUN_ONLY) for n in names]
    argv: list[str] = []
    if rng.random() < 0.3:
        argv += rng.sample(["--root", "/r", "--tls", "-H", "h"], 2)
    argv.append(rng.choice(["run", "create", "run", "ps"]))
    for _ in range(rng.randrange(6)):
        name = rng.choice(names)
        value = rng.choice(pieces)
        form = rng.randrange(4)
        if form == 0:
            argv.append(name)
        elif form == 1:
            argv += [name, value]
        elif form == 2:
            argv.append(f"{name}={value}")
        else:
            argv.append(value)
    if rng.random() < 0.9:
        argv.append("img")
    argv += rng.sample(pieces, rng.randrange(3))
    return argv


def test_random_command_lines_agree_with_the_parser() -> None:
    rng = random.Random(15)
    taken = 0
    for _ in range(600):
        argv = _random_argv(rng)
        if same(argv):
            taken += 1
        else:  # not plain: the full parser's namespace may be anything, or an error
            assert run_args(argv) is None
    assert taken > 100  # the plain forms are a good part of these
