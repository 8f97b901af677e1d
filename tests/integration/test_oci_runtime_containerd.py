"""containerd (the Debian package) with ``ctr run --runc-binary pycontainers-runtime``: its
runc shim (containerd-shim-runc-v2) drives our runtime as it drives runc, reaps our init as
a subreaper, and execs, kills and deletes through it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from oci_runtime_util import runtime_script

pytestmark = pytest.mark.root

CONTAINERD = shutil.which("containerd")
CTR = shutil.which("ctr")
IMAGE = "docker.io/library/pcbox:latest"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_archive(rootfs: Path, out: Path) -> Path:
    """An OCI image layout tarball of one uncompressed layer holding ``rootfs``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        t.add(rootfs, arcname=".")
    layer = buf.getvalue()
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
    }).encode()  # fmt: skip
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": _digest(layer), "size": len(layer)}],
    }).encode()  # fmt: skip
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
        "size": len(manifest), "annotations": {"io.containerd.image.name": IMAGE,
                                               "org.opencontainers.image.ref.name": "latest"},
    }]}).encode()  # fmt: skip
    with tarfile.open(out, "w") as t:
        files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
        files.update({f"blobs/sha256/{_digest(d)[7:]}": d for d in (layer, config, manifest)})
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out


Ctr = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def ctr(rootfs_factory: Callable[[Path], Path]) -> Iterator[Ctr]:
    """A containerd of the test's own (root, state, sockets in a temporary directory; the
    CRI plugin off), with the busybox image imported; ``ctr`` calls in a fresh namespace."""
    if CONTAINERD is None or CTR is None:
        pytest.skip("containerd is not installed (apt-get install containerd)")
    tmp = Path(tempfile.mkdtemp(prefix="pcctd-"))
    sock = tmp / "containerd.sock"
    (tmp / "config.toml").write_text(
        f'version = 2\nroot = "{tmp}/root"\nstate = "{tmp}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{sock}"\n[ttrpc]\n  address = "{sock}.ttrpc"\n'
    )
    with open(tmp / "containerd.log", "wb") as log:
        daemon = subprocess.Popen([CONTAINERD, "--config", str(tmp / "config.toml")],
                                  stdout=log, stderr=log, stdin=subprocess.DEVNULL)  # fmt: skip
    namespace = f"pctest{os.getpid()}"
    exe = runtime_script(tmp)

    def run(
        *args: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        argv = [CTR, "--address", str(sock), "-n", namespace, *args]
        if args[:1] == ("run",):
            argv = [*argv[:5], "run", "--runc-binary", str(exe), *args[1:]]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)  # fmt: skip
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    try:
        deadline = time.monotonic() + 30
        while run("version", check=False).returncode != 0:
            assert daemon.poll() is None, (tmp / "containerd.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "containerd did not come up"
            time.sleep(0.1)
        run("image", "import", str(oci_archive(rootfs_factory(tmp / "rootfs"), tmp / "img.tar")))
        yield run
    finally:
        for task in run("task", "ls", "-q", check=False).stdout.split():
            run("task", "kill", "-s", "KILL", task, check=False)
            time.sleep(0.5)
            run("task", "delete", "-f", task, check=False)
        for container in run("container", "ls", "-q", check=False).stdout.split():
            run("container", "delete", container, check=False)
        daemon.terminate()
        daemon.wait(30)
        runtime_root = Path("/run/containerd/runc") / namespace
        left = (
            sorted(p.name for p in runtime_root.iterdir() if p.name != ".names.lock")
            if runtime_root.is_dir()
            else []
        )
        shutil.rmtree(runtime_root, ignore_errors=True)
        subprocess.run(["umount", "-R", str(tmp / "state")], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"runtime state left behind: {left}"


def test_ctr_run_rm_passes_output_and_exit_status(ctr: Ctr) -> None:
    r = ctr("run", "--rm", IMAGE, "c1", "sh", "-c", "echo hello; id -u; exit 5", check=False)
    assert (r.returncode, r.stdout.split()) == (5, ["hello", "0"]), r.stderr


def test_ctr_task_exec_kill_delete(ctr: Ctr) -> None:
    ctr("run", "-d", IMAGE, "c2", "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    tasks = ctr("task", "ls").stdout.splitlines()[1].split()
    assert tasks[0] == "c2" and tasks[2] == "RUNNING"
    r = ctr(
        "task", "exec", "--exec-id", "e1", "c2", "sh", "-c", "echo in-exec; exit 6", check=False
    )
    assert (r.returncode, r.stdout) == (6, "in-exec\n"), r.stderr
    pids = [line.split()[0] for line in ctr("task", "ps", "c2").stdout.splitlines()[1:]]
    assert tasks[1] in pids  # the init, and its sleep of the moment
    ctr("task", "kill", "c2")  # SIGTERM: the trap exits 0
    deadline = time.monotonic() + 20
    while "STOPPED" not in ctr("task", "ls").stdout:
        assert time.monotonic() < deadline, "the task did not stop"
        time.sleep(0.1)
    ctr("task", "delete", "c2")
    ctr("container", "delete", "c2")
    assert ctr("task", "ls", "-q").stdout == ""
