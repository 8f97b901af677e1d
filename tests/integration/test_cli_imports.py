"""What the cheap CLI paths import (issue 15), checked by module name, never by time: ``ps``,
``run --rm --network none`` and ``exec`` load neither the registry client, netlink,
nftables, the image store, the event-logging stack, the daemon, client and builder, nor the
other commands' modules, nor the standard-library modules a start has no use for (each a few
ms: ``shutil`` with ``bz2``/``lzma``, ``socket``'s enums, ``subprocess``, OpenSSL through
``hashlib``). The OCI runtime's ``create`` has the same budget, and loads neither the
hooks runner (without hooks), the supervision values of detached containers nor
``datetime``. A second run builds its attrs classes from the cache of their generated code
(``pycontainers/_attrscache.py``): no ``compile()`` of attrs' methods at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_util import ok

import pycontainers

pytestmark = pytest.mark.root

# (``ps`` still reads a container's endpoint file through pycontainers.network.endpoint.)
HEAVY = (
    "asyncio",
    "httpx",
    "pyroute2",
    "structlog",
    "pycontainers.images",
    *(f"pycontainers.network.{m}" for m in ("_loop", "links", "nft", "ports", "ipam", "tc")),
    "pycontainers.cgroups._stats",
    *(f"pycontainers.cli.{m}" for m in ("contents", "volumes", "networks", "system", "images",
                                        "registry")),
    "pycontainers.api",
    "pycontainers.client",
    "pycontainers.builder",
    "pycontainers.fs.shift",  # idmapped layers and binds only
    "pycontainers.runtime.zygote",
    # the standard library's costly modules that a start has no use for
    "shutil",
    "socket",
    "subprocess",
    "hashlib",
)  # fmt: skip


# what `pycontainers-runtime create` of a bundle without hooks has no use for, besides HEAVY
# (a shim's command line is read without argparse: pycontainers.ociruntime.createargs)
CREATE_HEAVY = ("pycontainers.ociruntime.hooks", "pycontainers.supervision", "datetime",
                "argparse", "gettext", "locale", "pycontainers.ociruntime.parser",
                "pycontainers.cli")  # fmt: skip
# How many of the package's own modules a create loads (66: runtime._childsetup, the wait
# for a child's setup report, out of launch.py; 65: spec.py's three parts,
# _specchecks, _specprocess and _specsecurity, are modules of their own since session 12,
# each ~0.2 ms of module overhead; 62 before; 64 before its command line was
# read without argparse, 65 before issue 17's diet): a module that joins the path is a
# decision (raise this with the reason), not an accident. Counted in:
# pycontainers.cgroups.prime (the cgroup join's grace period passes while create works).
CREATE_PACKAGE_MODULES = 66

# What ``run --rm --network none`` of a rootfs loads of the package (75: runtime._childsetup;
# 74: spec.py's three
# parts, as above; 71: cli.runargs, which
# reads run's plain command lines without argparse, in; cli.argparser and _fsapi, only for an
# idmapped rootfs, out; 72 before, with cgroups.prime and _fsapi, the fd-mount-API half of
# what was _sys; 73 before the volumes module left specs without volume or bind mounts and
# the keyword TypedDicts became lazy, counted the same way): as CREATE_PACKAGE_MODULES.
RUN_PACKAGE_MODULES = 75
RUN_HEAVY = ("pycontainers.runtime.volumes", "pycontainers.cgroups._limits",
             "pycontainers.runtime._specoptions", "pycontainers._fsapi",
             # run's plain command line is read without argparse (pycontainers.cli.runargs)
             "argparse", "gettext", "locale", "pycontainers.cli.argparser")  # fmt: skip

ATTRS_STATS = (
    "from pycontainers import _attrscache\nprint('ATTRS', *_attrscache.stats(), file=sys.stderr)\n"
)
LAST_ATTRS: list[tuple[int, int]] = []  # run_main's (hits, misses) of the attrs code cache


def attrs_stats(stderr: str) -> tuple[int, int]:
    """(hits, misses) of the attrs code cache, as the probe printed them."""
    lines = [line.split() for line in stderr.splitlines() if line.startswith("ATTRS ")]
    assert lines, stderr
    return int(lines[-1][1]), int(lines[-1][2])


def heavy_in(modules: list[str]) -> list[str]:
    """The modules of ``modules`` that are, or are inside, a HEAVY one."""
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def lean(code: str) -> list[str]:
    """argv of a fresh interpreter running ``code`` as the lean launchers run the CLIs:
    isolated, without ``site`` (whose ``.pth`` files import modules of their own, such as
    ``shutil`` for certifi), this interpreter's ``sys.path`` written in.
    """
    # the package's own parent first (an editable install finds it through site, not here)
    path = [os.path.dirname(os.path.dirname(os.path.abspath(pycontainers.__file__))), *sys.path]
    return [sys.executable, "-I", "-S", "-c", f"import sys\nsys.path[:0] = {path!r}\n{code}"]


def run_main(*argv: str) -> tuple[int, str, list[str]]:
    """The CLI's ``main(argv)`` in a fresh interpreter: (status, stdout, modules imported)."""
    code = (
        "from pycontainers.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "print('MODULES', *sorted(sys.modules), file=sys.stderr)\n"
        f"{ATTRS_STATS}"
        "sys.exit(status)\n"
    )
    r = subprocess.run([*lean(code), *argv], capture_output=True, text=True, timeout=120)
    lines = [line for line in r.stderr.splitlines() if line.startswith("MODULES ")]
    assert lines, (argv, r.returncode, r.stderr)
    LAST_ATTRS.append(attrs_stats(r.stderr))
    return r.returncode, r.stdout, lines[-1].split()[1:]


