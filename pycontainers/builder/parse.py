"""A Dockerfile as stages of instructions, parsed by moby's own parser (PyPI ``dockerfile``).

The parser does the lines: parser directives (``# escape=``), continuations, comments,
JSON (exec) forms and heredocs. This module checks what BuildKit's instruction layer
checks — known instructions, known flags, argument counts, a FROM before anything but
ARG, unique stage names — and raises :class:`BuildError` naming the line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from pycontainers.errors import BuildError

__all__ = ["Dockerfile", "Heredoc", "Instruction", "Stage", "parse_dockerfile"]

# instruction -> the flags it takes
FLAGS: dict[str, frozenset[str]] = {
    "FROM": frozenset({"platform"}),
    "RUN": frozenset({"mount", "network", "security"}),
    "COPY": frozenset({"from", "chown", "chmod", "link", "parents", "exclude"}),
    "ADD": frozenset({"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"}),
    "HEALTHCHECK": frozenset({"interval", "timeout", "start-period", "start-interval", "retries"}),
}
INSTRUCTIONS = frozenset(
    {
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
        "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
        "HEALTHCHECK", "SHELL",
    }
)  # fmt: skip
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")


@attrs.frozen
class Heredoc:
    """A here-document: its name, body (``<<-`` tabs stripped) and whether ``$`` expands."""

    name: str
    content: str
    expand: bool


@attrs.frozen
class Instruction:
    """One instruction: ``cmd`` (upper case), its ``--flags`` as (name, value) pairs, its
    arguments, whether they were JSON (exec form), its lines and text as written.
    """

    cmd: str
    flags: tuple[tuple[str, str], ...]
    args: tuple[str, ...]
    json: bool
    line: int
    end_line: int
    original: str
    heredocs: tuple[Heredoc, ...] = ()
    sub_cmd: str = ""

    def flag(self, name: str, default: str | None = None) -> str | None:
        """The last value given for ``--name`` (``default`` if not given)."""
        values = self.flag_values(name)
        return values[-1] if values else default

    def flag_values(self, name: str) -> list[str]:
        """Every value given for ``--name`` (``--mount`` may come more than once)."""
        return [v for k, v in self.flags if k == name]


@attrs.frozen
class Stage:
    """A build stage: ``FROM base [AS name]`` and its instructions."""

    index: int
    base: str
    name: str
    platform: str
    line: int
    instructions: tuple[Instruction, ...]
    original: str

    @property
    def label(self) -> str:
        """The stage's name, else its index (as BuildKit shows it)."""
        return self.name or f"stage-{self.index}"


@attrs.frozen
class Dockerfile:
    """The parsed file: ARGs before the first FROM, the stages, and the escape character."""

    path: str
    global_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]
    escape: str = "\\"
    directives: tuple[tuple[str, str], ...] = ()

    def stage(self, ref: str) -> Stage | None:
        """The stage named ``ref`` (case-insensitive) or of index ``ref``, or None."""
        low = ref.lower()
        for s in self.stages:
            if s.name and s.name == low:
                return s
        if ref.isdigit() and int(ref) < len(self.stages):
            return self.stages[int(ref)]
        return None


