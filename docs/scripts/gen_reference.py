"""Generates the site's Reference section at build time (run by mkdocs-gen-files).

Nothing here is written by hand, so the reference cannot drift from the code:

- ``reference/api/``: one page per name of ``pycontainers.__all__`` (and of the documented
  subpackages ``pycontainers.oci`` and ``pycontainers.testing``), rendered by mkdocstrings
  from the docstrings and type hints;
- ``reference/cli/``: every command of every console script of ``[project.scripts]``, from
  its argparse tree (its module's ``_parser()``: for ``pycontainers`` the whole tree, which
  the CLI otherwise builds one command at a time), with each subcommand's help;
- ``reference/errors.md``: the exception tree of ``pycontainers/errors.py``;
- ``reference/pytest-plugin.md``: the fixtures and markers the pytest plugin registers.

``pages()`` returns ``{path under docs/: Markdown}``; ``tests/unit/test_docs.py`` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for _path in (str(ROOT), str(Path(__file__).resolve().parent)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from griffe_roles import rewrite  # noqa: E402

# The packages whose ``__all__`` is public API, with the folder of their pages.
PACKAGES = {
    "pycontainers": "api",
    "pycontainers.oci": "api/oci",
    "pycontainers.testing": "api/testing",
}
CLI_WIDTH = "100"


# -- API -------------------------------------------------------------------------------------


def public_names(package: str) -> list[str]:
    """The names ``package`` exports (its ``__all__``), without dunders."""
    module = importlib.import_module(package)
    return [name for name in module.__all__ if not name.startswith("__")]


def api_page(package: str, name: str) -> str:
    """The path (under docs/) of the reference page of ``package.name``."""
    return f"reference/{PACKAGES[package]}/{name}.md"


def _summaries(package: str) -> dict[str, tuple[str, str]]:
    """``{name: (kind, first docstring line)}`` of ``package``'s names, read statically."""
    import griffe

    loaded: Any = griffe.load(package, search_paths=[str(ROOT)], resolve_aliases=True)
    out = {}
    for name in public_names(package):
        try:
            obj = loaded[name]
            kind = obj.kind.value
            doc = obj.docstring.value.strip().splitlines()[0] if obj.docstring else ""
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            kind, doc = "name", ""
        out[name] = (kind, doc)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def api_pages() -> dict[str, str]:
    """One page per public name, and an index per package."""
    pages = {}
    for package, folder in PACKAGES.items():
        rows = []
        for name, (kind, doc) in _summaries(package).items():
            page = api_page(package, name)
            pages[page] = f"::: {package}.{name}\n"  # its heading (h1) is the page's title
            rows.append(f"| [`{name}`]({name}.md) | {kind} | {_cell(rewrite(doc))} |")
        intro = importlib.import_module(package).__doc__ or ""
        first = rewrite(intro.strip().splitlines()[0]) if intro.strip() else ""
        pages[f"reference/{folder}/index.md"] = (
            f"# `{package}`\n\n{first}\n\nEvery name of `{package}.__all__`, generated from the "
            "docstrings and type hints.\n\n| name | kind | summary |\n|---|---|---|\n"
            + "\n".join(rows)
            + "\n"
        )
    return pages


# -- CLI -------------------------------------------------------------------------------------


def console_scripts() -> dict[str, str]:
    """``{script: module}`` of the package's commands (``[project.scripts]`` and the launchers
    of ``[tool.pycontainers.commands]``)."""
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        config = tomllib.load(f)
        # pip's console scripts, and the launchers setup.py writes (pycontainers/_launchcache.py)
        scripts = {
            **config["project"].get("scripts", {}),
            **config["tool"]["pycontainers"]["commands"],
        }
    return {name: target.split(":", 1)[0] for name, target in scripts.items()}


def script_parser(script: str) -> argparse.ArgumentParser:
    """The whole argparse tree of ``script``: its module's ``_parser()`` (the convention of
    every CLI of the package; ``pycontainers``' builds each command's subparser lazily and
    builds them all when called without a command).
    """
    module = importlib.import_module(console_scripts()[script])
    build = getattr(module, "_parser", None)
    if build is None:
        raise RuntimeError(f"{module.__name__} has no _parser(): cannot document {script}")
    parser: argparse.ArgumentParser = build()
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands(script: str = "pycontainers") -> dict[str, argparse.ArgumentParser]:
    """``{"run": parser, "volume ls": parser, ...}``: every command of ``script``'s tree."""
    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for name, sub in _subcommands(parser).items():
            full = f"{path} {name}".strip()
            out[full] = sub
            walk(sub, full)

    walk(script_parser(script), "")
    return out


def cli_anchor(command: str) -> str:
    """The anchor of ``command``'s section of its script's CLI page."""
    return "cmd-" + command.replace(" ", "-")


