"""BuildKit features of Dockerfile builds on the real kernel: stages built concurrently
(and cancelled together), ``COPY --link``, ``COPY --parents``/``--exclude``,
``FROM --platform``, and the progress output (plain exactly; the live view through a pty).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import pytest
from conftest import mount_lines, pycontainers_cgroups
from test_build import BASE, base, context, interrupt, leftovers, pristine_rootfs, run_out

import pycontainers as pc
from pycontainers.images import default_store

__all__ = ["base", "pristine_rootfs"]  # the fixtures, imported for these tests

pytestmark = pytest.mark.root

# each stage's RUN waits (up to 60 s) for a file the other stage's RUN makes: both finish
# only if they run at the same time; a cache mount with one id is the shared directory
RENDEZVOUS = """
FROM {base} AS left
ARG TOKEN
RUN --mount=type=cache,id=rendezvous,target=/r \\
    touch /r/$TOKEN-left; i=0; \\
    while [ ! -e /r/$TOKEN-right ]; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.1; done; \\
    echo left > /side
FROM {base} AS right
ARG TOKEN
RUN --mount=type=cache,id=rendezvous,target=/r \\
    touch /r/$TOKEN-right; i=0; \\
    while [ ! -e /r/$TOKEN-left ]; do i=$((i+1)); [ $i -lt 600 ] || exit 9; sleep 0.1; done; \\
    echo right > /side
FROM {base}
COPY --from=left /side /left
COPY --from=right /side /right
CMD ["cat", "/left", "/right"]
"""


def test_independent_stages_run_at_the_same_time(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(tmp_path, RENDEZVOUS.format(base=BASE))
    out = io.StringIO()
    image = pc.build(ctx, build_args={"TOKEN": uuid.uuid4().hex}, progress="plain",
                     progress_stream=out)  # fmt: skip
    assert run_out(image) == "left\nright\n"
    text = out.getvalue()
    # (the build finishing at all shows it; the progress too:) both RUN steps started
    # before either finished, their lines interleaved
    lines = text.splitlines()
    runs = {
        m.group(1): i for i, line in enumerate(lines) if (m := re.match(r"(#\d+) .* RUN ", line))
    }
    done = [i for i, line in enumerate(lines) if line.split(" ")[:2] in ([n, "DONE"] for n in runs)]
    assert len(runs) == 2 and len(done) == 2 and max(runs.values()) < min(done), text


def test_a_failing_stage_cancels_the_others_and_leaves_nothing(
    base: pc.Image, tmp_path: Path, state_root: Path, no_leaks: object
) -> None:
    token = uuid.uuid4().hex
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE} AS slow
        RUN --mount=type=cache,id=rendezvous,target=/r touch /r/{token}-slow; sleep 120
        FROM {BASE} AS failing
        RUN --mount=type=cache,id=rendezvous,target=/r \\
            while [ ! -e /r/{token}-slow ]; do sleep 0.1; done; echo giving up; exit 7
        FROM {BASE}
        COPY --from=slow /etc/passwd /a
        COPY --from=failing /etc/passwd /b
        """,
    )
    before = (leftovers(state_root), mount_lines(), pycontainers_cgroups())
    out = io.StringIO()
    with pytest.raises(pc.BuildError, match="exit code 7") as info:
        pc.build(ctx, no_cache=True, progress="plain", progress_stream=out)
    assert not isinstance(info.value, pc.errors.BuildCancelled)
    assert "giving up" in str(info.value)
    assert re.search(r"^#\d+ CANCELED$", out.getvalue(), re.M), out.getvalue()
    assert (leftovers(state_root), mount_lines(), pycontainers_cgroups()) == before


def _layer_of(image: pc.Image, created_by: str) -> str:
    history = [h for h in image.raw_config["history"] if not h.get("empty_layer")]
    index = next(i for i, h in enumerate(history) if h["created_by"].startswith(created_by))
    return str(image.layers[index].digest)


