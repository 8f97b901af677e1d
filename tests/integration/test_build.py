"""Dockerfile builds on the real kernel: base images made here from busybox-static (and
scratch), multi-stage, --target, expansion, heredocs, .dockerignore, COPY --chown/--chmod,
the layer cache, secrets, bad input, and the images running under the engine and the CLI.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import textwrap
from pathlib import Path

import pytest
from cli_util import cli

import pycontainers as pc
from pycontainers.images import ImageConfig, default_store

pytestmark = pytest.mark.root

BASE = "localhost/bb-build:base"


@pytest.fixture(scope="module")
def pristine_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A busybox rootfs of this module's own: other tests write into the shared one
    (a /data they made would change what COPY --chown finds)."""
    from conftest import make_busybox_rootfs

    return make_busybox_rootfs(tmp_path_factory.mktemp("build-base"))


@pytest.fixture
def base(pristine_rootfs: Path) -> pc.Image:
    rootfs = pristine_rootfs
    return default_store().import_rootfs(
        rootfs, BASE, config=ImageConfig(env=("PATH=/bin",), cmd=("sh",))
    )


def context(tmp_path: Path, dockerfile: str, **files: str) -> Path:
    ctx = tmp_path / "ctx"
    ctx.mkdir(parents=True, exist_ok=True)
    (ctx / "Dockerfile").write_text(textwrap.dedent(dockerfile).lstrip())
    for name, text in files.items():
        path = ctx / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ctx


def run_out(image: pc.Image | str, args: list[str] | None = None, **kw: object) -> str:
    r = pc.run(image, args, capture_output=True, timeout=30, **kw)  # type: ignore[arg-type]
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.decode()


def leftovers(state_root: Path) -> list[str]:
    tmp = Path(os.environ["PYCONTAINERS_ROOT"], "build", "tmp")
    ingest = Path(os.environ["PYCONTAINERS_ROOT"], "images", "content", "ingest")
    return [
        *(p for p in os.listdir(state_root) if p not in (".mnt", "network", ".names.lock")),
        *(os.listdir(tmp) if tmp.is_dir() else []),
        *(os.listdir(ingest) if ingest.is_dir() else []),
    ]


def test_multi_stage_with_target_runs_with_its_config(base: pc.Image, tmp_path: Path,
                                                      no_leaks: object) -> None:  # fmt: skip
    ctx = context(
        tmp_path,
        f"""
        ARG BASE={BASE}
        FROM ${{BASE}} AS build
        ARG GREETING=hello
        RUN mkdir -p /out && echo "$GREETING from build" > /out/msg
        FROM build AS unused
        RUN exit 3
        FROM scratch AS final
        COPY --from=build /bin/busybox /bin/busybox
        COPY --from=build /bin/sh /bin/cat /bin/id /bin/pwd /bin/
        COPY --from=build /out/msg /etc/passwd /etc/
        ENV WHO=final
        WORKDIR /work/dir
        USER alice
        ENTRYPOINT ["/bin/sh", "-c"]
        CMD ["cat /etc/msg; echo $WHO; pwd; id -u"]
        STOPSIGNAL SIGUSR1
        """,
    )
    image = pc.build(ctx, tag="localhost/built:final", build_args={"GREETING": "hi"})
    assert run_out(image).split("\n")[:4] == ["hi from build", "final", "/work/dir", "1000"]
    assert image.config.stop_signal == "SIGUSR1" and image.config.user == "alice"
    history = image.raw_config["history"]
    assert history[-1]["created_by"] == "STOPSIGNAL SIGUSR1" and history[-1]["empty_layer"]
    assert any(h["created_by"].startswith("COPY --from=build") and not h.get("empty_layer")
               for h in history)  # fmt: skip
    # --target builds that stage and what it needs: the failing 'unused' stage never runs
    built = pc.build(ctx, tag="localhost/built:build", target="build")
    assert run_out(built, ["cat", "/out/msg"]) == "hello from build\n"
    r = cli("run", "--rm", "localhost/built:final")
    assert r.returncode == 0 and r.stdout.startswith("hi from build\nfinal\n/work/dir\n1000"), r
    with pytest.raises(pc.BuildError, match="exit code 3"):
        pc.build(ctx, target="unused")


