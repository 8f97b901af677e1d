"""The objects :class:`~pycontainers.client.Client` returns: remote containers and images,
and the managers (``client.containers``…) that create, find and list them.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pycontainers.errors import ApiError, ContainerExitError

if TYPE_CHECKING:
    from pycontainers.client.client import Client
    from pycontainers.runtime.logs import LogEntry
    from pycontainers.runtime.run import CompletedContainer

_STREAMS = {1: "stdout", 2: "stderr"}


def _timeless(stream: int, data: bytes, time: str = "") -> LogEntry:
    from pycontainers.runtime.logs import LogEntry

    return LogEntry(data=data, stream=_STREAMS.get(stream, "stdout"), time=time)


class RemoteContainer:
    """A container of the daemon: its ``id``, ``name``, ``status`` and inspect ``attrs``
    (refreshed by :meth:`reload`), and its lifecycle, as :class:`~pycontainers.Container`.
    """

    def __init__(self, client: Client, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self.attrs: dict[str, Any] = dict(attrs)
        self.id: str = str(attrs.get("Id") or attrs.get("ID"))

    @property
    def name(self) -> str:
        """The name, without Docker's leading slash."""
        name = self.attrs.get("Name") or (self.attrs.get("Names") or [""])[0]
        return str(name).lstrip("/")

    @property
    def status(self) -> str:
        """Docker's state: created, running, paused, restarting, exited, dead."""
        state = self.attrs.get("State")
        return str(state.get("Status") if isinstance(state, dict) else state)

    @property
    def tty(self) -> bool:
        """Whether its process runs on a terminal (its output is then one raw stream)."""
        return bool((self.attrs.get("Config") or {}).get("Tty"))

    def reload(self) -> RemoteContainer:
        """Refresh ``attrs`` from the daemon."""
        self.attrs = self.client.request("GET", f"/containers/{self.id}/json")
        return self

    def start(self) -> None:
        """Start it."""
        self.client.request("POST", f"/containers/{self.id}/start")

    def stop(self, timeout: float | None = None, sig: str | int | None = None) -> None:
        """Its stop signal, then SIGKILL after ``timeout`` seconds (None: the container's
        own stop timeout, 10 s unless it was created with another).
        """
        self.client.request("POST", f"/containers/{self.id}/stop", **_stop_args(timeout, sig))

    def restart(self, timeout: float | None = None, sig: str | int | None = None) -> None:
        """Stop (as :meth:`stop`) and start again."""
        self.client.request("POST", f"/containers/{self.id}/restart", **_stop_args(timeout, sig))

    def kill(self, sig: str | int = "KILL") -> None:
        """Send ``sig`` to its main process."""
        self.client.request("POST", f"/containers/{self.id}/kill", params={"signal": sig})

    def pause(self) -> None:
        """Freeze every process."""
        self.client.request("POST", f"/containers/{self.id}/pause")

    def resume(self) -> None:
        """Thaw it (the daemon's ``unpause``)."""
        self.client.request("POST", f"/containers/{self.id}/unpause")

    def remove(self, *, force: bool = False, volumes: bool = False) -> None:
        """Remove it (``force`` kills a running one; ``volumes`` its anonymous volumes)."""
        self.client.request(
            "DELETE", f"/containers/{self.id}", params={"force": force, "v": volumes}
        )

    delete = remove

    def wait(self, condition: str = "not-running") -> int:
        """Wait for it to stop (``condition``: not-running, next-exit, removed); its exit
        status.
        """
        return self.wait_later(condition)()

    def wait_later(self, condition: str = "next-exit") -> Callable[[], int]:
        """Ask the daemon now to report ``condition``; the returned function waits for the
        answer. Asked before :meth:`start`, no exit (or auto-removal) can be missed, as the
        docker CLI does for ``run``.
        """
        r = self.client.send(
            "POST",
            f"/containers/{self.id}/wait",
            params={"condition": condition},
            stream=True,
            timeout=None,
        )

        def result() -> int:
            try:
                answer = json.loads(r.read())
            finally:
                r.close()
            error = (answer.get("Error") or {}).get("Message")
            if error:
                raise ApiError(500, str(error))
            return int(answer["StatusCode"])

        return result

    def logs(
        self,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float | str | dt.datetime | None = None,
        until: float | str | dt.datetime | None = None,
        stdout: bool = True,
        stderr: bool = True,
        timestamps: bool = False,
    ) -> Iterator[LogEntry]:
        """Its output, as the library's ``Container.logs``: entries of stdout/stderr (with
        ``timestamps``, each line's time in ``time``); with ``follow``, until it stops.
        """
        from pycontainers.client.streams import STDOUT, demux

        params = {
            "follow": follow, "tail": "all" if tail is None else tail,
            "since": since_param(since), "until": since_param(until), "stdout": stdout, "stderr": stderr, "timestamps": timestamps,
        }  # fmt: skip
        chunks = self.client.stream("GET", f"/containers/{self.id}/logs", params=params)
        frames = ((STDOUT, c) for c in chunks) if self.tty else demux(chunks)
        for stream, data in frames:
            if timestamps and b" " in data:
                when, _, rest = data.partition(b" ")
                yield _timeless(stream, rest, when.decode())
            else:
                yield _timeless(stream, data)

    def exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | Sequence[str] | None = None,
        user: str | None = None,
        cwd: str | None = None,
        privileged: bool = False,
        check: bool = False,
    ) -> CompletedContainer:
        """Run ``args`` in it and wait: the exit status and the captured stdout/stderr,
        as the library's ``Container.exec(..., capture_output=True)``.
        """
        from pycontainers.runtime.run import CompletedContainer

        exec_id = self.create_exec(args, env=env, user=user, cwd=cwd, privileged=privileged)
        conn = self.client.hijack(f"/exec/{exec_id}/start", body={"Detach": False, "Tty": False})
        out: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        try:
            conn.close_stdin()
            for stream, data in conn.output(tty=False):
                out[_STREAMS.get(stream, "stdout")].append(data)
        finally:
            conn.close()
        code = self.client.request("GET", f"/exec/{exec_id}/json").get("ExitCode")
        done = CompletedContainer(
            args=tuple(args), returncode=int(code if code is not None else 126),
            stdout=b"".join(out["stdout"]), stderr=b"".join(out["stderr"]),
        )  # fmt: skip
        if check and done.returncode:
            raise ContainerExitError(list(args), done.returncode, done.stdout, done.stderr)
        return done

    def create_exec(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | Sequence[str] | None = None,
        user: str | None = None,
        cwd: str | None = None,
        privileged: bool = False,
        tty: bool = False,
        stdin: bool = False,
    ) -> str:
        """Create (not start) an exec instance; its id."""
        if isinstance(env, Mapping):
            env = [f"{k}={v}" for k, v in env.items()]
        body = {
            "Cmd": list(args), "Env": list(env or ()), "User": user or "",
            "WorkingDir": cwd or "", "Privileged": privileged, "Tty": tty,
            "AttachStdin": stdin, "AttachStdout": True, "AttachStderr": True,
        }  # fmt: skip
        answer = self.client.request("POST", f"/containers/{self.id}/exec", body=body)
        return str(answer["Id"])

    def __repr__(self) -> str:
        return f"<RemoteContainer {self.id[:12]} {self.name}>"