def test_copy_link_layer_does_not_depend_on_the_base(base: pc.Image, tmp_path: Path) -> None:
    other = context(tmp_path / "other", f"FROM {BASE}\nRUN echo other > /marker\n")
    pc.build(other, tag="localhost/bb-build:other")
    ctx = context(
        tmp_path,
        """
        ARG BASE
        FROM ${BASE}
        COPY --link --chmod=640 app.txt /app/
        RUN cat /app/app.txt > /app/seen
        """,
        **{"app.txt": "payload\n"},
    )
    first = pc.build(ctx, build_args={"BASE": BASE})
    out = io.StringIO()
    second = pc.build(ctx, build_args={"BASE": "localhost/bb-build:other"}, progress="plain",
                      progress_stream=out)  # fmt: skip
    # the --link layer is the same blob on both bases, and came from the cache
    assert _layer_of(first, "COPY app.txt") == _layer_of(second, "COPY app.txt")
    assert re.search(r"COPY --link --chmod=640 app.txt /app/\n#(\d+) CACHED", out.getvalue())
    # ... but the RUN after it ran again (its key is the whole stack's)
    assert re.search(r"RUN cat /app/app.txt > /app/seen\n(#\d+ [\d.]+ .*\n)*#\d+ DONE",
                     out.getvalue()), out.getvalue()  # fmt: skip
    # the layer holds only what was copied (and the directory it went to)
    blob = default_store().content.blob_path(_layer_of(second, "COPY app.txt"))
    import tarfile

    with tarfile.open(blob) as tar:
        names = sorted(m.name.rstrip("/") for m in tar.getmembers())
        mode = tar.getmember("app/app.txt").mode
    assert names == ["app", "app/app.txt"] and mode == 0o640
    # and the rootfs is the base's plus the copy
    assert run_out(second, ["cat", "/marker", "/app/app.txt", "/app/seen"]) == (
        "other\npayload\npayload\n"
    )
    assert run_out(second, ["stat", "-c", "%a", "/app/app.txt"]) == "640\n"
    assert run_out(first, ["ls", "/bin/sh"]) == "/bin/sh\n"


def test_copy_parents_and_exclude(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        COPY --parents x/a.txt y/*.txt /parents/
        COPY --parents ./src/./pkg/ /pivot/
        COPY --exclude=*.md --exclude=skip docs /docs/
        COPY --exclude=*.txt hom* /home-files/
        COPY --parents --exclude=**/*.log src/ /tree/
        """,
        **{
            "x__a.txt": "xa", "y__b.txt": "yb", "y__c.bin": "yc",
            "src__pkg__m.go": "m", "src__pkg__sub__n.go": "n", "src__pkg__run.log": "l",
            "src__top.go": "t",
            "docs__keep.txt": "k", "docs__drop.md": "d", "docs__skip__s.txt": "s",
            "docs__deep__also.md": "d2", "docs__deep__kept.rst": "r",
            "home.txt": "h1", "homer.bin": "h2",
        },
    )  # fmt: skip

    def files(path: str) -> list[str]:
        out = run_out(image, ["find", path, "-type", "f"])
        return sorted(out.split())

    image = pc.build(ctx)
    assert files("/parents") == ["/parents/x/a.txt", "/parents/y/b.txt"]
    assert files("/pivot") == ["/pivot/pkg/m.go", "/pivot/pkg/run.log", "/pivot/pkg/sub/n.go"]
    # patterns are Docker's: '*' stays in one component, so deep/also.md is kept
    assert files("/docs") == ["/docs/deep/also.md", "/docs/deep/kept.rst", "/docs/keep.txt"]
    assert files("/home-files") == ["/home-files/homer.bin"]
    assert files("/tree") == ["/tree/src/pkg/m.go", "/tree/src/pkg/sub/n.go", "/tree/src/top.go"]
    assert run_out(image, ["cat", "/parents/x/a.txt", "/pivot/pkg/sub/n.go"]) == "xan"


def test_from_platform(base: pc.Image, tmp_path: Path) -> None:
    from pycontainers.builder.stages import platform_args
    from pycontainers.images import host_platform

    here = platform_args(host_platform())["TARGETPLATFORM"]
    other = "linux/s390x" if "s390x" not in here else "linux/amd64"
    ctx = context(
        tmp_path,
        f"""
        FROM --platform=$BUILDPLATFORM {BASE} AS tools
        ARG TARGETPLATFORM
        RUN echo "$TARGETPLATFORM" > /p
        FROM --platform=${{TARGETPLATFORM}} {BASE}
        COPY --from=tools /p /p
        """,
    )
    image = pc.build(ctx)
    assert run_out(image, ["cat", "/p"]) == here + "\n"
    bad = context(tmp_path / "bad", f"FROM {BASE}\nRUN true\nFROM --platform={other} {BASE}\n")
    with pytest.raises(pc.BuildError, match=rf"Dockerfile:3: FROM --platform={other}: ") as info:
        pc.build(bad)
    assert here in str(info.value) and "emulat" in str(info.value)
    arg = context(tmp_path / "arg", f"ARG P={other}\nFROM --platform=$P {BASE}\n")
    with pytest.raises(pc.BuildError, match=rf"Dockerfile:2: FROM --platform={other}"):
        pc.build(arg)


def test_plain_progress_is_exactly_buildkits(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        ENV X=1
        RUN echo one; echo two
        COPY f /f
        """,
        f="x",
    )
    out = io.StringIO()
    image = pc.build(ctx, tag="localhost/progress:1", no_cache=True, progress="plain",
                     progress_stream=out)  # fmt: skip
    text = re.sub(r"DONE \d+\.\ds", "DONE T", out.getvalue())
    text = re.sub(r"^(#\d+) \d+\.\d{3} ", r"\1 T ", text, flags=re.M)
    assert text == (
        "#0 [internal] load build definition from Dockerfile\n"
        f"#1 [1/3] FROM {BASE}\n"
        "#1 DONE T\n"
        "#2 [2/3] RUN echo one; echo two\n"
        "#2 T one\n"
        "#2 T two\n"
        "#2 DONE T\n"
        "#3 [3/3] COPY f /f\n"
        "#3 DONE T\n"
        "#4 exporting to image\n"
        f"#4 writing image {image.id}\n"
        "#4 naming to localhost/progress:1\n"
        "#4 DONE T\n"
    )
    # a warm rebuild: every layer step CACHED
    out = io.StringIO()
    pc.build(ctx, progress="plain", progress_stream=out)
    assert [line for line in out.getvalue().splitlines() if "CACHED" in line] == [
        "#2 CACHED", "#3 CACHED"
    ]  # fmt: skip


