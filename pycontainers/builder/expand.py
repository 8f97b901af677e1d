r"""Docker's word expansion for Dockerfile instructions (BuildKit's ``shell.Lex``).

One word at a time: quotes are removed (``'...'`` literal, ``"..."`` with ``$`` expansion
and escapes of ``"``, ``$`` and the escape character), the escape character (``\`` or the
``# escape=`` one) makes the next character literal, and ``$VAR`` / ``${VAR}`` expand with
the modifiers ``${VAR:-word}``, ``${VAR-word}``, ``${VAR:+word}``, ``${VAR+word}``,
``${VAR:?message}``, ``${VAR?message}`` and the patterns ``#``, ``##``, ``%``, ``%%``
(shell globs). An unset variable expands to ``""``.

>>> expand_word("${A:-x}-$B", {"B": "b"})
'x-b'
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from pycontainers.errors import BuildError

__all__ = ["ExpandError", "expand_word", "expand_words", "used_names"]


# a word that cannot be expanded (an unmatched quote, ``${VAR:?msg}`` of an unset VAR)
ExpandError = BuildError


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME = _NAME_START | frozenset("0123456789")


class _Lexer:
    def __init__(
        self, text: str, env: Mapping[str, str], escape: str, raw_quotes: bool, used: set[str]
    ) -> None:
        self.s = text
        self.i = 0
        self.env = env
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.used = used

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def next(self) -> str:
        ch = self.peek()
        self.i += 1
        return ch

    def word(self, stop: str = "") -> str:
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.peek()
            if stop and ch == stop:
                return "".join(out)
            if ch == "'" and not self.raw_quotes:
                out.append(self.single_quoted())
            elif ch == '"' and not self.raw_quotes:
                out.append(self.double_quoted())
            elif ch == "$":
                out.append(self.dollar())
            elif ch == self.escape:
                self.next()
                nxt = self.next()
                if self.raw_quotes:
                    out.append(nxt if nxt == "$" else ch + nxt)
                else:
                    out.append(nxt)
            else:
                out.append(self.next())
        if stop:
            raise ExpandError(f"missing '{stop}' in {self.s!r}")
        return "".join(out)

    def single_quoted(self) -> str:
        self.next()
        end = self.s.find("'", self.i)
        if end < 0:
            raise ExpandError(f"unexpected end of statement looking for matching ' in {self.s!r}")
        out = self.s[self.i : end]
        self.i = end + 1
        return out

    def double_quoted(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ExpandError(
                    f'unexpected end of statement looking for matching " in {self.s!r}'
                )
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.next()
            if ch == self.escape:
                nxt = self.peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.i
        if self.peek() and self.peek() in _NAME_START:
            while self.peek() and self.peek() in _NAME:
                self.next()
        elif self.peek().isdigit():  # positional parameters: one digit
            self.next()
        return self.s[start : self.i]

    def lookup(self, name: str) -> str | None:
        self.used.add(name)
        return self.env.get(name)

    def dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name) or ""
        self.next()  # the {
        name = self.name()
        if not name:
            raise ExpandError(f"bad substitution in {self.s!r}")
        ch = self.peek()
        if ch == "}":
            self.next()
            return self.lookup(name) or ""
        value = self.lookup(name)
        colon = ch == ":"
        if colon:
            self.next()
            ch = self.peek()
        if ch in ("-", "+", "?"):
            self.next()
            word = self.word("}")
            self.next()  # the }
            is_set = value is not None and (value != "" or not colon)
            if ch == "-":
                return (value or "") if is_set else word
            if ch == "+":
                return word if is_set else ""
            if not is_set:
                raise ExpandError(f"{name}: {word or 'is not allowed to be unset'}")
            return value or ""
        if colon:
            raise ExpandError(f"unsupported modifier ':{ch}' in {self.s!r}")
        if ch in ("#", "%"):
            self.next()
            longest = self.peek() == ch
            if longest:
                self.next()
            pattern = self.word("}")
            self.next()
            return _trim(value or "", pattern, ch == "#", longest)
        if ch == "/":
            self.next()
            every = self.peek() == "/"
            if every:
                self.next()
            pattern = self.word("/")
            self.next()
            repl = self.word("}")
            self.next()
            return _replace(value or "", pattern, repl, every)
        raise ExpandError(f"bad substitution in {self.s!r}")


def _trim(value: str, pattern: str, prefix: bool, longest: bool) -> str:
    spans = range(len(value), -1, -1) if longest else range(len(value) + 1)
    for n in spans:
        part = value[:n] if prefix else value[len(value) - n :]
        if fnmatch.fnmatchcase(part, pattern):
            return value[n:] if prefix else value[: len(value) - n]
    return value


def _replace(value: str, pattern: str, repl: str, every: bool) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        for j in range(len(value), i, -1):  # the longest match at i
            if fnmatch.fnmatchcase(value[i:j], pattern):
                out.append(repl)
                i = j
                break
        else:
            out.append(value[i])
            i += 1
            continue
        if not every:
            out.append(value[i:])
            return "".join(out)
    return "".join(out)


def expand_word(
    word: str,
    env: Mapping[str, str],
    *,
    escape: str = "\\",
    raw_quotes: bool = False,
    used: set[str] | None = None,
) -> str:
    """``word`` with its variables expanded from ``env`` and its quotes removed.

    ``raw_quotes`` keeps quotes and escapes as they are (heredoc bodies). The names looked
    up go into ``used``. Raises :class:`ExpandError`.
    """
    return _Lexer(word, env, escape, raw_quotes, used if used is not None else set()).word()


def expand_words(
    text: str, env: Mapping[str, str], *, escape: str = "\\", used: set[str] | None = None
) -> list[str]:
    """``text`` split into words at unquoted whitespace, each expanded (``EXPOSE $PORTS``)."""
    words: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote == '"' and i + 1 < len(text):
                current.append(ch)
                i += 1
                ch = text[i]
        elif ch in ("'", '"'):
            quote = ch
        elif ch == escape and i + 1 < len(text):
            current.append(ch)
            i += 1
            ch = text[i]
        elif ch.isspace():
            if current:
                words.append("".join(current))
                current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    if current:
        words.append("".join(current))
    out: list[str] = []
    for w in words:
        value = expand_word(w, env, escape=escape, used=used)
        out.extend(value.split() if "$" in w and not w.startswith(('"', "'")) else [value])
    return out


def used_names(word: str, *, escape: str = "\\") -> set[str]:
    """The variable names ``word`` refers to (whatever their values)."""
    used: set[str] = set()
    try:
        expand_word(word, {}, escape=escape, used=used)
    except ExpandError:
        pass
    return used
