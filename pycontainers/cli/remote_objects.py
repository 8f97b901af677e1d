"""The CLI's image, volume, network and system commands against a daemon (see
:mod:`pycontainers.cli.remote`): ``images``, ``pull``, ``push``, ``tag``, ``rmi``,
``history``, ``image``, ``build``, ``volume``, ``network``, ``system``, ``info``, ``version``.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import tarfile
import time
from typing import TYPE_CHECKING, Any

from pycontainers.cli.remote import each, unsupported
from pycontainers.errors import CommandError

if TYPE_CHECKING:
    from pycontainers.client.client import Client

_NO_AUTH = {"X-Registry-Auth": base64.urlsafe_b64encode(b"{}").decode()}


def _progress(client: Client, method: str, path: str, quiet: bool, **kw: Any) -> dict[str, Any]:
    """Follow a JSON progress stream, printing its status lines; the last message."""
    last: dict[str, Any] = {}
    for message in client.json_stream(method, path, **kw):
        last = message
        if quiet:
            continue
        text = message.get("stream") or message.get("status")
        if text:
            ident = message.get("id")
            line = f"{ident}: {text}" if ident and "stream" not in message else str(text)
            print(line if line.endswith("\n") else line + "\n", end="", flush=True)
    return last


# -- images --------------------------------------------------------------------------------


def cmd_pull(args: argparse.Namespace, client: Client) -> int:
    """``pull``: the daemon pulls into its store."""
    from pycontainers.client.objects import split_ref

    if args.insecure_registry:
        raise unsupported(args, client, "pull --insecure-registry (the daemon's setting)")
    name, tag = split_ref(args.image)
    params = {"fromImage": name, "tag": tag, "platform": args.platform}
    _progress(client, "POST", "/images/create", args.quiet, params=params, headers=_NO_AUTH)
    print(args.image)
    return 0


def cmd_push(args: argparse.Namespace, client: Client) -> int:
    """``push``: the daemon pushes from its store."""
    from pycontainers.client.objects import split_ref

    if args.destination or args.tag or args.chunk_size or args.insecure_registry:
        raise unsupported(
            args, client, "push DEST/-t/--chunk-size/--insecure-registry (tag it, then push)"
        )
    name, tag = split_ref(args.image)
    last = _progress(
        client, "POST", f"/images/{name}/push", args.quiet, params={"tag": tag}, headers=_NO_AUTH
    )
    digest = (last.get("aux") or {}).get("Digest")
    if args.quiet and digest:
        print(digest)
    return 0


def cmd_images(args: argparse.Namespace, client: Client) -> int:
    """``images``: the daemon's store."""
    from pycontainers.cli.output import ago, human_size, print_formatted

    filters: dict[str, list[str]] = {}
    for entry in args.filter:
        key, _, value = entry.partition("=")
        filters.setdefault(key, []).append(value)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    params: dict[str, Any] = {"filters": filters} if filters else {}
    rows = client.request("GET", "/images/json", params=params)
    now = time.time()
    shown = []
    for row in rows:
        image_id = str(row["Id"]) if args.no_trunc else str(row["Id"]).removeprefix("sha256:")[:12]
        for ref in row.get("RepoTags") or ["<none>:<none>"]:
            repo, _, tag = ref.rpartition(":")
            shown.append({
                "Repository": repo, "Tag": tag, "ID": image_id,
                "CreatedSince": ago(float(row.get("Created") or now), now),
                "Size": human_size(float(row.get("Size") or 0)),
            })  # fmt: skip
    if args.quiet:
        for image_id in dict.fromkeys(r["ID"] for r in shown):
            print(image_id)
        return 0
    print_formatted(shown, args.format, ("Repository", "Tag", "ID", "CreatedSince", "Size"))
    return 0


def cmd_tag(args: argparse.Namespace, client: Client) -> int:
    """``tag SOURCE TARGET`` on the daemon."""
    from pycontainers.client.objects import split_ref

    repo, tag = split_ref(args.target)
    client.request("POST", f"/images/{args.source}/tag", params={"repo": repo, "tag": tag})
    return 0


def cmd_rmi(args: argparse.Namespace, client: Client) -> int:
    """``rmi``: untag/delete on the daemon."""

    def rmi(ref: str) -> str:
        done = client.request("DELETE", f"/images/{ref}", params={"force": args.force})
        return "\n".join(f"{k}: {v}" for item in done or [] for k, v in item.items()) or ref

    return each(args.images, rmi)


