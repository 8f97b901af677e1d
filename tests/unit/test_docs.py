"""The documentation site builds with ``mkdocs build --strict`` (a broken link, a missing
snippet or an unresolvable reference fails it), and its generated reference has an entry for
every public name, every CLI command, every error class and every fixture and marker of the
pytest plugin. The lists come from the code here, independently of the generator
(docs/scripts/gen_reference.py), and are checked against the built HTML.
"""

from __future__ import annotations

import argparse
import html
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pycontainers import errors
from pycontainers.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "pycontainers": "api",
    "pycontainers.oci": "api/oci",
    "pycontainers.testing": "api/testing",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly into a temporary directory from this checkout."""
    out = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NO_MKDOCS_2_WARNING": "1",
        "DISABLE_MKDOCS_2_WARNING": "true",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        "mkdocs build --strict failed (is the docs extra installed? pip install -e '.[docs]'):\n"
        + proc.stderr[-6000:]
    )
    return out


def _ids(page: Path) -> set[str]:
    return {html.unescape(m) for m in re.findall(r'\bid="([^"]+)"', page.read_text())}


def test_the_strict_build_writes_every_section(site: Path) -> None:
    for page in (
        "index.html",
        "tutorials/first-container/index.html",
        "concepts/architecture/index.html",
        "reference/cli/index.html",
        "reference/cli/pycontainers/index.html",
        "reference/errors/index.html",
        "reference/pytest-plugin/index.html",
        "benchmarks/index.html",
        *(f"notebooks/{nb.stem}/index.html" for nb in (ROOT / "notebooks").glob("*.ipynb")),
    ):
        assert (site / page).is_file(), page
    assert 'class="mermaid"' in (site / "concepts/architecture/index.html").read_text()


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_every_public_name_has_a_reference_entry(site: Path, package: str) -> None:
    names = [n for n in importlib.import_module(package).__all__ if not n.startswith("__")]
    assert names
    missing = []
    for name in names:
        page = site / "reference" / PACKAGES[package] / name / "index.html"
        if not page.is_file() or f"{package}.{name}" not in _ids(page):
            missing.append(name)
    assert not missing, f"no reference entry for {package}: {missing}"
    index = (site / "reference" / PACKAGES[package] / "index.html").read_text()
    for name in names:
        assert f'href="{name}/"' in index, name


def _commands(parser: argparse.ArgumentParser, path: str = "") -> list[str]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                full = f"{path} {name}".strip()
                out += [full, *_commands(sub, full)]
    return out


def _scripts() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
        # pip's console scripts, and the launchers setup.py writes (pycontainers/_launchcache.py)
        scripts = {
            **config["project"].get("scripts", {}),
            **config["tool"]["pycontainers"]["commands"],
        }
    return {name: target.split(":", 1)[0] for name, target in scripts.items()}


def test_every_cli_command_has_a_reference_entry(site: Path) -> None:
    scripts = _scripts()
    assert "pycontainers" in scripts
    for script, module in scripts.items():
        page = site / "reference" / "cli" / script / "index.html"
        assert page.is_file(), f"no CLI reference page for {script}"
        ids = _ids(page)
        parser = importlib.import_module(module)._parser()
        commands = _commands(parser)
        assert commands, script
        missing = [c for c in commands if "cmd-" + c.replace(" ", "-") not in ids]
        assert not missing, f"no reference entry for {script}: {missing}"
    # pycontainers builds its commands' parsers lazily: its own table names every command
    whole = set(_commands(cli_main._parser()))
    assert {"check", *cli_main._OWNER} <= whole


def test_every_error_class_has_a_reference_entry(site: Path) -> None:
    classes = [
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type) and issubclass(obj, errors.PyContainersError)
    ]
    assert "ContainerStartError" in classes
    ids = _ids(site / "reference/errors/index.html")
    missing = [name for name in classes if f"pycontainers.errors.{name}" not in ids]
    assert not missing, f"no reference entry for errors: {missing}"


def test_every_fixture_and_marker_of_the_plugin_has_a_reference_entry(
    site: Path, pytestconfig: pytest.Config
) -> None:
    from pycontainers.testing import plugin

    ids = _ids(site / "reference/pytest-plugin/index.html")
    fixtures = [n for n, o in vars(plugin).items() if hasattr(o, "_fixture_function_marker")]
    assert {"sandbox", "container_factory", "pycontainers_engine"} <= set(fixtures)
    registered = {line.split(":", 1)[0] for line in pytestconfig.getini("markers")}
    assert set(plugin.MARKERS) <= registered
    missing = [f"fixture-{n}" for n in fixtures] + [f"marker-{m}" for m in plugin.MARKERS]
    assert not [m for m in missing if m not in ids]


def test_rest_markup_in_docstrings_becomes_markdown() -> None:
    spec = importlib.util.spec_from_file_location(
        "griffe_roles", ROOT / "docs" / "scripts" / "griffe_roles.py"
    )
    assert spec is not None and spec.loader is not None
    roles = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roles)
    assert roles.rewrite("see :class:`~pycontainers.Image` and :func:`run`") == (
        "see `Image` and `run`"
    )
    table = "keys:\n\n===  =====\na    one\n     more\nbb   two\n===  =====\n\nafter"
    assert roles.rewrite(table).split("\n") == [
        "keys:", "", "", "|  |  |", "|---|---|", "| a | one more |", "| bb | two |", "", "",
        "after",
    ]  # fmt: skip
    assert roles.rewrite("Example::\n\n    code()") == "Example:\n\n    code()"
    assert roles.rewrite(">>> x = 1\n>>> x\n1") == "```pycon\n>>> x = 1\n>>> x\n1\n```"
