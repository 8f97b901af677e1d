"""The installed commands' launcher (``pycontainers/_launcher.py``, ``_launchcache.py``; issue 15):
real ``#!/bin/sh`` scripts run as processes, in a throwaway venv whose site directory
points at a copy of the package. ``PYCONTAINERS_LAUNCH_DEBUG=1`` makes a launcher print at
exit which path it took, whether ``site`` was ever imported, ``sys.prefix`` and where
``pycontainers`` came from.

pip itself is not run here: building needs the build requirements from an index, which the
session's private network namespace cannot reach. ``.ci/run`` checks the launcher that
``pip install -e`` put in place (host network), and the report of issue 15 lists the manual
checks of a wheel install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import pycontainers
from pycontainers import _launchcache

PACKAGE = Path(pycontainers.__file__).resolve().parent
REPO = PACKAGE.parent
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


class Install:
    """A venv (with the system site packages, for the dependencies), a copy of the package
    on its path through a ``.pth`` file, and a launcher next to the venv's ``python3``.
    """

    def __init__(self, root: Path, target: str = "pycontainers.cli.main:main") -> None:
        self.root = root
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
             str(root / "venv")], check=True, capture_output=True,
        )  # fmt: skip
        self.site = root / "venv" / SITE
        self.cache_home = root / "cache"
        self.script = root / "venv" / "bin" / "pycontainers"
        self.script.write_text(_launchcache.script_text("pycontainers", target, sys.executable))
        self.script.chmod(0o755)
        self.home_a = root / "a"
        shutil.copytree(PACKAGE, self.home_a / "pycontainers", ignore=_IGNORE)
        self.point_at(self.home_a)

    def point_at(self, *dirs: Path) -> None:
        (self.site / "pc-copy.pth").write_text("".join(f"{d}\n" for d in dirs))

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(XDG_CACHE_HOME=str(self.cache_home), PYCONTAINERS_LAUNCH_DEBUG="1", **extra)
        return env

    def run(self, *args: str, **env: str) -> tuple[dict[str, str], str]:
        """Run the launcher: (its debug report, stdout)."""
        r = subprocess.run([str(self.script), *args], env=self.env(**env), capture_output=True,
                           text=True, timeout=120)  # fmt: skip
        assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
        return report(r.stderr), r.stdout

    def expect(self, fast: bool, package: Path | None = None) -> dict[str, str]:
        """The report of a run that imports pycontainers from ``package`` (the copy)."""
        return {"fast": str(int(fast)), "no_site": "1", "site_imported": str(int(not fast)),
                "late_site": "-", "prefix": str(self.root / "venv"),
                "package": str(package or self.home_a / "pycontainers")}  # fmt: skip

    def cache_files(self) -> list[Path]:
        return sorted(p for p in (self.cache_home / "pycontainers").glob("launch-*"))


def report(stderr: str) -> dict[str, str]:
    lines = [line for line in stderr.splitlines() if line.startswith("pycontainers-launch: ")]
    assert len(lines) == 1, stderr
    return dict(field.split("=", 1) for field in lines[0].split()[1:])


@pytest.fixture
def install(tmp_path: Path) -> Install:
    return Install(tmp_path)


def test_second_run_takes_the_fast_path_without_site(install: Install) -> None:
    first, out = install.run("--version")
    assert out == f"pycontainers {pycontainers.__version__}\n"
    assert first == install.expect(fast=False)
    [cache] = install.cache_files()
    assert cache.stat().st_mode & 0o777 == 0o644
    assert cache.parent.stat().st_mode & 0o777 == 0o700
    for args in (["--version"], ["ps", "-a"]):
        again, out = install.run(*args)
        assert again == install.expect(fast=True)  # sys.prefix too: the venv, as site sets it
    assert out.split()[:2] == ["CONTAINER", "ID"]
    assert install.cache_files() == [cache]


def test_pythonpath_copy_wins_and_is_not_cached(install: Install) -> None:
    # no cache yet: the normal start, and the cache records the installed copy, not REPO
    got, _ = install.run("--version", PYTHONPATH=str(REPO))
    assert got["fast"] == "0" and got["package"] == str(PACKAGE)
    assert f"package\t{install.home_a / 'pycontainers'}\n" in install.cache_files()[0].read_text()
    # with the cache: PYTHONPATH still comes first, as in a normal start
    got, _ = install.run("--version", PYTHONPATH=str(REPO))
    assert got == install.expect(fast=True, package=PACKAGE)
    got, _ = install.run("--version")
    assert got["fast"] == "1" and got["package"] == str(install.home_a / "pycontainers")


def _garbage(p: Path) -> None:
    p.write_bytes(b"\x00\xffnot a cache\n")


def _truncated(p: Path) -> None:
    p.write_text(p.read_text().replace("\nend\n", "\n"))


def _other_key(p: Path) -> None:
    p.write_text(p.read_text().replace("pycontainers-launch 1", "pycontainers-launch 0", 1))


def _unknown_entry(p: Path) -> None:
    p.write_text(p.read_text().replace("\nend\n", "\nimport\tos\nend\n"))


def _writable_by_others(p: Path) -> None:
    p.chmod(0o666)


def _wrong_package(p: Path) -> None:
    home = str(p.parents[2] / "a")
    p.write_text(p.read_text().replace(f"package\t{home}", f"package\t{home}-gone"))


def _stale_stamp(p: Path) -> None:
    lines = p.read_text().split("\n")
    lines = [f"{line.rsplit(chr(9), 1)[0]}\t1" if line.startswith("stamp\t") else line
             for line in lines]  # fmt: skip
    p.write_text("\n".join(lines))


@pytest.mark.parametrize(
    "spoil",
    [_garbage, _truncated, _other_key, _unknown_entry, _writable_by_others, _wrong_package,
     _stale_stamp],
)  # fmt: skip
def test_a_bad_cache_falls_back_to_site_and_is_rewritten(
    install: Install, spoil: Callable[[Path], None]
) -> None:
    install.run("--version")
    [cache] = install.cache_files()
    good = cache.read_text()
    spoil(cache)
    got, out = install.run("--version")
    assert out == f"pycontainers {pycontainers.__version__}\n"
    assert got == install.expect(fast=False)
    assert cache.read_text() == good and cache.stat().st_mode & 0o777 == 0o644
    assert install.run("--version")[0]["fast"] == "1"


def _launcher_source(script: Path) -> str:
    """The launcher source a script carries (its ``SOURCE = ...`` line)."""
    import ast

    tree = ast.parse(script.read_text().partition("\n'''\n")[2])
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SOURCE":
            value: str = ast.literal_eval(node.value)
            return value
    raise AssertionError("no SOURCE in the script")


def test_the_launcher_code_comes_from_its_cache_only_when_it_holds_that_source(
    install: Install,
) -> None:
    import marshal

    install.run("--version")
    [code] = sorted((install.cache_home / "pycontainers").glob(_launchcache.CODE_PREFIX + "*"))
    assert code.stat().st_mode & 0o777 == 0o600
    source = _launcher_source(install.script)
    size = len(source.encode())
    head = f"pycontainers-launcher-code 1 {sys.version!a} {marshal.version} {size}\n".encode()
    data = code.read_bytes()
    assert data.startswith(head + source.encode())
    assert install.run("--version")[0] == install.expect(fast=True)  # from the cache
    marker = compile("print('code from the cache')", "<marker>", "exec")

    def run() -> str:
        r = subprocess.run([str(install.script), "--version"], env=install.env(),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stderr
        return r.stdout

    code.write_bytes(head + source.encode() + marshal.dumps(marker))
    assert run() == "code from the cache\n"  # what a cache that matches holds is what runs
    for spoil in (
        lambda: code.chmod(0o620),  # writable by others: never used, replaced
        lambda: code.write_bytes(head + source.encode() + b"x" + marshal.dumps(marker)),
        lambda: code.write_bytes(
            head.replace(b" 1 ", b" 0 ") + source.encode() + marshal.dumps(marker)
        ),
        lambda: code.write_bytes(head + source.encode()[:-1] + marshal.dumps(marker)),
        lambda: code.write_bytes(head + source.encode() + b"\x00garbage"),
    ):
        code.write_bytes(head + source.encode() + marshal.dumps(marker))
        code.chmod(0o600)
        spoil()
        assert run() == f"pycontainers {pycontainers.__version__}\n"
        assert code.read_bytes().startswith(head + source.encode())
        assert code.stat().st_mode & 0o777 == 0o600
        assert run() == f"pycontainers {pycontainers.__version__}\n"
    got, _ = install.run("--version", PYCONTAINERS_NO_FAST_START="1")  # no cache at all
    assert got["fast"] == "0"


def test_an_install_in_the_site_directory_invalidates_the_cache(install: Install) -> None:
    install.run("--version")
    assert install.run("--version")[0]["fast"] == "1"
    (install.site / "newdist-1.0.dist-info").mkdir()  # what any pip install does
    assert install.run("--version")[0]["fast"] == "0"
    assert install.run("--version")[0]["fast"] == "1"


def test_the_package_moving_is_followed(install: Install) -> None:
    home_b = install.root / "b"
    install.run("--version")
    # moved, and the .pth rewritten (a reinstall): a stale stamp
    home_b.mkdir()
    (install.home_a / "pycontainers").rename(home_b / "pycontainers")
    install.point_at(home_b)
    got, _ = install.run("--version")
    assert got["fast"] == "0" and got["package"] == str(home_b / "pycontainers")
    assert install.run("--version")[0] == install.expect(True, home_b / "pycontainers")
    # the .pth names both homes; the package moves back without any site file changing
    install.point_at(install.home_a, home_b)
    assert install.run("--version")[0] == install.expect(False, home_b / "pycontainers")
    assert install.run("--version")[0] == install.expect(True, home_b / "pycontainers")
    (home_b / "pycontainers").rename(install.home_a / "pycontainers")
    assert install.run("--version")[0] == install.expect(False)
    assert install.run("--version")[0] == install.expect(True)


def test_opting_out_takes_the_normal_start(install: Install) -> None:
    install.run("--version")
    for var in ("PYCONTAINERS_NO_FAST_START", "COVERAGE_PROCESS_START"):
        got, _ = install.run("--version", **{var: "1"})
        assert got["fast"] == "0" and got["site_imported"] == "1"


def _probe_modules(site: Path, front: bool) -> None:
    """A target module, and a ``.pth`` that installs a finder serving ``pc_late_module``
    (appended to sys.meta_path, or first when ``front``).
    """
    (site / "pc_probe_target.py").write_text(
        "import sys\n"
        "def main():\n"
        "    import pc_late_module\n"
        "    print(pc_late_module.VALUE)\n"
        "    return 0\n"
    )
    (site / "pc_probe_finder.py").write_text(
        "import importlib.abc, importlib.util, sys\n"
        "class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pc_late_module':\n"
        "            return importlib.util.spec_from_loader(name, self)\n"
        "    def exec_module(self, module):\n"
        "        module.VALUE = 'served by the .pth finder'\n"
        "def install(front):\n"
        "    sys.meta_path.insert(0, Finder()) if front else sys.meta_path.append(Finder())\n"
    )
    (site / "pc-probe.pth").write_text(
        f"import pc_probe_finder; pc_probe_finder.install({front})\n"
    )


def test_a_finder_added_by_site_is_reached_through_a_late_site_run(tmp_path: Path) -> None:
    install = Install(tmp_path, target="pc_probe_target:main")
    _probe_modules(install.site, front=False)
    got, out = install.run()
    assert out == "served by the .pth finder\n" and got["fast"] == "0"
    # fast start; the module the fast path cannot find makes it run site, then it is found
    got, out = install.run()
    assert out == "served by the .pth finder\n"
    assert got["fast"] == "1" and got["site_imported"] == "1"
    assert got["late_site"] == "pc_late_module"


def test_a_missing_module_is_just_missing_without_finders_from_site(tmp_path: Path) -> None:
    """No finder added by site: a module not found (``copy`` probes for ``org``) is not a
    reason to run site.
    """
    install = Install(tmp_path, target="pc_probe_target:main")
    target = (
        "def main():\n"
        "    try:\n"
        "        import pc_no_such_module  # noqa: F401\n"
        "    except ImportError:\n"
        "        print('missing')\n"
        "    import copy  # noqa: F401\n"
        "    import pycontainers  # noqa: F401\n"
        "    return 0\n"
    )
    (install.site / "pc_probe_target.py").write_text(target)
    install.run()
    got, out = install.run()
    assert out == "missing\n" and got == install.expect(fast=True)
    # with a finder added by site, the late run happens, and the module is still missing
    _probe_modules(install.site, front=False)
    (install.site / "pc_probe_target.py").write_text(target)
    install.run()
    got, out = install.run()
    assert out == "missing\n"
    assert (got["fast"], got["late_site"]) == ("1", "pc_no_such_module")


def test_a_site_directory_on_pythonpath_is_not_cached(install: Install) -> None:
    """A directory site (or a .pth file) adds that is also on PYTHONPATH is not added by
    site, so the cache could not say what a start without PYTHONPATH needs.
    """
    for entry in (install.site, install.home_a):
        got, _ = install.run("--version", PYTHONPATH=str(entry))
        assert got["fast"] == "0" and install.cache_files() == []


def test_a_finder_placed_before_the_path_finder_is_never_skipped(tmp_path: Path) -> None:
    install = Install(tmp_path, target="pc_probe_target:main")
    _probe_modules(install.site, front=True)
    for _ in range(2):
        got, out = install.run()
        assert out == "served by the .pth finder\n" and got["fast"] == "0"
    assert install.cache_files() == []


def test_the_script_runs_as_python_too(install: Install) -> None:
    """``python3 SCRIPT`` (the sh part is a string to Python) takes the normal start."""
    r = subprocess.run([sys.executable, str(install.script), "--version"],
                       env=install.env(), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"pycontainers {pycontainers.__version__}\n"
    assert report(r.stderr)["no_site"] == "0" and report(r.stderr)["fast"] == "0"


def test_the_runtime_launcher_shares_the_cache(install: Install) -> None:
    """``pycontainers-runtime``'s launcher (another target) uses the cache ``pycontainers``
    wrote: it describes the interpreter's site, not a command.
    """
    install.run("--version")
    runtime = install.script.with_name("pycontainers-runtime")
    runtime.write_text(
        _launchcache.script_text("pycontainers-runtime", "pycontainers.ociruntime.main:entry",
                              sys.executable)
    )  # fmt: skip
    runtime.chmod(0o755)
    r = subprocess.run([str(runtime), "--version"], env=install.env(), capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"pycontainers-runtime version {pycontainers.__version__}\n")
    assert report(r.stderr) == install.expect(fast=True)