def cmd_history(args: argparse.Namespace, client: Client) -> int:
    """``history IMAGE`` from the daemon."""
    from pycontainers.cli.output import ago, human_size, print_formatted

    rows = client.request("GET", f"/images/{args.image}/history")
    now = time.time()
    shown = [{
        "ID": str(r.get("Id") or "<missing>")[: None if args.no_trunc else 19],
        "CreatedSince": ago(float(r.get("Created") or now), now),
        "CreatedBy": str(r.get("CreatedBy") or "")[: None if args.no_trunc else 45],
        "Size": human_size(float(r.get("Size") or 0)), "Comment": r.get("Comment") or "",
    } for r in rows]  # fmt: skip
    if args.quiet:
        print(*(r["ID"] for r in shown), sep="\n")
        return 0
    print_formatted(shown, args.format, ("ID", "CreatedSince", "CreatedBy", "Size", "Comment"))
    return 0


def cmd_image(args: argparse.Namespace, client: Client) -> int:
    """``image inspect`` and ``image prune`` on the daemon."""
    if args.image_command == "inspect":
        from pycontainers.cli.output import print_inspected

        return print_inspected(
            args.images,
            lambda r: client.request("GET", f"/images/{r}/json"),
            getattr(args, "format", "") or None,
        )
    if args.image_command == "prune":
        done = client.request("POST", "/images/prune")
        print(f"Total reclaimed space: {done.get('SpaceReclaimed', 0)}")
        return 0
    raise unsupported(args, client, f"image {args.image_command}")


