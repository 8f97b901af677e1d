"""``create``'s argparse-free reading (:mod:`pycontainers.ociruntime.createargs`) gives the
full parser's namespace for every command line it takes, and takes the ones shims write.
"""

from __future__ import annotations

import contextlib
import io
import random
from collections.abc import Sequence
from typing import Any

import pytest

from pycontainers.ociruntime.createargs import create_args
from pycontainers.ociruntime.main import ROOT_ENV
from pycontainers.ociruntime.parser import command_of, parser


def full(argv: Sequence[str]) -> dict[str, Any] | None:
    """The full parser's namespace for ``argv`` (None: it refuses it), parsed both ways
    main may build it (only the command's subparser, and the whole tree).
    """
    out: list[dict[str, Any] | None] = []
    for command in (command_of(argv), None):
        try:
            with (
                contextlib.redirect_stderr(io.StringIO()),
                contextlib.redirect_stdout(io.StringIO()),
            ):
                out.append(vars(parser(command).parse_args(list(argv))))
        except SystemExit:
            out.append(None)
    assert out[0] == out[1], argv
    return out[0]


def same(argv: Sequence[str]) -> bool:
    """Whether the fast reading took ``argv`` (asserting it agrees with the full parser)."""
    fast = create_args(argv)
    if fast is None:
        return False
    assert vars(fast) == full(argv), argv
    return True


SHIMS = [
    # conmon (podman)
    ["--root", "/run/r", "--log", "/x/log.json", "--log-format", "json", "--systemd-cgroup",
     "create", "--bundle", "/b", "--pid-file", "/p", "--console-socket", "/s", "--no-pivot",
     "abc123"],
    ["--root", "/run/r", "create", "--bundle", "/b", "--pid-file", "/p", "abc"],
    # containerd-shim
    ["--root", "/run/containerd/runc/k8s.io", "--log", "/run/x/log.json", "--log-format",
     "json", "create", "--bundle", "/run/b", "--pid-file", "/run/b/init.pid", "id1"],
    # by hand
    ["create", "c1"],
    ["create", "-b", "/b", "c1"],
    ["create", "c1", "-b", "/b"],
    ["create", "--bundle=/b", "--pid-file=/p", "c1"],
    ["create", "--preserve-fds", "2", "c1"],
    ["create", "--preserve-fds=0003", "c1"],
    ["create", "--no-new-keyring", "--no-pivot", "c1"],
    ["--debug", "--criu", "/usr/sbin/criu", "--rootless=true", "create", "c1"],
    ["--root=/a", "--root", "/b", "create", "--bundle", "/x", "--bundle", "/y", "c"],
    ["--log", "", "create", "--bundle=", "c"],
    ["--root", "create", "create", "create"],
    ["--log-format=text", "create", "c"],
]  # fmt: skip

REFUSED = [
    ["create"],
    ["create", "a", "b"],
    ["create", ""],
    ["create", "--", "c"],
    ["create", "--bund", "/b", "c"],  # an abbreviation argparse takes
    ["create", "-b/b", "c"],
    ["create", "-b=/b", "c"],
    ["create", "--bundle", "-x", "c"],
    ["create", "--bundle"],
    ["create", "--preserve-fds", "-1", "c"],
    ["create", "--preserve-fds", " 2", "c"],
    ["create", "--preserve-fds", "x", "c"],
    ["create", "--no-pivot=1", "c"],
    ["create", "-h"],
    ["create", "--root", "/r", "c"],
    ["--log-format", "yaml", "create", "c"],
    ["--debug=1", "create", "c"],
    ["-v", "create", "c"],
    ["--version", "create", "c"],
    ["--roo", "/r", "create", "c"],
    ["--root", "--x", "create", "c"],
    ["--bundle", "/b", "create", "c"],
    ["run", "c"],
    ["start", "create"],
    ["state", "c"],
]


@pytest.mark.parametrize("with_env", [False, True])
def test_the_command_lines_of_shims_read_as_the_full_parser_reads_them(
    with_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if with_env:
        monkeypatch.setenv(ROOT_ENV, "/run/from-env")
    else:
        monkeypatch.delenv(ROOT_ENV, raising=False)
    for argv in SHIMS:
        assert same(argv), argv


def test_other_forms_go_to_the_full_parser() -> None:
    for argv in REFUSED:
        assert create_args(argv) is None, argv


GLOBAL_FORMS = [
    ["--root", "/r"],
    ["--root=/q"],
    ["--log", "/l"],
    ["--log=/l"],
    ["--log-format", "json"],
    ["--log-format=text"],
    ["--debug"],
    ["--systemd-cgroup"],
    ["--criu", "/c"],
    ["--rootless", "false"],
    ["--root", ""],
]
CREATE_FORMS = [
    ["--bundle", "/b"],
    ["-b", "/b2"],
    ["--bundle=/b3"],
    ["--pid-file", "/p"],
    ["--pid-file=/p2"],
    ["--console-socket", "/s"],
    ["--console-socket=/s2"],
    ["--no-pivot"],
    ["--no-new-keyring"],
    ["--preserve-fds", "3"],
    ["--preserve-fds=12"],
    ["--bundle="],
]
NOISE = [
    "create", "c2", "", "-b", "--bundle", "-1", "--", "-v", "--bund", "-bX", "--no-pivot=1",
    "start", "=", "--log-format", "xml", "--root", "--preserve-fds", "x", " 2", "--x",
]  # fmt: skip


def test_many_command_lines_either_read_alike_or_go_to_the_full_parser() -> None:
    rng = random.Random(17)
    taken = refused = 0
    for _ in range(1500):
        argv: list[str] = []
        for form in rng.sample(GLOBAL_FORMS, rng.randint(0, 3)):
            argv += form
        argv.append("create")
        options = rng.sample(CREATE_FORMS, rng.randint(0, 4))
        options.insert(rng.randint(0, len(options)), ["c1"])
        for form in options:
            argv += form
        for _ in range(rng.choice((0, 0, 1, 2))):  # a token added or replaced
            if rng.random() < 0.5:
                argv.insert(rng.randint(0, len(argv)), rng.choice(NOISE))
            else:
                argv[rng.randrange(len(argv))] = rng.choice(NOISE)
        if same(argv):
            taken += 1
        else:
            refused += 1
    assert taken >= 500 and refused >= 300, (taken, refused)