def _pty_build(args: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """``pycontainers build ARGS`` with its stdin/stdout/stderr on a new pty; (status, output)."""
    import pty
    import subprocess
    import sys

    main_fd, sub_fd = pty.openpty()
    os.set_inheritable(sub_fd, True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "build", *args],
                                stdin=sub_fd, stdout=sub_fd, stderr=sub_fd, env=env,
                                close_fds=True)  # fmt: skip
    finally:
        os.close(sub_fd)
    chunks = []
    try:
        while True:
            try:
                data = os.read(main_fd, 65536)
            except OSError:  # EIO: the last holder of the pty's other end closed it
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(main_fd)
    return proc.wait(timeout=60), b"".join(chunks)


def test_tty_progress_through_a_real_pty(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        RUN echo working hard; sleep 1; echo still working
        COPY f /f
        """,
        f="x",
    )
    env = {**os.environ, "PYTHONPATH": str(Path(pc.__file__).parent.parent)}
    for mode in (["--progress", "auto"], ["--progress", "tty"]):
        code, raw = _pty_build([*mode, "--no-cache", "-t", "localhost/tty:1", str(ctx)], env)
        text = raw.decode()
        assert code == 0, text
        assert "\x1b[J" in text and re.search("\x1b\\[\\d+F", text)  # the view is redrawn
        assert "[+] Building" in text and " > working hard" in text
        # finished steps end up as permanent lines
        assert re.search(r"#2 \[2/3\] RUN echo working hard.* DONE \d+\.\ds\r?\n", text), text
        assert re.search(r"#3 \[3/3\] COPY f /f DONE \d+\.\ds\r?\n", text), text
        assert re.search(r"sha256:[0-9a-f]{64}\r?\n$", text)  # the image ID on stdout, last
    # without a terminal, auto is plain
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "pycontainers", "build", str(ctx)],
                       capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)  # fmt: skip
    assert r.returncode == 0 and "\x1b" not in r.stderr and "#2 CACHED\n" in r.stderr, r.stderr


@pytest.mark.parametrize("to", ["process", "thread"])
def test_sigint_while_stages_run_concurrently_leaves_nothing(
    base: pc.Image, tmp_path: Path, state_root: Path, to: str
) -> None:
    import subprocess
    import sys

    ctx = context(
        tmp_path,
        f"""
        FROM {BASE} AS one
        RUN echo one started; sleep 120
        FROM {BASE} AS two
        RUN echo two started; sleep 120
        FROM {BASE}
        COPY --from=one /etc/passwd /a
        COPY --from=two /etc/passwd /b
        """,
    )
    before = (leftovers(state_root), mount_lines(), pycontainers_cgroups())
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "build", "--no-cache",
                             "--progress", "plain", str(ctx)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    started = set()
    for line in proc.stderr:
        if line.rstrip().endswith(" started"):
            started.add(line.split()[-2])
            if started == {"one", "two"}:
                break
    # "thread": the signal lands where the kernel put it when CI hung (a stage's thread),
    # while the main thread waits for the stages
    interrupt(proc.pid, to)
    try:
        assert proc.wait(timeout=30) == 130  # long before the RUNs would end by themselves
        rest = proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert len(re.findall(r"^#\d+ CANCELED$", rest, re.M)) == 2, rest
    assert (leftovers(state_root), mount_lines(), pycontainers_cgroups()) == before