def cli_page(script: str) -> str:
    """reference/cli/SCRIPT.md: the top-level help, then every command's."""
    os.environ["COLUMNS"] = CLI_WIDTH  # argparse wraps help to the terminal's width
    parser = script_parser(script)
    lines = [
        f"# `{script}`",
        "",
        "Generated from the command's argparse tree at build time: every command, with the",
        f"help `{script} COMMAND --help` prints.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
        "",
    ]
    seen: dict[int, str] = {}
    for command, sub in cli_commands(script).items():
        depth = "##" if " " not in command else "###"
        lines += [f"{depth} `{script} {command}` {{#{cli_anchor(command)}}}", ""]
        if id(sub) in seen:  # an alias (``volume list`` of ``volume ls``)
            first = seen[id(sub)]
            lines += [f"An alias of [`{script} {first}`](#{cli_anchor(first)}).", ""]
            continue
        seen[id(sub)] = command
        lines += ["```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def cli_pages() -> dict[str, str]:
    """A page per console script, and an index."""
    pages = {f"reference/cli/{script}.md": cli_page(script) for script in console_scripts()}
    rows = []
    for script in console_scripts():
        summary = (script_parser(script).description or "").strip().splitlines()
        rows.append(f"- [`{script}`]({script}.md): {summary[0] if summary else ''}")
    pages["reference/cli/index.md"] = (
        "# Command line\n\nThe package's commands, each generated from its argparse tree. "
        "`pycontainers` exits with the container's status, 125 for its own errors and "
        "126/127 when a container's command cannot run / is not found.\n\n" + "\n".join(rows) + "\n"
    )
    return pages


# -- errors and the pytest plugin ------------------------------------------------------------


def error_classes() -> list[str]:
    """The exception classes ``pycontainers/errors.py`` defines, in source order."""
    from pycontainers import errors

    return [
        name
        for name, obj in vars(errors).items()
        if isinstance(obj, type)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    ]


def errors_page() -> str:
    """reference/errors.md: the module's tree, then each class."""
    from pycontainers import errors

    doc = inspect.getdoc(errors) or ""
    head, _, tree = doc.partition("::")
    lines = [
        "# Errors",
        "",
        rewrite(head.strip()),
        "",
        "```text",
        inspect.cleandoc(tree),
        "```",
        "",
    ]
    for name in error_classes():
        lines += [
            f"::: pycontainers.errors.{name}",
            "    options:",
            "      heading_level: 2",
            "      show_root_full_path: false",
            "      show_bases: true",
            "",
        ]
    return "\n".join(lines)


class _Markers:
    """Collects the marker lines the plugin's ``pytest_configure`` registers."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def addinivalue_line(self, key: str, line: str) -> None:
        if key == "markers":
            self.lines.append(line)


def plugin_fixtures() -> dict[str, tuple[str, str]]:
    """``{fixture name: (scope, docstring)}`` of the pytest plugin."""
    from pycontainers.testing import plugin

    out = {}
    for name, obj in vars(plugin).items():
        definition = getattr(obj, "_fixture_function_marker", None)
        if definition is None:
            continue
        function = getattr(obj, "_fixture_function", obj)
        out[definition.name or name] = (definition.scope, inspect.getdoc(function) or "")
    return out


def plugin_markers() -> dict[str, str]:
    """``{marker: description}`` as the plugin registers them."""
    from pycontainers.testing import plugin

    collector = _Markers()
    plugin.pytest_configure(collector)  # type: ignore[arg-type]
    return dict(line.split(": ", 1) for line in collector.lines)


def plugin_page() -> str:
    """reference/pytest-plugin.md: fixtures and markers."""
    from pycontainers.testing import plugin

    lines = [
        "# pytest plugin",
        "",
        "Registered through the `pytest11` entry point `pycontainers`, so installing",
        "pycontainers gives every pytest run these fixtures and markers (generated from",
        "`pycontainers/testing/plugin.py`).",
        "",
        rewrite(inspect.getdoc(plugin) or ""),
        "",
        "## Fixtures",
        "",
    ]
    for name, (scope, doc) in plugin_fixtures().items():
        lines += [
            f"### `{name}` {{#fixture-{name}}}",
            "",
            f"*scope: {scope}*",
            "",
            rewrite(doc),
            "",
        ]
    lines += ["## Markers", ""]
    for name, text in plugin_markers().items():
        lines += [f"### `@pytest.mark.{name}` {{#marker-{name}}}", "", text, ""]
    return "\n".join(lines)


# -- the section -----------------------------------------------------------------------------


def _nav() -> Iterator[str]:
    yield "* [Overview](index.md)"
    for package, folder in PACKAGES.items():
        yield f"* [`{package}`]({folder}/index.md)"
        for name in public_names(package):
            yield f"    * [{name}]({folder}/{name}.md)"
    yield "* [Command line](cli/index.md)"
    for script in console_scripts():
        yield f"    * [{script}](cli/{script}.md)"
    yield "* [Errors](errors.md)"
    yield "* [pytest plugin](pytest-plugin.md)"


def pages() -> dict[str, str]:
    """Every generated page: ``{path under docs/: Markdown}``."""
    out = {
        "reference/index.md": (
            "# Reference\n\nGenerated from the code at every build:\n\n"
            + "".join(
                f"- [`{package}`]({folder}/index.md): every name of its `__all__`\n"
                for package, folder in PACKAGES.items()
            )
            + "- [Command line](cli/index.md): every command of every console script, from "
            "its argparse tree\n"
            "- [Errors](errors.md): the exception tree\n"
            "- [pytest plugin](pytest-plugin.md): fixtures and markers\n"
        ),
        "reference/errors.md": errors_page(),
        "reference/pytest-plugin.md": plugin_page(),
    }
    out.update(cli_pages())
    out.update(api_pages())
    out["reference/SUMMARY.md"] = "\n".join(_nav()) + "\n"
    return out


def write() -> None:
    """Write every page through mkdocs-gen-files (only inside a docs build)."""
    import mkdocs_gen_files

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as f:
            f.write(text)


if __name__ in ("__main__", "<run_path>"):
    write()
