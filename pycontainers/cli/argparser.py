"""argparse for the command lines (``pycontainers``, ``pycontainers-runtime``) at the cost of
a start: the help's width is looked up once, not per flag.

argparse builds a help formatter for every ``add_argument`` (to check the metavar), and its
default formatter asks ``shutil.get_terminal_size`` for the width each time; the import of
:mod:`shutil` (with ``bz2``, ``lzma``) and the 85 look-ups of ``run``'s flags cost ~5 ms of
every command. :class:`ArgumentParser` uses :class:`HelpFormatter`, which takes the width
from ``$COLUMNS`` or the terminal once (what ``shutil.get_terminal_size`` does); its
subparsers are of its own class.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

_columns: list[int] = []


def terminal_columns() -> int:
    """The terminal's width: ``$COLUMNS``, else the size of stdout's terminal, else 80
    (``shutil.get_terminal_size``'s rule, without importing :mod:`shutil`); looked up once.
    """
    if not _columns:
        try:
            columns = int(os.environ.get("COLUMNS", "0"))
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                columns = 0
        _columns.append(columns if columns > 0 else 80)
    return _columns[0]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, its width (when not given) :func:`terminal_columns` - 2."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with :class:`HelpFormatter` by default (its subparsers too)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


class CliParser(ArgumentParser):
    """The ``pycontainers`` CLI's parser: usage errors exit 125, as Docker's do."""

    def error(self, message: str) -> Any:
        """Print the usage and ``pycontainers: <message>``; exit 125."""
        self.print_usage(sys.stderr)
        self.exit(125, f"pycontainers: {message}\n")


__all__ = ["ArgumentParser", "CliParser", "HelpFormatter", "terminal_columns"]
