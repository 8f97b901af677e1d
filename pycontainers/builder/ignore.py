r"""``.dockerignore``: Docker's pattern matcher (moby's ``patternmatcher``).

Patterns are anchored at the context root (a leading ``/`` is dropped, each one is
cleaned like Go's ``filepath.Clean``); ``*`` and ``?`` stay within one path component,
``**`` spans any number of them, ``[...]`` is a character class and ``\`` escapes. A
pattern that matches a directory matches everything below it. Lines starting with ``!``
re-include what an earlier pattern excluded: the last matching line wins. (``pathspec``'s
gitignore rules differ: there a pattern without a slash matches at any depth.)

>>> m = IgnoreMatcher.from_text("*.log\n!keep.log\nbuild/**/tmp")
>>> m.ignored("a.log"), m.ignored("keep.log"), m.ignored("build/x/y/tmp/z")
(True, False, True)
"""

from __future__ import annotations

import posixpath
import re

import attrs

__all__ = ["IgnoreMatcher", "IgnorePattern"]


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern)
    if cleaned.startswith("//"):
        cleaned = cleaned[1:]
    cleaned = cleaned.lstrip("/")
    return "." if cleaned in ("", ".") else cleaned


def _regex(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 1
                # "**/" matches zero or more directories; a trailing "**" anything
                if i + 1 < n and pattern[i + 1] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith(("!", "^")):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


@attrs.frozen
class IgnorePattern:
    """One line of a ``.dockerignore``: the cleaned pattern and whether it re-includes."""

    pattern: str
    exclusion: bool
    regex: re.Pattern[str] = attrs.field(eq=False, repr=False)
    depth: int = attrs.field(eq=False, repr=False)

    @classmethod
    def parse(cls, line: str) -> IgnorePattern:
        """A pattern from one (non-comment) line."""
        exclusion = line.startswith("!")
        body = _clean(line[1:].strip() if exclusion else line)
        return cls(body, exclusion, _regex(body), body.count("/") + 1)

    def matches(self, path: str) -> bool:
        """Whether ``path`` (relative, ``/``-separated) or one of its parents matches."""
        if self.regex.match(path):
            return True
        parts = path.split("/")
        if len(parts) > self.depth and "**" not in self.pattern:
            return bool(self.regex.match("/".join(parts[: self.depth])))
        if "**" in self.pattern:
            return any(self.regex.match("/".join(parts[:k])) for k in range(1, len(parts)))
        return False


@attrs.frozen
class IgnoreMatcher:
    """The patterns of a ``.dockerignore``, in order."""

    patterns: tuple[IgnorePattern, ...] = ()

    @classmethod
    def from_text(cls, text: str) -> IgnoreMatcher:
        """Parse a ``.dockerignore`` (``#`` comments and blank lines skipped)."""
        out = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line == "!":
                continue
            out.append(IgnorePattern.parse(line))
        return cls(tuple(out))

    @property
    def has_exclusions(self) -> bool:
        """Whether some line re-includes (``!``): ignored directories must still be walked."""
        return any(p.exclusion for p in self.patterns)

    def ignored(self, path: str) -> bool:
        """Whether the context path ``path`` (relative, ``/``-separated) is left out."""
        path = path.strip("/")
        if not path or path == ".":
            return False
        result = False
        for p in self.patterns:
            if p.exclusion == result and p.matches(path):  # only a change can flip it
                result = not p.exclusion
        return result
