"""Authentication against the real docker-registry: htpasswd Basic auth, and the Bearer
token flow with a token server written here (RS256 JWTs with an ``x5c`` chain the registry
trusts through its ``rootcertbundle``); ``login``/``logout`` and the config.json format.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_fixtures import HTPASSWD_USERS, RegistryNetns, RegistryServer, free_port

from pycontainers.images import ImageConfig, ImageStore
from pycontainers.images.registry import (
    RegistryError,
    Unauthorized,
    load_credentials,
    login,
    logout,
    pull,
    push,
)
from pycontainers.images.registry.client import RegistryClient

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("in_registry_netns")]

SERVICE = "pc-test-registry"
ISSUER = "pc-test-issuer"
TOKEN_USERS = {"carol": "s3cret"}
REFRESH_TOKENS = {"carol-refresh-token": "carol"}  # OAuth2 identity tokens the server takes


@pytest.fixture(scope="module")
def image_store(tmp_path_factory: pytest.TempPathFactory, busybox_rootfs: Path) -> ImageStore:
    store = ImageStore(tmp_path_factory.mktemp("auth-src") / "images")
    store.import_rootfs(busybox_rootfs, "localhost/bb:1", config=ImageConfig(cmd=("sh",)))
    return store


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    return tmp_path / "docker" / "config.json"


# -- basic -------------------------------------------------------------------------------------


def test_basic_auth_login_push_pull(
    htpasswd_registry: RegistryServer, image_store: ImageStore, docker_config: Path, tmp_path: Path
) -> None:
    host = htpasswd_registry.host
    with pytest.raises(Unauthorized, match="pycontainers login"):
        push(image_store, "localhost/bb:1", f"{host}/basic/bb:1")
    with pytest.raises(Unauthorized):
        login(host, "alice", "wrong")
    assert not docker_config.exists()
    path = login(host, "alice", HTPASSWD_USERS["alice"])
    assert path == docker_config
    assert docker_config.stat().st_mode & 0o777 == 0o600
    entry = json.loads(docker_config.read_text())["auths"][host]
    assert base64.b64decode(entry["auth"]) == b"alice:wonderland"
    assert load_credentials(host) is not None

    res = push(image_store, "localhost/bb:1", f"{host}/basic/bb:1")
    store = ImageStore(tmp_path / "pulled")
    assert pull(store, f"{host}/basic/bb:1").digest == res.digest

    assert logout(host) is True
    assert logout(host) is False
    assert json.loads(docker_config.read_text())["auths"] == {}
    with pytest.raises(Unauthorized):
        pull(ImageStore(tmp_path / "again"), f"{host}/basic/bb:1")


# -- bearer ------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues registry tokens: carol may pull and push anything; anonymous users may pull
    ``public/*``. Records every request."""

    def __init__(self, root: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pc-test-token-signer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = root / "token-ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.x5c = base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        head = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        sig = self.key.sign(head.encode(), padding.PKCS1v15(), hashes.SHA256())
        return head + "." + _b64url(sig)

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
        user = None
        if h.command == "POST":  # OAuth2: grant_type=refresh_token, scopes space-separated
            length = int(h.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(h.rfile.read(length).decode())
            user = REFRESH_TOKENS.get(form.get("refresh_token", [""])[0])
            if form.get("grant_type") != ["refresh_token"] or user is None:
                h.send_response(401)
                h.end_headers()
                return
            query = {
                "scope": form.get("scope", [""])[0].split(),
                "service": form.get("service", []),
                "oauth": ["1"],
            }
        authz = h.headers.get("Authorization", "")
        if authz.startswith("Basic "):
            name, _, pw = base64.b64decode(authz[6:]).decode().partition(":")
            if TOKEN_USERS.get(name) != pw:
                h.send_response(401)
                h.end_headers()
                return
            user = name
        scopes = query.get("scope", [])
        self.requests.append(
            {"user": user, "scopes": scopes, "service": query.get("service"),
             "oauth": "oauth" in query}
        )  # fmt: skip
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            wanted = actions.split(",")
            granted = (
                wanted
                if user
                else [a for a in wanted if a == "pull" and name.startswith("public/")]
            )
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = self.sign(
            {
                "iss": ISSUER,
                "sub": user or "",
                "aud": SERVICE,
                "exp": now + 300,
                "nbf": now - 10,
                "iat": now,
                "jti": secrets.token_hex(8),
                "access": access,
            }
        )
        key = "access_token" if "oauth" in query else "token"
        body = json.dumps({key: token, "expires_in": 300}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture(scope="module")
def token_registry(
    registry_netns: RegistryNetns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RegistryServer, TokenServer]]:
    root = tmp_path_factory.mktemp("registry-token")
    with registry_netns.enter():
        tokens = TokenServer(root)
        server = RegistryServer(
            root / "srv",
            auth={
                "token": {
                    "realm": tokens.realm,
                    "service": SERVICE,
                    "issuer": ISSUER,
                    "rootcertbundle": str(tokens.cert_path),
                }
            },
        )
    yield server, tokens
    server.stop()
    tokens.stop()


def test_bearer_flow(
    token_registry: tuple[RegistryServer, TokenServer],
    image_store: ImageStore,
    docker_config: Path,
    tmp_path: Path,
) -> None:
    server, tokens = token_registry
    host = server.host
    # anonymous: a token is issued, but without push rights the registry refuses
    with pytest.raises(Unauthorized):
        push(image_store, "localhost/bb:1", f"{host}/public/bb:1")
    with pytest.raises(Unauthorized):
        login(host, "carol", "nope")
    login(host, "carol", TOKEN_USERS["carol"])
    tokens.requests.clear()
    img = image_store.get("localhost/bb:1")
    res = push(image_store, img, f"{host}/public/bb:1", tags=["2"])
    # one token for every HEAD, upload and manifest PUT of the push: tokens are reused
    assert len(tokens.requests) == 1
    assert tokens.requests[0]["user"] == "carol"
    assert tokens.requests[0]["scopes"] == ["repository:public/bb:pull,push"]
    assert tokens.requests[0]["service"] == [SERVICE]

    tokens.requests.clear()
    pulled = pull(ImageStore(tmp_path / "a"), f"{host}/public/bb:2")
    assert pulled.digest == res.digest
    assert [r["scopes"] for r in tokens.requests] == [["repository:public/bb:pull"]]

    # anonymous pull of a public repository works too
    logout(host)
    tokens.requests.clear()
    anon = pull(ImageStore(tmp_path / "b"), f"{host}/public/bb:1")
    assert anon.digest == res.digest
    assert tokens.requests and all(r["user"] is None for r in tokens.requests)
    # ...but not of a private one
    login(host, "carol", TOKEN_USERS["carol"])
    push(image_store, img, f"{host}/private/bb:1")
    logout(host)
    with pytest.raises(Unauthorized):
        pull(ImageStore(tmp_path / "c"), f"{host}/private/bb:1")


def test_token_reuse_across_requests(
    token_registry: tuple[RegistryServer, TokenServer], image_store: ImageStore
) -> None:
    server, _tokens = token_registry
    from pycontainers.images.registry.auth import Credentials

    with RegistryClient(
        server.host, credentials=Credentials("carol", TOKEN_USERS["carol"])
    ) as client:
        img = image_store.get("localhost/bb:1")
        push(image_store, img, f"{server.host}/reuse/bb:1", client=client)
        before = client.auth.token_requests
        for _ in range(5):
            client.get_manifest("reuse/bb", "1")
        assert client.auth.token_requests == before + 1  # one pull-scoped token, reused


# -- credential helpers ------------------------------------------------------------------------

# A docker-credential-<name> program speaking Docker's protocol, keeping its secrets in a JSON
# file ($HELPER_DB) and logging each call ($HELPER_LOG). A real helper for ECR, ACR or GCR
# cannot run offline; this one exercises the same protocol end to end.
FAKE_HELPER = """#!/usr/bin/env python3
import json, os, sys
db_path, log_path = os.environ["HELPER_DB"], os.environ["HELPER_LOG"]
action = sys.argv[1]
data = sys.stdin.read()
with open(log_path, "a") as f:
    f.write(action + "\\n")
try:
    db = json.load(open(db_path))
except FileNotFoundError:
    db = {}
if action == "store":
    entry = json.loads(data)
    db[entry["ServerURL"]] = {"Username": entry["Username"], "Secret": entry["Secret"]}
elif action in ("get", "erase"):
    server = data.strip()
    if server not in db:
        print("credentials not found in native keychain")
        sys.exit(1)
    if action == "get":
        print(json.dumps({"ServerURL": server, **db[server]}))
    else:
        del db[server]
elif action == "list":
    print(json.dumps({k: v["Username"] for k, v in db.items()}))
json.dump(db, open(db_path, "w"))
"""


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "docker-credential-test"
    program.write_text(FAKE_HELPER)
    program.chmod(0o755)
    db, log_file = tmp_path / "helper.json", tmp_path / "helper.log"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("HELPER_DB", str(db))
    monkeypatch.setenv("HELPER_LOG", str(log_file))
    return db, log_file


def test_creds_store_keeps_the_secret_out_of_config_json(
    htpasswd_registry: RegistryServer,
    image_store: ImageStore,
    docker_config: Path,
    helper: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    db, log_file = helper
    host = htpasswd_registry.host
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text(json.dumps({"credsStore": "test"}))
    login(host, "alice", HTPASSWD_USERS["alice"])
    config = json.loads(docker_config.read_text())
    assert config["auths"] == {host: {}}  # as Docker leaves it: the secret is the helper's
    assert "wonderland" not in docker_config.read_text()
    assert json.loads(db.read_text())[host] == {"Username": "alice", "Secret": "wonderland"}
    res = push(image_store, "localhost/bb:1", f"{host}/helper/bb:1")
    assert pull(ImageStore(tmp_path / "p"), f"{host}/helper/bb:1").digest == res.digest
    assert "get" in log_file.read_text().split()
    assert logout(host) is True
    assert json.loads(db.read_text()) == {}
    with pytest.raises(Unauthorized):
        pull(ImageStore(tmp_path / "q"), f"{host}/helper/bb:1")


def test_cred_helpers_per_registry_and_a_missing_helper(
    htpasswd_registry: RegistryServer, docker_config: Path, helper: tuple[Path, Path]
) -> None:
    db, _ = helper
    host = htpasswd_registry.host
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text(json.dumps({"credHelpers": {host: "test", "other.example": "absent"}}))
    login(host, "alice", HTPASSWD_USERS["alice"])
    assert host in json.loads(db.read_text())
    creds = load_credentials(host)
    assert creds is not None and creds.username == "alice"
    with pytest.raises(RegistryError, match=r"docker-credential-absent .* is not on PATH"):
        load_credentials("other.example")
    logout(host)


def test_an_identity_token_from_a_helper_is_exchanged_by_oauth2(
    token_registry: tuple[RegistryServer, TokenServer],
    image_store: ImageStore,
    docker_config: Path,
    helper: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    server, tokens = token_registry
    db, _ = helper
    docker_config.parent.mkdir(parents=True)
    docker_config.write_text(json.dumps({"credsStore": "test"}))
    db.write_text(
        json.dumps({server.host: {"Username": "<token>", "Secret": "carol-refresh-token"}})
    )
    tokens.requests.clear()
    res = push(image_store, "localhost/bb:1", f"{server.host}/private/idt:1")
    assert pull(ImageStore(tmp_path / "i"), f"{server.host}/private/idt:1").digest == res.digest
    assert tokens.requests and all(r["oauth"] and r["user"] == "carol" for r in tokens.requests)
    db.write_text(json.dumps({server.host: {"Username": "<token>", "Secret": "revoked"}}))
    with pytest.raises(Unauthorized):
        pull(ImageStore(tmp_path / "j"), f"{server.host}/private/idt:1")


def test_cli_login_password_stdin(htpasswd_registry: RegistryServer, docker_config: Path) -> None:
    """``login -u NAME --password-stdin``, as Docker's: the password comes from a pipe."""
    import subprocess
    import sys

    host = htpasswd_registry.host
    argv = [sys.executable, "-c",
            "import sys; from pycontainers.cli.registry import _main; sys.exit(_main())",
            "login", "-u", "alice", "--password-stdin", host]  # fmt: skip
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config.parent)}
    r = subprocess.run(argv, input="wrong\n", capture_output=True, text=True, env=env,
                       timeout=60)  # fmt: skip
    assert r.returncode != 0 and not docker_config.exists(), r
    r = subprocess.run(argv, input=HTPASSWD_USERS["alice"] + "\n", capture_output=True,
                       text=True, env=env, timeout=60)  # fmt: skip
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r
    entry = json.loads(docker_config.read_text())["auths"][host]
    assert base64.b64decode(entry["auth"]) == f"alice:{HTPASSWD_USERS['alice']}".encode()
    assert logout(host) is True
