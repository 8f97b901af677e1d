"""Pulls through a fault-injecting proxy in front of the real docker-registry.

The proxy (written here) forwards every request to the registry and can corrupt or truncate
one blob, cut a connection mid-blob, or answer 503/403; it counts what it serves per blob.
A corrupt or short blob fails the pull with a digest error and leaves the store's blobs and
index as they were; the next pull fetches only what is missing.
"""

from __future__ import annotations

import http.client
import http.server
import os
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_fixtures import RegistryServer, free_port

from pycontainers.images import DigestMismatch, ImageConfig, ImageStore
from pycontainers.images.registry import Forbidden, pull, push

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("in_registry_netns")]


class FaultProxy:
    """HTTP proxy to ``upstream`` with per-blob faults: ``{hex: "corrupt"|"truncate"|"cut"}``."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: dict[str, str] = {}
        self.fail_manifests: list[int] = []  # statuses to answer manifest GETs with, in order
        self.served: Counter[str] = Counter()  # blob hex -> body bytes sent
        self.gets: Counter[str] = Counter()  # blob hex -> GET requests
        self.ranges: list[tuple[str, str]] = []
        self.manifest_gets = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.forward(self)

            do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, h: http.server.BaseHTTPRequestHandler) -> None:
        path = h.path
        blob = path.rsplit("/blobs/sha256:", 1)[1] if "/blobs/sha256:" in path else ""
        if "/manifests/" in path and h.command == "GET":
            with self.lock:
                self.manifest_gets += 1
                status = self.fail_manifests.pop(0) if self.fail_manifests else 0
            if status:
                body = b'{"errors":[{"code":"DENIED","message":"injected"}]}'
                h.send_response(status)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
                return
        length = int(h.headers.get("Content-Length") or 0)
        req_body = h.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
        conn.request(h.command, path, body=req_body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        fault = self.faults.get(blob) if blob and h.command == "GET" else None
        if blob and h.command == "GET":
            with self.lock:
                self.gets[blob] += 1
                if "Range" in h.headers:
                    self.ranges.append((blob, h.headers["Range"]))
        sent = data
        if fault == "corrupt" and data:
            sent = bytes([data[0] ^ 0xFF]) + data[1:]
        elif fault == "truncate":
            sent = data[: len(data) // 2]
        h.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                h.send_header(k, v)
        if fault == "cut":
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            with self.lock:
                self.served[blob] += len(data) // 2
                del self.faults[blob]  # once
            h.close_connection = True
            return
        h.send_header("Content-Length", str(len(sent)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(sent)
            if blob:
                with self.lock:
                    self.served[blob] += len(sent)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def proxy(registry: RegistryServer) -> Iterator[FaultProxy]:
    p = FaultProxy(registry.host)
    yield p
    p.stop()


@pytest.fixture(scope="module")
def three_layers(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> ImageStore:
    """busybox plus two layers of 3 MB of random data each: localhost/faults:1."""
    store = ImageStore(tmp_path_factory.mktemp("faults-src") / "images")
    img = store.import_rootfs(
        busybox_rootfs, "localhost/faults:base", config=ImageConfig(cmd=("sh",))
    )
    for i in range(2):
        d = tmp_path_factory.mktemp(f"layer{i}")
        (d / f"data{i}").write_bytes(os.urandom(3 << 20))
        img = store.commit_directory(d, "localhost/faults:1", base=img)
    return store


def _state(store: ImageStore) -> tuple[set[str], bytes]:
    blobs = set(os.listdir(store.content.root / "blobs" / "sha256"))
    index = (store.content.root / "index.json").read_bytes()
    return blobs, index


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_bad_blob_fails_store_unchanged_then_resumes(
    fault: str,
    registry: RegistryServer,
    proxy: FaultProxy,
    three_layers: ImageStore,
    tmp_path: Path,
) -> None:
    repo = f"faults/{fault}"
    img = three_layers.get("localhost/faults:1")
    push(three_layers, img, f"{registry.host}/{repo}:1")
    push(three_layers, "localhost/faults:base", f"{registry.host}/{repo}:base")
    store = ImageStore(tmp_path / "store")
    pull(store, f"{proxy.host}/{repo}:base")  # the store already has the base layer
    base_layer = img.layers[0].digest.encoded
    bad = img.layers[1].digest.encoded
    proxy.faults[bad] = fault
    proxy.gets.clear()
    proxy.served.clear()
    before = _state(store)

    with pytest.raises(DigestMismatch):
        pull(store, f"{proxy.host}/{repo}:1")
    assert _state(store) == before
    ingest = store.content.root / "ingest"
    assert f"pull-sha256-{bad}" not in os.listdir(ingest)  # the bad content is gone
    assert proxy.gets[base_layer] == 0  # present blobs are never fetched
    kept = {
        name.removeprefix("pull-sha256-"): (ingest / name).stat().st_size
        for name in os.listdir(ingest)
    }

    del proxy.faults[bad]
    proxy.gets.clear()
    proxy.served.clear()
    pulled = pull(store, f"{proxy.host}/{repo}:1")
    assert pulled.digest == img.digest
    assert proxy.served[bad] == img.layers[1].size
    assert proxy.gets[base_layer] == 0
    sizes = {d.digest.encoded: d.size for d in (img.config_descriptor, *img.layers)}
    for hex_, have in kept.items():
        assert proxy.served[hex_] == sizes[hex_] - have, "fetched again what was already there"
    assert not os.listdir(ingest)
    store.content.verify(img.layers[1])


def test_cut_connection_resumes_with_range(
    registry: RegistryServer, proxy: FaultProxy, three_layers: ImageStore, tmp_path: Path
) -> None:
    img = three_layers.get("localhost/faults:1")
    push(three_layers, img, f"{registry.host}/faults/cut:1")
    target = img.layers[2]
    proxy.faults[target.digest.encoded] = "cut"
    store = ImageStore(tmp_path / "store")
    pulled = pull(store, f"{proxy.host}/faults/cut:1", backoff=0.01)
    assert pulled.digest == img.digest
    assert proxy.gets[target.digest.encoded] == 2
    assert proxy.ranges == [(target.digest.encoded, f"bytes={target.size // 2}-")]
    assert proxy.served[target.digest.encoded] == target.size  # half, then the other half
    store.content.verify(target)


def test_5xx_is_retried_403_is_not(
    registry: RegistryServer, proxy: FaultProxy, three_layers: ImageStore, tmp_path: Path
) -> None:
    push(three_layers, "localhost/faults:base", f"{registry.host}/faults/retry:1")
    proxy.fail_manifests = [503, 502]
    store = ImageStore(tmp_path / "store")
    pull(store, f"{proxy.host}/faults/retry:1", backoff=0.01)
    assert proxy.manifest_gets == 3
    proxy.fail_manifests = [403]
    with pytest.raises(Forbidden, match="injected"):
        pull(ImageStore(tmp_path / "other"), f"{proxy.host}/faults/retry:1", backoff=0.01)
