"""``create``'s command line as a shim writes it, read without argparse.

conmon and containerd-shim run ``pycontainers-runtime [globals] create --bundle B
--pid-file P [--console-socket S] [--no-pivot] ID`` once per container; argparse (with
``gettext`` and ``locale``, and the parser's construction) is ~5 ms of that process here.
:func:`create_args` reads only the plain forms of that command line: each option spelled
in full, as ``--name value`` or ``--name=value`` (``-b value`` for the bundle), no value
starting with ``-``, one id, ``--preserve-fds`` in decimal digits. For anything else it
returns None and the caller runs the full parser (:mod:`pycontainers.ociruntime.parser`),
which accepts the rest and words the errors. What it returns is the namespace that parser
gives for the same ``argv`` (``tests/unit/test_oci_create_args.py`` compares the two on
many command lines).
"""

from __future__ import annotations

import os
from types import SimpleNamespace

TYPE_CHECKING = False  # typing is not loaded for this
if TYPE_CHECKING:
    from collections.abc import Sequence

# the full parser's global options taking a value, and their defaults (but --root's)
_GLOBAL_VALUES = {"--root": "root", "--log": "log", "--log-format": "log_format",
                  "--criu": "criu", "--rootless": "rootless"}  # fmt: skip
_GLOBAL_FLAGS = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup"}
_CREATE_VALUES = {"-b": "bundle", "--bundle": "bundle", "--pid-file": "pid_file",
                  "--console-socket": "console_socket", "--preserve-fds": "preserve_fds"}  # fmt: skip
_CREATE_FLAGS = {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}
_LOG_FORMATS = ("text", "json")


def _option(
    argv: Sequence[str], i: int, values: dict[str, str], flags: dict[str, str]
) -> tuple[str, str | bool, int] | None:
    """(dest, value, next index) of the option at ``argv[i]``, None if not a plain one."""
    name, eq, value = argv[i].partition("=")
    if not eq and name in flags:
        return flags[name], True, i + 1
    if name not in values or (eq and name == "-b"):
        return None
    if not eq:
        if i + 1 >= len(argv):
            return None
        value = argv[i + 1]
        i += 1
    if value.startswith("-"):
        return None
    return values[name], value, i + 1


def create_args(argv: Sequence[str]) -> SimpleNamespace | None:
    """The parsed ``create`` command line ``argv`` (the full parser's namespace: its
    attributes and values), or None when it is not one of the plain forms.
    """
    from pycontainers.ociruntime.main import DEFAULT_ROOT, ROOT_ENV

    ns = SimpleNamespace(
        root=os.environ.get(ROOT_ENV) or DEFAULT_ROOT, log="", log_format="text",
        debug=False, systemd_cgroup=False, criu="criu", rootless="auto", version=False,
        command="create", bundle=".", pid_file=None, console_socket=None, no_pivot=False,
        no_new_keyring=False, preserve_fds=0,
    )  # fmt: skip
    i = 0
    while i < len(argv) and argv[i] != "create":
        found = _option(argv, i, _GLOBAL_VALUES, _GLOBAL_FLAGS)
        if found is None:
            return None
        dest, value, i = found
        setattr(ns, dest, value)
    if i >= len(argv) or ns.log_format not in _LOG_FORMATS:
        return None
    ids = []
    i += 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") and arg:
            ids.append(arg)
            i += 1
            continue
        found = _option(argv, i, _CREATE_VALUES, _CREATE_FLAGS)
        if found is None:
            return None
        dest, value, i = found
        if dest == "preserve_fds":  # argparse's int(): here decimal digits only
            if not (isinstance(value, str) and value.isascii() and value.isdigit()):
                return None
            ns.preserve_fds = int(value)
        else:
            setattr(ns, dest, value)
    if len(ids) != 1:
        return None
    ns.id = ids[0]
    return ns


__all__ = ["create_args"]
