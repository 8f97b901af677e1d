"""The builder's pure parts: Docker's word expansion, the .dockerignore matcher, the
Dockerfile checks on top of moby's parser, and the plain progress format."""

from __future__ import annotations

import io

import pytest

from pycontainers.builder.expand import ExpandError, expand_word, expand_words, used_names
from pycontainers.builder.ignore import IgnoreMatcher
from pycontainers.builder.parse import parse_dockerfile
from pycontainers.builder.progress import Progress
from pycontainers.errors import BuildError

ENV = {"A": "a", "EMPTY": "", "P": "/usr/local/bin.tar.gz"}


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("$A", "a"),
        ("${A}b", "ab"),
        ("${UNSET}", ""),
        ("${A:-x}", "a"),
        ("${EMPTY:-x}", "x"),
        ("${EMPTY-x}", ""),
        ("${UNSET-x}", "x"),
        ("${A:+y}", "y"),
        ("${EMPTY:+y}", ""),
        ("${EMPTY+y}", "y"),
        ("${UNSET:+y}", ""),
        ("${UNSET:-${A}}", "a"),
        (r"\$A", "$A"),
        (r"a\ b", "a b"),
        ('"$A b"', "a b"),
        ("'$A'", "$A"),
        (r'"\$A \"q\""', '$A "q"'),
        ("${P##*/}", "bin.tar.gz"),
        ("${P#*/}", "usr/local/bin.tar.gz"),
        ("${P%.*}", "/usr/local/bin.tar"),
        ("${P%%.*}", "/usr/local/bin"),
        ("${P/local/opt}", "/usr/opt/bin.tar.gz"),
        ("$", "$"),
        ("a$-b", "a$-b"),
    ],
)
def test_expansion_follows_docker(word: str, value: str) -> None:
    assert expand_word(word, ENV) == value


def test_expansion_errors_and_escape_directive() -> None:
    with pytest.raises(ExpandError, match="UNSET: needed"):
        expand_word("${UNSET:?needed}", ENV)
    with pytest.raises(ExpandError, match="matching"):
        expand_word('"open', ENV)
    assert expand_word("`$A", ENV, escape="`") == "$A"
    assert expand_word("$A 'q' \\$x", ENV, raw_quotes=True) == "a 'q' $x"
    assert expand_words("$PORTS 90 'a b'", {"PORTS": "80 443"}) == ["80", "443", "90", "a b"]
    assert used_names("${A:-$B} $C") == {"A", "B", "C"}


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        ("*.log", "a.log", True),
        ("*.log", "dir/a.log", False),  # anchored at the root, unlike .gitignore
        ("**/*.log", "dir/sub/a.log", True),
        ("**/*.log", "a.log", True),
        ("dir", "dir/sub/file", True),  # a directory takes everything below
        ("dir/*", "dir/file", True),
        ("dir/*", "dirx/file", False),
        ("/abs/./x/../y", "abs/y", True),
        ("*.log\n!keep.log", "keep.log", False),
        ("*.log\n!keep.log\nkeep*", "keep.log", True),  # the last match wins
        ("build/**/tmp", "build/a/b/tmp/f", True),
        ("?.txt", "ab.txt", False),
        ("[a-c].txt", "b.txt", True),
        ("# comment\n\n", "# comment", False),
    ],
)
def test_dockerignore_matcher(patterns: str, path: str, ignored: bool) -> None:
    assert IgnoreMatcher.from_text(patterns).ignored(path) is ignored


def test_parse_stages_args_and_heredocs() -> None:
    df = parse_dockerfile(
        "# escape=`\nARG V=1\nFROM base:${V} AS Build\nRUN echo `\n  hi\n"
        "COPY <<-EOT /f\n\tx\n\tEOT\nFROM build\nCOPY --from=build /a /b\n"
    )
    assert df.escape == "`" and [a.args for a in df.global_args] == [("V=1",)]
    first, second = df.stages
    assert (first.name, first.base, second.base) == ("build", "base:${V}", "build")
    run, copy = first.instructions
    assert (run.line, run.end_line, run.args) == (4, 5, ("echo   hi",))
    assert copy.heredocs[0].content == "x\n" and copy.heredocs[0].expand
    assert df.stage("build") is first and df.stage("1") is second
    assert second.instructions[0].flag("from") == "build"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM a\nBOGUS x\n", 2, "unknown instruction: BOGUS"),
        ("FROM a\nRUN <<EOF\nx\n", 2, "unterminated heredoc"),
        ("RUN x\nFROM a\n", 1, "only ARG may come before FROM"),
        ("FROM a\nCOPY --frm=x a b\n", 2, "unknown flag: --frm"),
        ("FROM a\nCOPY a\n", 2, "at least two arguments"),
        ("FROM a b c d\n", 1, "one or three arguments"),
        ("FROM a AS x\nFROM b AS x\n", 2, "duplicate stage name"),
        ("FROM a\nSHELL sh -c\n", 2, "JSON form"),
        ("FROM a\nONBUILD FROM b\n", 2, "isn't allowed as an ONBUILD trigger"),
        ("ARG x\n", 0, "no FROM"),
    ],
)
def test_parse_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(BuildError) as info:
        parse_dockerfile(text, "ctx/Dockerfile")
    assert info.value.line == line and message in str(info.value)
    if line:
        assert str(info.value).startswith(f"ctx/Dockerfile:{line}: ")


def test_plain_progress_lines() -> None:
    out = io.StringIO()
    progress = Progress("plain", out)
    step = progress.step("[2/3] RUN make")
    step.output(b"one\ntw")
    step.output(b"o\n")
    step.done()
    progress.step("[3/3] COPY . /").cached()
    lines = out.getvalue().splitlines()
    assert lines[0] == "#1 [2/3] RUN make"
    assert [line.split(" ", 2)[2] for line in lines[1:3]] == ["one", "two"]
    assert lines[3].startswith("#1 DONE ") and lines[4:] == ["#2 [3/3] COPY . /", "#2 CACHED"]
    with pytest.raises(Exception, match="progress"):
        Progress("fancy")