def test_expansion_as_docker_documents_it(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        rf"""
        FROM {BASE}
        ENV abc=hello
        ENV abc=bye def=$abc
        ENV ghi=$abc
        ARG unset
        ENV d1=${{abc:-x}} d2=${{unset:-fallback}} d3=${{abc:+alt}} d4=x${{unset:+alt}}y
        ENV esc=\$abc quoted="a b" single='$abc' path=/usr/local/bin.tar.gz
        ENV trim=${{path##*/}} ext=${{path%.*}}
        WORKDIR /w/$abc
        LABEL "the label"="$ghi" other=x
        EXPOSE 80 8080/udp
        """,
    )
    image = pc.build(ctx)
    env = image.config.environ()
    assert (env["abc"], env["def"], env["ghi"]) == ("bye", "hello", "bye")
    assert (env["d1"], env["d2"], env["d3"], env["d4"]) == ("bye", "fallback", "alt", "xy")
    assert (env["esc"], env["quoted"], env["single"]) == ("$abc", "a b", "$abc")
    assert (env["trim"], env["ext"]) == ("bin.tar.gz", "/usr/local/bin.tar")
    assert image.config.working_dir == "/w/bye"
    assert dict(image.config.labels) == {"the label": "bye", "other": "x"}
    assert image.config.exposed_ports == ("80/tcp", "8080/udp")


