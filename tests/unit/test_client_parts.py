"""The client's parts that need no daemon: daemon addresses, the ssh command line, Docker's
multiplexed framing, ``run`` flags as a create body, and the laziness of ``pc.Client``.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys

import pytest

from pycontainers.client.streams import demux
from pycontainers.client.transport import Host, Tls
from pycontainers.errors import CommandError, SpecError


def test_host_schemes() -> None:
    h = Host.parse("unix:///run/x.sock")
    assert (h.scheme, h.path) == ("unix", "/run/x.sock")
    assert Host.parse("/run/y.sock").path == "/run/y.sock"
    h = Host.parse("tcp://10.0.0.1:2375")
    assert (h.scheme, h.host, h.port, h.tls) == ("tcp", "10.0.0.1", 2375, None)
    assert Host.parse("tcp://d", Tls(verify=False)).port == 2376  # TLS: dockerd's TLS port
    assert Host.parse("tcp://d").port == 2375
    h = Host.parse("ssh://alice@box:2222")
    assert (h.scheme, h.user, h.host, h.port) == ("ssh", "alice", "box", 2222)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://x", "unsupported scheme"),
        ("unix://rel.sock", "absolute"),
        ("tcp://", "no host"),
        ("ssh://box/path", "no path"),
    ],
)
def test_bad_hosts_name_the_field(url: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        Host.parse(url)
    assert info.value.field == "host"


def test_ssh_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYCONTAINERS_SSH_COMMAND", raising=False)
    argv = Host.parse("ssh://bob@box:22").ssh_argv()
    assert argv[0] == "ssh"
    assert argv[-5:] == ["--", "box", "pycontainers", "system", "dial-stdio"]
    assert argv[argv.index("-l") : argv.index("-l") + 2] == ["-l", "bob"]
    assert argv[argv.index("-p") : argv.index("-p") + 2] == ["-p", "22"]
    monkeypatch.setenv("PYCONTAINERS_SSH_COMMAND", "ssh -F '/a b/config'")
    argv = Host.parse("ssh://box").ssh_argv()
    assert argv[:3] == ["ssh", "-F", "/a b/config"] and "-l" not in argv and "-p" not in argv


def test_demux_reassembles_frames_across_chunks() -> None:
    data = struct.pack(">B3xI", 1, 3) + b"abc" + struct.pack(">B3xI", 2, 2) + b"de"
    chunks = [data[i : i + 1] for i in range(len(data))]  # one byte at a time
    assert list(demux(chunks)) == [(1, b"abc"), (2, b"de")]


def _run_args(*argv: str) -> argparse.Namespace:
    from pycontainers.cli.runflags import add_run_flags

    p = argparse.ArgumentParser(add_help=False)
    add_run_flags(p, run=True)
    return p.parse_args(list(argv))


def test_run_flags_as_a_create_body() -> None:
    from pycontainers.cli.remote_run import create_body

    body = create_body(_run_args(
        "--name", "w", "-e", "A=1", "-l", "k=v", "-p", "127.0.0.1:8080:80", "-p", "53/udp",
        "-v", "data:/data", "--network", "net1", "--network-alias", "web", "-m", "64m",
        "--cpus", "0.5", "--restart", "on-failure:3", "-w", "/srv", "-u", "1000",
        "--entrypoint", "", "--health-cmd", "true", "--health-interval", "2s",
        "busybox", "sh", "-c", "true",
    ))  # fmt: skip
    host = body["HostConfig"]
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "true"]
    assert body["Env"] == ["A=1"] and body["Labels"] == {"k": "v"}
    assert body["Entrypoint"] == [] and body["WorkingDir"] == "/srv" and body["User"] == "1000"
    assert host["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }
    assert set(body["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert host["Binds"] == ["data:/data"] and host["NetworkMode"] == "net1"
    assert host["Memory"] == 64 * 2**20 and host["NanoCpus"] == 500_000_000
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert body["NetworkingConfig"]["EndpointsConfig"]["net1"]["Aliases"] == ["web"]
    assert body["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert body["Healthcheck"]["Interval"] == 2_000_000_000


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (("--gpus", "all"), "--gpus"),
        (("--bandwidth", "1mbit"), "--bandwidth"),
        (("--userns", "auto"), "--userns"),
    ],
)
def test_flags_a_daemon_would_not_get_are_refused_by_name(argv: tuple[str, ...], flag: str) -> None:
    from pycontainers.cli.remote_run import create_body

    with pytest.raises(CommandError, match=f"{flag} is not supported with a remote daemon"):
        create_body(_run_args(*argv, "busybox"))


def test_client_is_lazy() -> None:
    code = (
        "import sys, pycontainers\n"
        "assert 'pycontainers.client' not in sys.modules and 'httpx' not in sys.modules\n"
        "assert pycontainers.Client.__module__ == 'pycontainers.client.client'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
