"""The CLI builds only the subparser of the command it runs (issue 15): the same parsers as
in the whole tree (tests/integration/test_cli_imports.py checks what a command imports).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator

import pytest

from pycontainers.cli import main as cli_main


def _helps(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, str]]:
    """(command path, help text) of ``parser`` and of every subparser below it."""
    yield path, parser.format_help()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _helps(sub, f"{path} {name}")


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[command]
            return sub
    raise AssertionError("no subparsers")


def test_the_owner_table_matches_the_modules() -> None:
    for module in cli_main._MODULES:
        commands = importlib.import_module(f"pycontainers.cli.{module}").COMMANDS
        assert tuple(cli_main._COMMANDS[module].split()) == tuple(commands), module


@pytest.mark.parametrize("command", ["check", *cli_main._OWNER])
def test_a_command_alone_parses_as_in_the_whole_tree(command: str) -> None:
    whole = dict(_helps(_subparser(cli_main._parser(), command), command))
    alone = cli_main._parser(command)
    assert dict(_helps(_subparser(alone, command), command)) == whole
    usage = cli_main._parser().format_usage()
    assert alone.format_usage() == usage


def test_which_argv_gets_one_command() -> None:
    assert cli_main._command_of(["ps", "-a"]) == "ps"
    assert cli_main._command_of(["--root", "/r", "run", "x"]) == "run"
    assert cli_main._command_of(["--root=/r", "check"]) == "check"
    for argv in ([], ["--help"], ["-h", "ps"], ["--version"], ["bogus"], ["--ro", "/r", "ps"],
                 ["--root"], ["--root", "ps"], ["--", "ps"], ["-", "ps"]):  # fmt: skip
        assert cli_main._command_of(argv) is None, argv