def test_heredocs(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        ARG NAME=world
        RUN <<EOF
        echo "hello $NAME" > /greeting
        echo second >> /greeting
        EOF
        COPY <<EOT /expanded
        name=$NAME
        EOT
        COPY <<"EOT" /literal
        name=$NAME
        EOT
        RUN cat <<EOF > /viashell
        via $NAME
        EOF
        """,
    )
    image = pc.build(ctx)
    out = run_out(image, ["cat", "/greeting", "/expanded", "/literal", "/viashell"])
    assert out == "hello world\nsecond\nname=world\nname=$NAME\nvia world\n"


def test_dockerignore_with_exceptions(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(tmp_path, f"""
        FROM {BASE}
        COPY . /ctx/
        """, **{"a.log": "", "keep.log": "", "src__main.c": "", "src__tmp__junk": "",
                "deep__x__tmp__junk": "", "secret__key": "", "secret__public": "", "b.txt": ""})  # fmt: skip
    (ctx / ".dockerignore").write_text("*.log\n!keep.log\n**/tmp\nsecret\n!secret/public\n")
    image = pc.build(ctx)
    found = run_out(image, ["sh", "-c", "cd /ctx && find . -type f | sort"]).split()
    assert found == ["./.dockerignore", "./Dockerfile", "./b.txt", "./keep.log",
                     "./secret/public", "./src/main.c"]  # fmt: skip


def test_copy_chown_chmod_and_add_of_a_tar(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        COPY --chown=alice:staff --chmod=751 tool /opt/
        COPY --chown=1234 dir /data
        ADD files.tar.gz /unpacked/
        ADD plain.txt /plain/
        """,
        tool="#!/bin/sh\n",
        **{"dir__a": "a", "dir__sub__b": "b", "plain.txt": "p"},
    )
    with tarfile.open(ctx / "files.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("inner/file")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"inner"))
    image = pc.build(ctx)
    out = run_out(image, ["sh", "-c", "stat -c '%n %u:%g %a' /opt/tool /data /data/a "
                          "/data/sub/b; cat /unpacked/inner/file /plain/plain.txt"])  # fmt: skip
    assert out.splitlines() == ["/opt/tool 1000:50 751", "/data 1234:1234 755",
                                "/data/a 1234:1234 644", "/data/sub/b 1234:1234 644", "innerp"]  # fmt: skip


def test_the_cache(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        RUN --mount=type=cache,id=counter,target=/count echo first >> /count/runs
        COPY one /one
        RUN --mount=type=cache,id=counter,target=/count echo after-one >> /count/runs
        ARG V=1
        RUN echo no-arg-use > /x
        COPY two /two
        RUN --mount=type=cache,id=counter,target=/count echo last-$V >> /count/runs
        """,
        one="1",
        two="2",
    )

    def runs() -> list[str]:
        probe = pc.build(context(tmp_path / "probe", f"""
            FROM {BASE}
            RUN --mount=type=cache,id=counter,target=/count cat /count/runs > /runs
            """), no_cache=True)  # fmt: skip
        return run_out(probe, ["cat", "/runs"]).split()

    first = pc.build(ctx, tag="localhost/cache:1")
    assert runs() == ["first", "after-one", "last-1"]
    again = pc.build(ctx, tag="localhost/cache:1")  # warm: no RUN at all, the same image
    assert runs() == ["first", "after-one", "last-1"] and again.id == first.id
    (ctx / "one").write_text("changed")  # from that COPY on
    pc.build(ctx)
    assert runs()[3:] == ["after-one", "last-1"]
    os.utime(ctx / "two", (1, 1))  # an mtime alone changes nothing
    pc.build(ctx)
    assert len(runs()) == 5
    pc.build(ctx, build_args={"V": "2"})  # the arg's first use: the RUN right after ARG
    assert runs()[5:] == ["last-2"]
    pc.build(ctx, no_cache=True)
    assert runs()[6:] == ["first", "after-one", "last-1"]


def test_a_secret_is_read_and_lands_nowhere(base: pc.Image, tmp_path: Path) -> None:
    token = "s3cr3t-" + os.urandom(8).hex()
    secret = tmp_path / "token"
    secret.write_text(token)
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        RUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /length
        """,
    )
    image = pc.build(ctx, secrets={"tok": str(secret)}, tag="localhost/secret:1")
    assert run_out(image, ["cat", "/length"]).strip() == str(len(token))
    # the mount point (/run/secrets/tok, /run) was made for the step only: not in the layer
    assert run_out(image, ["sh", "-c", "test -e /run && echo kept || echo gone"]) == "gone\n"
    blobs = Path(os.environ["PYCONTAINERS_ROOT"], "images", "content", "blobs", "sha256")
    import gzip

    for blob in blobs.iterdir():
        data = blob.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        assert token.encode() not in data, blob
    with pytest.raises(pc.BuildError, match="secret 'tok' not given"):
        pc.build(ctx, no_cache=True)


def test_source_date_epoch_gives_identical_images(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        COPY file /file
        RUN date > /when && mkdir /d
        """,
        file="x",
    )
    first = pc.build(ctx, no_cache=True, source_date_epoch=1700000000)
    second = pc.build(ctx, no_cache=True, source_date_epoch=1700000000)
    assert first.layers[1:] != () and first.diff_ids[1] == second.diff_ids[1]
    assert first.raw_config["created"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(
    ("dockerfile", "files", "line", "message"),
    [
        ("FROM {b}\nRUN true\nFROBNICATE x\n", {}, 3, "unknown instruction: FROBNICATE"),
        ("FROM {b}\nRUN true\nRUN <<EOF\necho\n", {}, 3, "syntax error: unterminated heredoc"),
        ("FROM {b}\nCOPY ../x /x\n", {}, 2, "forbidden path outside the build context"),
        ("FROM {b}\nCOPY link /x\n", {"link": "->/etc/passwd"}, 2, "leads outside the build"),
        (
            "FROM {b}\nRUN true\nRUN echo out; echo err >&2; exit 7\n",
            {},
            3,
            "exit code 7\nout\nerr",
        ),
        ("FROM {b}\nCOPY --from=nowhere /x /x\n", {}, 2, "no stage or local image named 'nowhere'"),
        ("FROM {b}\nADD http://127.0.0.1:9/f /f\n", {}, 2, "cannot download"),
    ],
)
def test_bad_input_names_the_line_and_leaves_nothing(
    base: pc.Image, tmp_path: Path, state_root: Path, no_leaks: object,
    dockerfile: str, files: dict[str, str], line: int, message: str,
) -> None:  # fmt: skip
    ctx = context(tmp_path, dockerfile.format(b=BASE))
    for name, text in files.items():
        if text.startswith("->"):
            (ctx / name).symlink_to(text[2:])
    before = leftovers(state_root)
    with pytest.raises(pc.BuildError) as info:
        pc.build(ctx)
    assert info.value.line == line and message in str(info.value), str(info.value)
    assert str(info.value).startswith(f"{ctx / 'Dockerfile'}:{line}: ")
    assert leftovers(state_root) == before


def test_cli_build_with_docker_flags(base: pc.Image, tmp_path: Path) -> None:
    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        ARG MSG
        RUN echo "$MSG" > /msg
        CMD ["cat", "/msg"]
        """,
    )
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text((ctx / "Dockerfile").read_text())
    iid, archive = tmp_path / "iid", tmp_path / "image.tar"
    r = cli("build", "-t", "localhost/cli:1", "-t", "localhost/cli:2", "-f", str(outside),
            "--build-arg", "MSG=from cli", "--label", "k=v", "--iidfile", str(iid),
            "--output", f"type=oci,dest={archive}", "--progress", "plain", str(ctx))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "[2/2] RUN echo" in r.stderr and "naming to localhost/cli:2" in r.stderr
    assert iid.read_text() == r.stdout.strip()
    assert cli("run", "--rm", "localhost/cli:2").stdout == "from cli\n"
    image = default_store().get("localhost/cli:1")
    assert dict(image.config.labels) == {"k": "v"} and str(image.id) == r.stdout.strip()
    loaded = pc.ImageStore(tmp_path / "fresh").load(archive)
    assert loaded[0].diff_ids == image.diff_ids
    again = cli("build", "-f", str(outside), "--build-arg", "MSG=from cli", "--progress",
                "plain", str(ctx))  # fmt: skip
    assert "CACHED" in again.stderr


def test_healthcheck_and_stopsignal_of_the_image_are_honoured(
    base: pc.Image, tmp_path: Path
) -> None:
    import json
    import time

    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        HEALTHCHECK --interval=300ms --timeout=5s --retries=2 CMD test -f /tmp/ok
        STOPSIGNAL SIGUSR1
        CMD ["sh", "-c", "trap 'echo got-usr1; exit 0' USR1; while :; do sleep 0.1; done"]
        """,
    )
    pc.build(ctx, tag="localhost/health:1")
    assert cli("run", "-d", "--name", "hc", "localhost/health:1").returncode == 0

    def status() -> str:
        r = cli("inspect", "--type", "container", "-f", "{{json .State.Health}}", "hc")
        return str(json.loads(r.stdout or "{}").get("Status", ""))

    try:
        deadline = time.monotonic() + 30
        while status() != "unhealthy" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status() == "unhealthy"
        assert cli("exec", "hc", "touch", "/tmp/ok").returncode == 0
        while status() != "healthy" and time.monotonic() < deadline + 30:
            time.sleep(0.2)
        assert status() == "healthy"
        assert cli("stop", "hc").returncode == 0  # the image's STOPSIGNAL: the trap runs
        assert "got-usr1" in cli("logs", "hc").stdout
    finally:
        cli("rm", "-f", "hc")


def test_onbuild_triggers_run_in_the_child_build(base: pc.Image, tmp_path: Path) -> None:
    parent = context(
        tmp_path / "parent",
        f"""
        FROM {BASE}
        ONBUILD COPY marker /from-child
        ONBUILD RUN echo triggered > /triggered
        """,
    )
    image = pc.build(parent, tag="localhost/onbuild:parent")
    assert image.raw_config["config"]["OnBuild"] == [
        "COPY marker /from-child",
        "RUN echo triggered > /triggered",
    ]
    child = context(tmp_path / "child", "FROM localhost/onbuild:parent\n", marker="m\n")
    built = pc.build(child)
    assert run_out(built, ["cat", "/from-child", "/triggered"]) == "m\ntriggered\n"
    assert "OnBuild" not in built.raw_config["config"]  # triggers do not pass to grandchildren


def test_add_of_a_url_with_its_checksum(base: pc.Image, tmp_path: Path) -> None:
    import hashlib
    import http.server
    import threading

    payload = b"served over http\n"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/dir/data.txt"
        good = hashlib.sha256(payload).hexdigest()
        ctx = context(tmp_path, f"FROM {BASE}\nADD --checksum=sha256:{good} {url} /srv/\n")
        image = pc.build(ctx)
        out = run_out(image, ["sh", "-c", "cat /srv/data.txt; stat -c %a /srv/data.txt"])
        assert out == "served over http\n600\n"
        bad = context(tmp_path / "bad", f"FROM {BASE}\nADD --checksum=sha256:{'0' * 64} {url} /x\n")
        with pytest.raises(pc.BuildError, match="checksum mismatch") as info:
            pc.build(bad)
        assert info.value.line == 2
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_tar_context_on_stdin_and_cache_from(base: pc.Image, tmp_path: Path) -> None:
    import subprocess
    import sys

    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        COPY hello /hello
        RUN cat /hello > /copy
        """,
        hello="from a tar\n",
    )
    tar = tmp_path / "ctx.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(ctx, arcname=".")
    r = subprocess.run([sys.executable, "-m", "pycontainers", "build", "-q", "-t",
                        "localhost/tarctx:1", "-"], stdin=tar.open("rb"), capture_output=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert run_out("localhost/tarctx:1", ["cat", "/copy"]) == "from a tar\n"
    # a fresh store reuses the layers of an image it was given (--cache-from)
    archive = tmp_path / "img.tar"
    default_store().save(["localhost/tarctx:1"], archive)
    fresh = pc.ImageStore(tmp_path / "fresh" / "images")
    fresh.load(archive)
    default_store().save([BASE], tmp_path / "base.tar")
    fresh.load(tmp_path / "base.tar")
    out = io.StringIO()
    image = pc.build(tar, store=fresh, cache_from=["localhost/tarctx:1"], progress="plain",
                     progress_stream=out)  # fmt: skip
    assert out.getvalue().count("CACHED") == 2, out.getvalue()
    assert image.diff_ids == fresh.get("localhost/tarctx:1").diff_ids


def interrupt(pid: int, to: str) -> None:
    """SIGINT to the build: to the process (the kernel picks a thread, usually the main
    one), or straight to one of its other threads, as the kernel may pick under load
    (Python only flags it there; the main thread must still notice and stop the build).
    """
    import ctypes
    import signal

    if to == "process":
        os.kill(pid, signal.SIGINT)
        return
    threads = sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)
    assert threads, "the build has no other thread"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.tgkill(pid, threads[-1], signal.SIGINT) != 0:
        raise OSError(ctypes.get_errno(), "tgkill")


