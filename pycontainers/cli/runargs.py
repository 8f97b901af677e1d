"""``run`` and ``create`` command lines read without argparse, in their plain forms.

argparse costs a ``run`` ~6 ms here: its import (with ``gettext`` and ``locale``, their
regular expressions compiled), the construction of ``run``'s ~90 flags and the parse.
:func:`run_args` reads only the plain forms: the global options (``--root``, ``-H``...)
spelled in full, as ``--name value`` or ``--name=value`` (a short option as ``-x value``),
then ``run`` or ``create``, then its flags spelled in full, one per argument (no ``-it``,
no ``-eK=V``, no abbreviations), no value starting with ``-``, a number in decimal digits, a
choice among the allowed ones, then IMAGE (not starting with ``-``, not followed by
``--``) and the command, taken as it is. For anything else it returns None and the caller runs the full parser
(:func:`pycontainers.cli.main._parser`), which accepts the rest and words the errors. What
it returns is the namespace that parser gives for the same ``argv``
(``tests/unit/test_cli_run_args.py`` compares the two on many command lines, and the table
below with the parser's flags).
"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False  # typing is not loaded for this
if TYPE_CHECKING:
    from collections.abc import Sequence


class Namespace(SimpleNamespace):
    """The parsed command line, as ``argparse.Namespace`` behaves: attributes, and ``in``
    for whether a destination is set at all (the remote client asks ``"detach" in args``).
    """

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__


# kinds of option: a value (str), an int value, a flag (store_true), an appended value
_STR, _INT, _FLAG, _LIST = "str", "int", "flag", "list"

# The main parser's global options: (spellings, dest, kind).
GLOBALS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("--root",), "root", _STR),
    (("-H", "--host"), "host", _STR),
    (("--tls",), "tls", _FLAG),
    (("--tlsverify",), "tlsverify", _FLAG),
    (("--tlscacert",), "tlscacert", _STR),
    (("--tlscert",), "tlscert", _STR),
    (("--tlskey",), "tlskey", _STR),
)

# ``run``'s and ``create``'s flags (pycontainers.cli.runflags.add_run_flags and
# runextra.add_extra_flags): (spellings, dest, kind, default, choices). ``-d`` is run's only.
FLAGS: tuple[tuple[tuple[str, ...], str, str, object, tuple[str, ...]], ...] = (
    (("--rm",), "rm", _FLAG, False, ()),
    (("--name",), "name", _STR, None, ()),
    (("-i", "--interactive"), "interactive", _FLAG, False, ()),
    (("-t", "--tty"), "tty", _FLAG, False, ()),
    (("-e", "--env"), "env", _LIST, [], ()),
    (("--env-file",), "env_file", _LIST, [], ()),
    (("-l", "--label"), "label", _LIST, [], ()),
    (("-v", "--volume"), "volume", _LIST, [], ()),
    (("--mount",), "mount", _LIST, [], ()),
    (("--tmpfs",), "tmpfs", _LIST, [], ()),
    (("-p", "--publish"), "publish", _LIST, [], ()),
    (("--network", "--net"), "network", _STR, None, ()),
    (("--network-alias",), "network_alias", _LIST, [], ()),
    (("--dns",), "dns", _LIST, [], ()),
    (("--add-host",), "add_host", _LIST, [], ()),
    (("--bandwidth",), "bandwidth", _STR, None, ()),
    (("-h", "--hostname"), "hostname", _STR, None, ()),
    (("-m", "--memory"), "memory", _STR, None, ()),
    (("--memory-swap",), "memory_swap", _STR, None, ()),
    (("--cpus",), "cpus", _STR, None, ()),
    (("--cpuset-cpus",), "cpuset_cpus", _STR, None, ()),
    (("--cpu-shares",), "cpu_shares", _INT, None, ()),
    (("--pids-limit",), "pids_limit", _INT, None, ()),
    (("-u", "--user"), "user", _STR, None, ()),
    (("-w", "--workdir"), "workdir", _STR, None, ()),
    (("--entrypoint",), "entrypoint", _STR, None, ()),
    (("--read-only",), "read_only", _FLAG, False, ()),
    (("--init",), "init", _FLAG, False, ()),
    (("--stop-signal",), "stop_signal", _STR, None, ()),
    (("--privileged",), "privileged", _FLAG, False, ()),
    (("--cap-add",), "cap_add", _LIST, [], ()),
    (("--cap-drop",), "cap_drop", _LIST, [], ()),
    (("--security-opt",), "security_opt", _LIST, [], ()),
    (("--userns",), "userns", _STR, None, ()),
    (("--restart",), "restart", _STR, "no", ()),
    (("--health-cmd",), "health_cmd", _STR, None, ()),
    (("--health-interval",), "health_interval", _STR, "30s", ()),
    (("--health-timeout",), "health_timeout", _STR, "30s", ()),
    (("--health-retries",), "health_retries", _INT, 3, ()),
    (("--health-start-period",), "health_start_period", _STR, "0", ()),
    (("--no-healthcheck",), "no_healthcheck", _FLAG, False, ()),
    (("--log-opt",), "log_opt", _LIST, [], ()),
    (("--ulimit",), "ulimit", _LIST, [], ()),
    (("--shm-size",), "shm_size", _STR, None, ()),
    (("--memory-reservation",), "memory_reservation", _STR, None, ()),
    (("--cpu-quota",), "cpu_quota", _INT, None, ()),
    (("--cpu-period",), "cpu_period", _INT, None, ()),
    (("--cgroup-parent",), "cgroup_parent", _STR, None, ()),
    (("--cpu-rt-runtime",), "cpu_rt_runtime", _INT, None, ()),
    (("--cpu-rt-period",), "cpu_rt_period", _INT, None, ()),
    (("--memory-swappiness",), "memory_swappiness", _INT, None, ()),
    (("--oom-kill-disable",), "oom_kill_disable", _FLAG, False, ()),
    (("--blkio-weight-device",), "blkio_weight_device", _LIST, [], ()),
    (("--pid",), "pid", _STR, None, ()),
    (("--ipc",), "ipc", _STR, None, ()),
    (("--uts",), "uts", _STR, None, ()),
    (("--domainname",), "domainname", _STR, None, ()),
    (("--label-file",), "label_file", _LIST, [], ()),
    (("--cidfile",), "cidfile", _STR, None, ()),
    (("-P", "--publish-all"), "publish_all", _FLAG, False, ()),
    (("--expose",), "expose", _LIST, [], ()),
    (("--pull",), "pull", _STR, "missing", ("always", "missing", "never")),
    (("--platform",), "platform", _STR, None, ()),
    (("--stop-timeout",), "stop_timeout", _INT, None, ()),
    (("--group-add",), "group_add", _LIST, [], ()),
    (("--ip",), "ip", _STR, None, ()),
    (("--sysctl",), "sysctl", _LIST, [], ()),
    (("--dns-search",), "dns_search", _LIST, [], ()),
    (("--dns-option", "--dns-opt"), "dns_option", _LIST, [], ()),
    (("--volumes-from",), "volumes_from", _LIST, [], ()),
    (("--oom-score-adj",), "oom_score_adj", _INT, None, ()),
    (("--log-driver",), "log_driver", _STR, "json-file", ("json-file", "local", "none")),
    (("--detach-keys",), "detach_keys", _STR, None, ()),
    (("-a", "--attach"), "attach", _LIST, [], ("stdin", "stdout", "stderr")),
    (("--sig-proxy",), "sig_proxy", _STR, "true", ("true", "false")),
    (("--gpus",), "gpus", _STR, None, ()),
    (("--device",), "device", _LIST, [], ()),
)  # fmt: skip
RUN_ONLY = ((("-d", "--detach"), "detach", _FLAG, False, ()),)

_Option = tuple[str, str, tuple[str, ...]]  # (dest, kind, choices)


def _index(
    table: Sequence[tuple[tuple[str, ...], str, str, object, tuple[str, ...]]],
) -> dict[str, _Option]:
    return {name: (dest, kind, choices) for names, dest, kind, _, choices in table
            for name in names}  # fmt: skip


_GLOBAL_INDEX: dict[str, _Option] = {
    name: (dest, kind, ()) for names, dest, kind in GLOBALS for name in names
}
_CREATE_INDEX = _index(FLAGS)
_RUN_INDEX = {**_CREATE_INDEX, **_index(RUN_ONLY)}


def _value(kind: str, text: str, choices: tuple[str, ...]) -> object:
    """``text`` as argparse stores it for ``kind``, or None when it is not a plain one."""
    if text.startswith("-") or (choices and text not in choices):
        return None
    if kind == _INT:  # argparse's int(): here decimal digits only
        return int(text) if text.isascii() and text.isdigit() else None
    return text


def _option(ns: Namespace, argv: Sequence[str], i: int, index: dict[str, _Option]) -> int | None:
    """Store the option at ``argv[i]`` in ``ns``; the next index, or None if not plain."""
    name, eq, text = argv[i].partition("=")
    found = index.get(name)
    if found is None or (eq and not name.startswith("--")):
        return None
    dest, kind, choices = found
    if kind == _FLAG:
        if eq:
            return None
        setattr(ns, dest, True)
        return i + 1
    if not eq:
        if i + 1 >= len(argv):
            return None
        i += 1
        text = argv[i]
    value = _value(kind, text, choices)
    if value is None:
        return None
    if kind == _LIST:
        setattr(ns, dest, [*getattr(ns, dest), value])
    else:
        setattr(ns, dest, value)
    return i + 1


def run_args(argv: Sequence[str]) -> Namespace | None:
    """The parsed ``run``/``create`` command line ``argv`` (the full parser's namespace:
    its attributes and values), or None when it is not one of the plain forms.
    """
    ns = Namespace(**{dest: False if kind == _FLAG else None for _, dest, kind in GLOBALS})
    i = 0
    while i < len(argv) and argv[i] not in ("run", "create"):
        if not argv[i].startswith("-"):
            return None
        step = _option(ns, argv, i, _GLOBAL_INDEX)
        if step is None:
            return None
        i = step
    if i >= len(argv):
        return None
    command = argv[i]
    table = (*FLAGS, *RUN_ONLY) if command == "run" else FLAGS
    for _, dest, _, default, _ in table:
        setattr(ns, dest, default)
    ns.command = command
    index = _RUN_INDEX if command == "run" else _CREATE_INDEX
    i += 1
    while i < len(argv) and argv[i].startswith("-"):
        step = _option(ns, argv, i, index)
        if step is None:
            return None
        i = step
    if i >= len(argv) or not argv[i] or argv[i + 1 : i + 2] == ["--"]:
        return None  # (argparse gives IMAGE a "--" that follows it)
    ns.image = argv[i]
    ns.cmd = list(argv[i + 1 :])
    return ns


__all__ = ["FLAGS", "GLOBALS", "RUN_ONLY", "run_args"]