def _directives(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        out.append((m.group(1).lower(), m.group(2)))
    return tuple(out)


def _error_line(text: str, message: str) -> int:
    """The first line after which the parser fails with ``message`` (0 if none)."""
    import dockerfile

    lines = text.splitlines(keepends=True)
    for n in range(1, len(lines) + 1):
        try:
            dockerfile.parse_string("".join(lines[:n]))
        except dockerfile.GoParseError as exc:
            if str(exc) == message:
                return n
    return 0


def _heredocs(value: Sequence[str], raw: Sequence[object]) -> tuple[Heredoc, ...]:
    out = []
    marks = [v for v in value if v.startswith("<<")]
    for i, doc in enumerate(raw):
        name = str(getattr(doc, "name", ""))
        content = str(getattr(doc, "content", ""))
        mark = marks[i] if i < len(marks) else f"<<{name}"
        word = mark[2:]
        chomp = word.startswith("-")
        word = word.lstrip("-")
        quoted = word[:1] in ("'", '"')
        if chomp:
            content = "".join(line.lstrip("\t") for line in content.splitlines(keepends=True))
        out.append(Heredoc(name=name, content=content, expand=not quoted))
    return tuple(out)


def _flags(path: str, cmd: str, raw: Sequence[str], line: int) -> tuple[tuple[str, str], ...]:
    allowed = FLAGS.get(cmd, frozenset())
    out = []
    for flag in raw:
        name, eq, value = flag[2:].partition("=")
        if name not in allowed:
            raise BuildError(f"{cmd}: unknown flag: --{name}", dockerfile=path, line=line)
        if not eq and name not in ("link", "parents", "keep-git-dir"):
            raise BuildError(f"{cmd}: --{name} needs a value", dockerfile=path, line=line)
        out.append((name, value if eq else "true"))
    return tuple(out)


def _instruction(path: str, raw: object) -> Instruction:
    cmd = str(getattr(raw, "cmd", "")).upper()
    line = int(getattr(raw, "start_line", 0))
    value = tuple(str(v) for v in getattr(raw, "value", ()))
    if cmd not in INSTRUCTIONS:
        raise BuildError(f"unknown instruction: {cmd}", dockerfile=path, line=line)
    sub = str(getattr(raw, "sub_cmd", None) or "").upper()
    if cmd == "ONBUILD":
        if not sub:
            raise BuildError("ONBUILD needs an instruction", dockerfile=path, line=line)
        if sub in ("ONBUILD", "FROM", "MAINTAINER"):
            raise BuildError(f"{sub} isn't allowed as an ONBUILD trigger", dockerfile=path,
                             line=line)  # fmt: skip
        if sub not in INSTRUCTIONS:
            raise BuildError(f"unknown instruction: {sub}", dockerfile=path, line=line)
    inst = Instruction(
        cmd=cmd,
        flags=_flags(path, cmd, [str(f) for f in getattr(raw, "flags", ())], line),
        args=value,
        json=bool(getattr(raw, "json", False)),
        line=line,
        end_line=int(getattr(raw, "end_line", line)),
        original=str(getattr(raw, "original", "")),
        heredocs=_heredocs(value, tuple(getattr(raw, "heredocs", ()))),
        sub_cmd=sub,
    )
    _check_args(path, inst)
    return inst


def _check_args(path: str, inst: Instruction) -> None:
    n, cmd = len([a for a in inst.args if a != ""]), inst.cmd

    def fail(message: str) -> None:
        raise BuildError(message, dockerfile=path, line=inst.line)

    if cmd == "FROM" and n not in (1, 3):
        fail("FROM requires either one or three arguments (FROM image [AS name])")
    if cmd == "FROM" and n == 3 and inst.args[1].upper() != "AS":
        fail(f"FROM: expected 'AS' as the second argument, got {inst.args[1]!r}")
    if cmd in ("COPY", "ADD") and n < 2:
        fail(f"{cmd} requires at least two arguments, but got {n}")
    if cmd in ("ENV", "LABEL") and n < 1:
        fail(f"{cmd} requires at least one argument")
    if cmd in ("ENV", "LABEL", "ARG") and any(a == "" for a in inst.args[::2]) and n:
        fail(f"{cmd} names can not be blank")
    if cmd in ("WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER") and n != 1:
        fail(f"{cmd} requires exactly one argument")
    if cmd == "ARG" and n < 1:
        fail("ARG requires at least one argument")
    if cmd in ("RUN", "EXPOSE", "VOLUME", "HEALTHCHECK") and n < 1:
        fail(f"{cmd} requires at least one argument")
    if cmd == "SHELL" and (not inst.json or n < 1):
        fail('SHELL requires the arguments to be in JSON form: SHELL ["executable", "param"]')


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    """Parse ``text`` (the file at ``path``, named in errors) into stages.

    Raises :class:`BuildError` (with the line) for a syntax error, an unknown instruction
    or flag, a wrong number of arguments, an instruction before FROM other than ARG, or a
    stage name used twice.
    """
    import dockerfile

    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as exc:
        raise BuildError(
            f"syntax error: {exc}", dockerfile=path, line=_error_line(text, str(exc))
        ) from None
    directives = _directives(text)
    escape = dict(directives).get("escape", "\\")
    global_args: list[Instruction] = []
    stages: list[Stage] = []
    current: list[Instruction] = []
    head: Instruction | None = None

    def close() -> None:
        if head is None:
            return
        args = [a for a in head.args if a]
        name = args[2].lower() if len(args) == 3 else ""
        if name and not _STAGE_NAME.match(name):
            raise BuildError(f"invalid stage name {args[2]!r}", dockerfile=path, line=head.line)
        if name and any(s.name == name for s in stages):
            raise BuildError(f"duplicate stage name {name!r}", dockerfile=path, line=head.line)
        stages.append(
            Stage(
                index=len(stages),
                base=args[0],
                name=name,
                platform=head.flag("platform") or "",
                line=head.line,
                instructions=tuple(current),
                original=head.original,
            )
        )

    for raw in commands:
        inst = _instruction(path, raw)
        if inst.cmd == "FROM":
            close()
            head, current = inst, []
        elif head is None:
            if inst.cmd != "ARG":
                raise BuildError(
                    f"{inst.cmd} before the first FROM: only ARG may come before FROM",
                    dockerfile=path,
                    line=inst.line,
                )
            global_args.append(inst)
        else:
            current.append(inst)
    close()
    if not stages:
        raise BuildError("the Dockerfile has no FROM instruction", dockerfile=path)
    return Dockerfile(
        path=path,
        global_args=tuple(global_args),
        stages=tuple(stages),
        escape=escape,
        directives=directives,
    )