@pytest.mark.parametrize("to", ["process", "thread"])
def test_sigint_mid_run_leaves_nothing(
    base: pc.Image, tmp_path: Path, state_root: Path, to: str
) -> None:
    import subprocess
    import sys

    from conftest import mount_lines, pycontainers_cgroups

    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        RUN echo started; sleep 60
        """,
    )
    before = (leftovers(state_root), mount_lines(), pycontainers_cgroups())
    proc = subprocess.Popen([sys.executable, "-m", "pycontainers", "build", "--no-cache",
                             "--progress", "plain", str(ctx)], stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.rstrip().endswith(" started"):
            break
    interrupt(proc.pid, to)
    try:
        assert proc.wait(timeout=30) == 130  # long before the RUN would end by itself
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert (leftovers(state_root), mount_lines(), pycontainers_cgroups()) == before


PODMAN = shutil.which("podman")
UMOCI = shutil.which("umoci")
RUNC = shutil.which("runc")


@pytest.mark.skipif(PODMAN is None or UMOCI is None or RUNC is None,
                    reason="podman, runc and umoci are installed by .ci/run")  # fmt: skip
def test_saved_archives_run_under_podman_and_unpack_with_umoci(
    base: pc.Image, tmp_path: Path
) -> None:
    import subprocess
    import tempfile

    ctx = context(
        tmp_path,
        f"""
        FROM {BASE}
        RUN echo built-by-pycontainers > /msg
        CMD ["cat", "/msg"]
        """,
    )
    oci, docker = tmp_path / "oci.tar", tmp_path / "docker.tar"
    pc.build(ctx, tag="localhost/interop:1", output=f"type=oci,dest={oci}")
    pc.build(ctx, tag="localhost/interop:1", output=f"type=docker,dest={docker}")
    short = Path(tempfile.mkdtemp(prefix="pcbd-"))  # podman's runroot must be short
    try:
        podman = [str(PODMAN), "--root", str(short / "root"), "--runroot", str(short / "run"),
                  "--runtime", str(RUNC), "--cgroup-manager", "cgroupfs",
                  "--storage-driver", "vfs", "--events-backend", "none"]  # fmt: skip
        for archive in (f"docker-archive:{docker}", f"oci-archive:{oci}"):
            r = subprocess.run([*podman, "run", "--rm", "--network", "none", "--ulimit",
                                "nofile=1024:1024", "--ulimit", "nproc=1024:1024", archive],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
            assert r.returncode == 0 and r.stdout == "built-by-pycontainers\n", (archive, r.stderr)
        layout = tmp_path / "layout"
        layout.mkdir()
        with tarfile.open(oci) as tf:
            tf.extractall(layout, filter="tar")
        bundle = tmp_path / "bundle"
        subprocess.run([str(UMOCI), "unpack", "--image", f"{layout}:1", str(bundle)], check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        assert (bundle / "rootfs" / "msg").read_text() == "built-by-pycontainers\n"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_run_mounts_and_networks(base: pc.Image, tmp_path: Path) -> None:
    host_net = os.readlink("/proc/self/ns/net")
    ctx = context(tmp_path, f"""
        FROM {BASE} AS tools
        RUN mkdir /tools && echo tool > /tools/t
        FROM {BASE}
        RUN --mount=type=bind,source=conf,target=/conf cat /conf/setting > /setting
        RUN --mount=type=bind,from=tools,source=/tools,target=/mnt/t cat /mnt/t/t > /tool
        RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && grep -q /scratch /proc/mounts && echo tmpfs > /tmpfs
        RUN --network=host readlink /proc/self/ns/net > /net-host
        RUN --network=none readlink /proc/self/ns/net > /net-none
        """, **{"conf__setting": "on\n"})  # fmt: skip
    image = pc.build(ctx)
    script = "cat /setting /tool /tmpfs /net-host /net-none; ls /scratch /mnt /conf 2>&1 | wc -l"
    lines = run_out(image, ["sh", "-c", script]).splitlines()
    assert lines[:4] == ["on", "tool", "tmpfs", host_net] and lines[4] != host_net
    assert lines[5] == "3"  # three "No such file": mount points made for a step are not kept


def test_from_an_image_only_in_a_registry_pulls_it(
    base: pc.Image, tmp_path: Path, registry: object, in_registry_netns: object
) -> None:
    from pycontainers.images.registry.pushing import push

    host = registry.host  # type: ignore[attr-defined]
    push(default_store(), BASE, f"{host}/build/base:1")
    fresh = pc.ImageStore(tmp_path / "fresh" / "images")
    ctx = context(tmp_path, f"FROM {host}/build/base:1\nRUN echo pulled > /p\n")
    image = pc.build(ctx, store=fresh)
    assert fresh.get(f"{host}/build/base:1").diff_ids == image.diff_ids[:1]
    assert run_out(image, ["cat", "/p"], image_root=str(tmp_path / "fresh")) == "pulled\n"