def test_parsing_run_imports_nothing_heavy() -> None:
    code = (
        "from pycontainers.cli.main import _command_of, _parser\n"
        "argv = ['run', '--rm', '--network', 'none', '/rootfs', '/bin/true']\n"
        "_parser(_command_of(argv)).parse_args(argv)\n"
        "print(*sorted(sys.modules))\n"
    )
    r = subprocess.run(lean(code), capture_output=True, text=True, check=True)
    assert heavy_in(r.stdout.split()) == []


def test_run_ps_and_exec_import_nothing_heavy(busybox_rootfs: Path) -> None:
    rootfs = str(busybox_rootfs)
    for _ in range(2):  # the second run finds the seccomp filter cached, as users' runs do
        status, out, modules = run_main("run", "--rm", "--network", "none", rootfs, "echo", "hi")
        assert (status, out) == (0, "hi\n")
    assert heavy_in(modules) == []
    assert [m for m in RUN_HEAVY if m in modules] == []
    own = [m for m in modules if m == "pycontainers" or m.startswith("pycontainers.")]
    assert len(own) <= RUN_PACKAGE_MODULES, own
    assert "cffi.api" not in modules  # no libseccomp: the filter came from the cache
    hits, misses = LAST_ATTRS[-1]
    assert misses == 0 and hits >= 20  # every attrs class from the cache of its code
    cid = ok("run", "-d", "--network", "none", rootfs, "sleep", "100").strip()
    try:
        status, out, modules = run_main("ps", "--no-trunc")
        assert status == 0 and cid in out
        assert heavy_in(modules) == []
        status, out, modules = run_main("exec", cid, "echo", "in")
        assert (status, out) == (0, "in\n")
        assert heavy_in(modules) == []
    finally:
        ok("rm", "-f", cid)


def test_oci_runtime_create_imports_nothing_heavy(busybox_rootfs: Path, tmp_path: Path) -> None:
    """``pycontainers-runtime create`` (a shim runs it for every container) keeps the same
    budget; it is run as the lean launcher runs it (``-I -S``), its container then deleted.
    """
    import json

    from pycontainers.ociruntime.info import template

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    doc = template()
    doc["process"].update(terminal=False, args=["/bin/true"])
    doc["root"] = {"path": str(busybox_rootfs), "readonly": True}
    (bundle / "config.json").write_text(json.dumps(doc))
    root = str(tmp_path / "state")
    code = (
        "from pycontainers.ociruntime.main import main\n"
        "status = main(sys.argv[1:])\n"
        "print('MODULES', *sorted(sys.modules), file=sys.stderr)\n"
        f"{ATTRS_STATS}"
        "sys.exit(status)\n"
    )
    argv = ["--root", root]
    err = tmp_path / "stderr"
    for name in ("diet", "diet2"):  # the second finds the attrs code cached
        with open(err, "wb") as f:  # a file, not a pipe: the created container holds its stdio
            rc = subprocess.call([*lean(code), *argv, "create", "--bundle", str(bundle), name],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f,
                                 timeout=120)  # fmt: skip
        try:
            stderr = err.read_text()
            assert rc == 0, stderr
            lines = [line for line in stderr.splitlines() if line.startswith("MODULES ")]
            assert lines, stderr
            modules = lines[-1].split()[1:]
            assert heavy_in(modules) == []
            assert [m for m in CREATE_HEAVY if m in modules] == []
            own = [m for m in modules if m == "pycontainers" or m.startswith("pycontainers.")]
            assert len(own) <= CREATE_PACKAGE_MODULES, own
            hits, misses = attrs_stats(stderr)
        finally:
            d = subprocess.run([sys.executable, "-m", "pycontainers.ociruntime.main", *argv,
                                "delete", "--force", name], capture_output=True, text=True,
                               timeout=60)  # fmt: skip
            assert d.returncode == 0 or "does not exist" in d.stderr, d.stderr
    assert misses == 0 and hits >= 20  # the second create compiled no attrs method


def test_run_on_the_bridge_loads_only_the_netlink_and_nftables_it_uses(
    busybox_rootfs: Path,
) -> None:
    # the default bridge network: the links' own rtnetlink messages (no pyroute2, no asyncio),
    # libnftables through the module compiled at build time (no cffi parser at run time)
    for _ in range(2):  # the second run finds the seccomp filter cached
        status, out, modules = run_main("run", "--rm", str(busybox_rootfs), "echo", "hi")
        assert (status, out) == (0, "hi\n")
    assert "pycontainers.network._rtnl" in modules and "pycontainers.network._nftables" in modules
    assert [m for m in modules if m.startswith(("pyroute2", "asyncio"))] == []
    assert [m for m in modules if m.startswith(("cffi.cparser", "pycparser"))] == []