class RemoteImage:
    """An image of the daemon: ``id``, ``tags`` and inspect ``attrs``."""

    def __init__(self, client: Client, attrs: Mapping[str, Any]) -> None:
        self.client = client
        self.attrs: dict[str, Any] = dict(attrs)
        self.id: str = str(attrs.get("Id"))

    @property
    def tags(self) -> list[str]:
        """Its ``name:tag`` references."""
        return [t for t in self.attrs.get("RepoTags") or [] if t != "<none>:<none>"]

    def tag(self, repository: str, tag: str = "latest") -> None:
        """Give it another name."""
        self.client.request(
            "POST", f"/images/{self.id}/tag", params={"repo": repository, "tag": tag}
        )

    def __repr__(self) -> str:
        return f"<RemoteImage {self.id[:19]} {' '.join(self.tags)}>"


class Containers:
    """``client.containers``: create, run, get and list the daemon's containers."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create_raw(self, body: Mapping[str, Any], name: str | None = None) -> RemoteContainer:
        """Create from Docker's create body (Config + HostConfig + NetworkingConfig)."""
        answer = self.client.request(
            "POST", "/containers/create", params={"name": name}, body=dict(body)
        )
        return self.get(str(answer["Id"]))

    def create(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        binds: Sequence[str] = (),
        auto_remove: bool = False,
        network: str | None = None,
        tty: bool = False,
    ) -> RemoteContainer:
        """Create a container of ``image`` running ``command`` (the image's by default)."""
        body: dict[str, Any] = {
            "Image": image, "Env": [f"{k}={v}" for k, v in (env or {}).items()],
            "Labels": dict(labels or {}), "Tty": tty,
            "HostConfig": {"Binds": list(binds), "AutoRemove": auto_remove},
        }  # fmt: skip
        if command is not None:
            body["Cmd"] = list(command)
        if workdir:
            body["WorkingDir"] = workdir
        if user:
            body["User"] = user
        if network:
            body["HostConfig"]["NetworkMode"] = network
        return self.create_raw(body, name)

    def run(
        self, image: str, command: Sequence[str] | None = None, *, detach: bool = False, **kw: Any
    ) -> RemoteContainer | CompletedContainer:
        """Create and start; with ``detach`` the container, else wait for it and return its
        status and output (a CompletedContainer), then remove it.
        """
        from pycontainers.runtime.run import CompletedContainer

        c = self.create(image, command, **kw)
        if detach:
            c.start()
            return c.reload()
        try:
            done = c.wait_later("next-exit")
            c.start()
            code = done()
            out = b"".join(e.data for e in c.logs(stderr=False))
            err = b"".join(e.data for e in c.logs(stdout=False))
        finally:
            c.remove(force=True)
        return CompletedContainer(
            args=tuple(command or ()), returncode=code, stdout=out, stderr=err
        )

    def get(self, ref: str) -> RemoteContainer:
        """The container named or id'd ``ref`` (ApiError 404 if none)."""
        return RemoteContainer(self.client, self.client.request("GET", f"/containers/{ref}/json"))

    def list(
        self, *, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[RemoteContainer]:
        """The running containers (``all``: every one), optionally filtered as ``docker ps``."""
        params: dict[str, Any] = {"all": all}
        if filters:
            params["filters"] = {k: list(v) for k, v in filters.items()}
        rows = self.client.request("GET", "/containers/json", params=params)
        return [RemoteContainer(self.client, row) for row in rows]


class Images:
    """``client.images``: pull, list, get, tag and remove the daemon's images."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def pull(self, ref: str, *, platform: str | None = None) -> RemoteImage:
        """Pull ``ref`` into the daemon's store; the image."""
        name, tag = split_ref(ref)
        params = {"fromImage": name, "tag": tag, "platform": platform}
        for _ in self.client.json_stream("POST", "/images/create", params=params):
            pass
        return self.get(ref)

    def get(self, ref: str) -> RemoteImage:
        """The image ``ref`` (ApiError 404 if none)."""
        return RemoteImage(self.client, self.client.request("GET", f"/images/{ref}/json"))

    def list(self, *, all: bool = False) -> list[RemoteImage]:
        """The images in the daemon's store."""
        rows = self.client.request("GET", "/images/json", params={"all": all})
        return [RemoteImage(self.client, row) for row in rows]

    def remove(self, ref: str, *, force: bool = False) -> builtins.list[dict[str, str]]:
        """Untag/delete ``ref``; what was untagged and deleted."""
        answer: builtins.list[dict[str, str]] = self.client.request(
            "DELETE", f"/images/{ref}", params={"force": force}
        )
        return answer


class Volumes:
    """``client.volumes``: the daemon's named volumes (inspect dicts)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create(
        self, name: str | None = None, labels: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create a volume; its inspect dict."""
        body = {"Name": name or "", "Labels": dict(labels or {})}
        answer: dict[str, Any] = self.client.request("POST", "/volumes/create", body=body)
        return answer

    def list(self) -> list[dict[str, Any]]:
        """Every volume."""
        return list(self.client.request("GET", "/volumes").get("Volumes") or [])

    def get(self, name: str) -> dict[str, Any]:
        """The volume ``name``."""
        answer: dict[str, Any] = self.client.request("GET", f"/volumes/{name}")
        return answer

    def remove(self, name: str, *, force: bool = False) -> None:
        """Remove the volume ``name``."""
        self.client.request("DELETE", f"/volumes/{name}", params={"force": force})


class Networks:
    """``client.networks``: the daemon's networks (inspect dicts)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create(self, name: str, **options: Any) -> dict[str, Any]:
        """Create a network (``options``: Docker's create body, e.g. ``Driver``, ``IPAM``)."""
        answer: dict[str, Any] = self.client.request(
            "POST", "/networks/create", body={"Name": name, **options}
        )
        return answer

    def list(self) -> list[dict[str, Any]]:
        """Every network."""
        return list(self.client.request("GET", "/networks"))

    def get(self, ref: str) -> dict[str, Any]:
        """The network ``ref``."""
        answer: dict[str, Any] = self.client.request("GET", f"/networks/{ref}")
        return answer

    def remove(self, ref: str) -> None:
        """Remove the network ``ref``."""
        self.client.request("DELETE", f"/networks/{ref}")

    def connect(self, ref: str, container: str, aliases: Sequence[str] = ()) -> None:
        """Connect ``container`` to the network ``ref``."""
        body = {"Container": container, "EndpointConfig": {"Aliases": list(aliases)}}
        self.client.request("POST", f"/networks/{ref}/connect", body=body)


def split_ref(ref: str) -> tuple[str, str | None]:
    """``name[:tag]`` → (name, tag); a digest (``@sha256:…``) stays in the name."""
    if "@" in ref:
        return ref, None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, "latest"


def since_param(value: float | str | dt.datetime | None) -> str | None:
    """A ``since``/``until`` value as the API takes it (Unix seconds, or as given)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return str(value.timestamp())
    return str(value)


__all__ = [
    "Containers",
    "Images",
    "Networks",
    "RemoteContainer",
    "RemoteImage",
    "Volumes",
    "split_ref",
]


def _stop_args(timeout: float | None, sig: str | int | None) -> dict[str, Any]:
    """The query and the request's own timeout of a stop or restart: without ``timeout``
    the daemon applies the container's stop timeout, which this side does not know, so the
    request waits as long as it takes.
    """
    params: dict[str, Any] = {} if sig is None else {"signal": sig}
    if timeout is None:
        return {"params": params, "timeout": None}
    return {"params": {**params, "t": int(timeout)}, "timeout": timeout + 30}