def _context_tar(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    if not os.path.isdir(path):
        raise CommandError(f"build context {path!r} is not a directory or tar file")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(path, arcname=".")
    return buf.getvalue()


def cmd_build(args: argparse.Namespace, client: Client) -> int:
    """``build``: the context (a tar of PATH) sent to the daemon's ``/build``."""
    if args.secret or args.output or args.cache_from:
        raise unsupported(args, client, "build --secret/--output/--cache-from")
    buildargs: dict[str, str] = {}
    for item in args.build_arg:
        key, eq, value = item.partition("=")
        if eq or key in os.environ:
            buildargs[key] = value if eq else os.environ[key]
    labels = dict(([*label.split("=", 1), ""])[:2] for label in args.label)
    params: dict[str, Any] = {
        "t": args.tag[0] if args.tag else None, "dockerfile": args.file, "target": args.target,
        "nocache": args.no_cache, "q": args.quiet, "rm": True,
        "buildargs": buildargs or None, "labels": labels or None,
    }  # fmt: skip
    if args.file and os.path.isdir(args.context):
        params["dockerfile"] = os.path.relpath(os.path.abspath(args.file), args.context)
    context = _context_tar(args.context)
    headers = {"Content-Type": "application/x-tar"}
    image_id = None
    for message in client.json_stream(
        "POST", "/build", params=params, content=context, headers=headers
    ):
        if "stream" in message and not args.quiet:
            print(message["stream"], end="", flush=True)
        aux = message.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = str(aux["ID"])
    if image_id is None:
        raise CommandError("the daemon's build named no image")
    for extra in args.tag[1:]:
        from pycontainers.client.objects import split_ref

        repo, tag = split_ref(extra)
        client.request("POST", f"/images/{image_id}/tag", params={"repo": repo, "tag": tag})
    if args.iidfile:
        with open(args.iidfile, "w") as f:
            f.write(image_id)
    if args.quiet:
        print(image_id)
    return 0


# -- volumes, networks ---------------------------------------------------------------------


def _labels(items: list[str]) -> dict[str, str]:
    return dict(([*item.split("=", 1), ""])[:2] for item in items)


def cmd_volume(args: argparse.Namespace, client: Client) -> int:
    """``volume create/ls/inspect/rm/prune`` on the daemon."""
    from pycontainers.cli.output import print_formatted, print_inspected

    verb = args.volume_command
    if verb == "create":
        body = {"Name": args.name or "", "Driver": args.driver, "Labels": _labels(args.label)}
        print(client.request("POST", "/volumes/create", body=body)["Name"])
        return 0
    if verb in ("ls", "list"):
        volumes = client.request("GET", "/volumes").get("Volumes") or []
        if args.quiet:
            print(*(v["Name"] for v in volumes), sep="\n" if volumes else "")
            return 0
        print_formatted(volumes, args.format, ("Driver", "Name"))
        return 0
    if verb == "inspect":
        return print_inspected(
            args.volumes, lambda n: client.request("GET", f"/volumes/{n}"), args.format
        )
    if verb in ("rm", "remove"):
        return each(
            args.volumes,
            lambda n: client.request("DELETE", f"/volumes/{n}", params={"force": args.force}),
        )
    if verb == "prune":
        params = {"filters": {"all": ["true"]}} if args.all else {}
        done = client.request("POST", "/volumes/prune", params=params)
        print("Deleted Volumes:", *(done.get("VolumesDeleted") or []), sep="\n")
        return 0
    raise unsupported(args, client, f"volume {verb}")


def cmd_network(args: argparse.Namespace, client: Client) -> int:
    """``network create/ls/inspect/rm/prune`` on the daemon."""
    from pycontainers.cli.output import print_formatted, print_inspected

    verb = args.network_command
    if verb == "create":
        body: dict[str, Any] = {
            "Name": args.name, "Driver": args.driver, "Labels": _labels(args.label),
            "Options": {"com.docker.network.driver.mtu": str(args.mtu)},
        }  # fmt: skip
        if args.subnet:
            body["IPAM"] = {"Config": [{"Subnet": args.subnet}]}
        print(client.request("POST", "/networks/create", body=body)["Id"])
        return 0
    if verb in ("ls", "list"):
        filters: dict[str, list[str]] = {}
        for entry in args.filter:
            key, _, value = entry.partition("=")
            filters.setdefault(key, []).append(value)
        params = {"filters": filters} if filters else {}
        nets = client.request("GET", "/networks", params=params)
        if args.quiet:
            print(*(n["Name"] for n in nets), sep="\n")
            return 0
        rows = [{**n, "ID": str(n.get("Id", ""))[:12]} for n in nets]
        print_formatted(rows, args.format, ("ID", "Name", "Driver", "Scope"))
        return 0
    if verb == "inspect":
        return print_inspected(
            args.networks, lambda n: client.request("GET", f"/networks/{n}"), args.format
        )
    if verb in ("rm", "remove"):
        return each(args.networks, lambda n: client.request("DELETE", f"/networks/{n}"))
    if verb == "prune":
        done = client.request("POST", "/networks/prune")
        print("Deleted Networks:", *(done.get("NetworksDeleted") or []), sep="\n")
        return 0
    raise unsupported(args, client, f"network {verb}")


# -- system --------------------------------------------------------------------------------


def _print(info: dict[str, Any], fmt: str) -> None:
    if fmt:
        from pycontainers.cli.output import render

        print(render(fmt, info))
        return
    for key, value in info.items():
        print(f"{key}: {value}")


def cmd_info(args: argparse.Namespace, client: Client) -> int:
    """``info``: the daemon's ``/info``."""
    _print(client.info(), getattr(args, "format", ""))
    return 0


def cmd_version(args: argparse.Namespace, client: Client) -> int:
    """``version``: this client's and the daemon's."""
    from pycontainers import __version__

    server = client.version()
    if args.format:
        _print({"Client": {"Version": __version__, "ApiVersion": client.api_version},
                "Server": server}, args.format)  # fmt: skip
        return 0
    print(f"Client:\n Version: {__version__}\n API version: {client.api_version}")
    print(f" Host: {client.base_url}\n\nServer:")
    for key in ("Version", "ApiVersion", "MinAPIVersion", "Os", "Arch", "KernelVersion"):
        if key in server:
            print(f" {key}: {server[key]}")
    return 0


def cmd_system(args: argparse.Namespace, client: Client) -> int:
    """``system info`` and ``system prune`` on the daemon."""
    verb = args.system_command
    if verb == "info":
        return cmd_info(args, client)
    if verb != "prune":
        raise unsupported(args, client, f"system {verb}")
    from pycontainers.cli.system import confirm

    what = "This will remove all stopped containers, all networks no container uses"
    what += ", all volumes no container uses" if args.volumes else ""
    if not args.force and not confirm(what + " and dangling images."):
        return 0
    done = client.request("POST", "/containers/prune")
    if done.get("ContainersDeleted"):
        print("Deleted Containers:", *done["ContainersDeleted"], sep="\n")
    done = client.request("POST", "/networks/prune")
    if done.get("NetworksDeleted"):
        print("Deleted Networks:", *done["NetworksDeleted"], sep="\n")
    if args.volumes:
        done = client.request("POST", "/volumes/prune")
        if done.get("VolumesDeleted"):
            print("Deleted Volumes:", *done["VolumesDeleted"], sep="\n")
    done = client.request("POST", "/images/prune")
    print(f"Total reclaimed space: {done.get('SpaceReclaimed', 0)}")
    return 0


__all__ = [
    "cmd_build",
    "cmd_history",
    "cmd_image",
    "cmd_images",
    "cmd_info",
    "cmd_network",
    "cmd_pull",
    "cmd_push",
    "cmd_rmi",
    "cmd_system",
    "cmd_tag",
    "cmd_version",
    "cmd_volume",
]
