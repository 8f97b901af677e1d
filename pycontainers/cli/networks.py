"""Network commands of the CLI: ``network create|ls|inspect|rm|prune|connect|disconnect``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_commands(sub: Any) -> None:
    """Register ``network`` and its subcommands on the CLI's subparsers."""
    p = sub.add_parser("network", help="manage networks", description="Manage bridge networks.")
    nsub = p.add_subparsers(dest="network_command", metavar="COMMAND", required=True)
    q = nsub.add_parser("create", help="create a bridge network")
    q.add_argument("-d", "--driver", default="bridge", help="only 'bridge'")
    q.add_argument("--subnet", help="the subnet, such as 10.90.1.0/24 (default: a free /24)")
    q.add_argument("--mtu", type=int, default=1500, help="the bridge's MTU (1500)")
    q.add_argument("--label", action="append", default=[], metavar="K=V", help="set a label")
    q.add_argument("name", metavar="NAME")
    q = nsub.add_parser("ls", aliases=["list"], help="list networks")
    q.add_argument("-q", "--quiet", action="store_true", help="only the names")
    q.add_argument("-f", "--filter", action="append", default=[], metavar="name=|label=")
    q.add_argument("--format", default="", help="table, json, or a template")
    q = nsub.add_parser("inspect", help="show networks as JSON")
    q.add_argument("-f", "--format", default="", help="a template such as '{{.IPAM}}'")
    q.add_argument("networks", nargs="+", metavar="NETWORK")
    q = nsub.add_parser("rm", aliases=["remove"], help="remove networks")
    q.add_argument("networks", nargs="+", metavar="NETWORK")
    q = nsub.add_parser("prune", help="remove networks no container uses")
    q.add_argument("-f", "--force", action="store_true", help="do not ask")
    q = nsub.add_parser("connect", help="connect a running container to a network")
    q.add_argument("--alias", action="append", default=[], help="another name it has there")
    q.add_argument("--ip", help="its IPv4 address there (default: the next free one)")
    q.add_argument("network", metavar="NETWORK")
    q.add_argument("container", metavar="CONTAINER")
    q = nsub.add_parser("disconnect", help="disconnect a container from a network")
    q.add_argument("-f", "--force", action="store_true", help="also a container that is gone")
    q.add_argument("network", metavar="NETWORK")
    q.add_argument("container", metavar="CONTAINER")


COMMANDS = ("network",)


def _filters(entries: list[str]) -> dict[str, list[str]]:
    from pycontainers.cli.containers import CommandError

    out: dict[str, list[str]] = {}
    for f in entries:
        key, sep, value = f.partition("=")
        if not sep or key not in ("name", "label", "id"):
            raise CommandError(f"invalid filter {f!r}: name=, label= or id=")
        out.setdefault(key, []).append(value)
    return out


def _match(info: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        ok = False
        for v in values:
            if key == "name":
                ok = v in info["Name"]
            elif key == "id":
                ok = info["Id"].startswith(v)
            else:
                k, sep, val = v.partition("=")
                ok = k in info["Labels"] and (not sep or info["Labels"][k] == val)
            if ok:
                break
        if not ok:
            return False
    return True


def run_command(args: argparse.Namespace) -> int:
    """Execute one ``network`` subcommand; returns the exit status."""
    from pycontainers.cli.containers import CommandError
    from pycontainers.cli.output import print_formatted, print_inspected
    from pycontainers.cli.runflags import parse_labels
    from pycontainers.errors import PyContainersError
    from pycontainers.network.network import Network

    cmd = {"list": "ls", "remove": "rm"}.get(args.network_command, args.network_command)
    if cmd == "create":
        if args.driver != "bridge":
            raise CommandError(f"unsupported driver {args.driver!r}: only bridge")
        net = Network.create(
            args.name, subnet=args.subnet, mtu=args.mtu, labels=parse_labels(args.label)
        )
        print(net.id)
    elif cmd == "ls":
        filters = _filters(args.filter)
        rows = []
        for net in Network.list():
            info = net.inspect()
            if not _match(info, filters):
                continue
            rows.append({"ID": net.id[:12], "Name": net.name, "Driver": "bridge",
                         "Subnet": str(net.subnet), "Scope": "local",
                         "Labels": ",".join(f"{k}={v}" for k, v in info["Labels"].items())})  # fmt: skip
        if args.quiet:
            print(*(r["Name"] for r in rows), sep="\n") if rows else None
        else:
            print_formatted(rows, args.format, ("ID", "Name", "Driver", "Subnet"))
    elif cmd == "inspect":
        return print_inspected(args.networks, lambda n: Network.get(n).inspect(), args.format)
    elif cmd == "rm":
        status = 0
        for name in args.networks:
            try:
                Network.get(name).remove()
                print(name)
            except PyContainersError as exc:
                print(f"pycontainers: {exc}", file=sys.stderr)
                status = 125
        return status
    elif cmd == "prune":
        from pycontainers.cli.system import confirm, prune_networks

        if not args.force and not confirm("This will remove all networks no container uses."):
            return 0
        removed = prune_networks()
        if removed:
            print("Deleted Networks:", *removed, sep="\n")
    elif cmd == "connect":
        Network.get(args.network).connect(args.container, aliases=args.alias, ip=args.ip)
    elif cmd == "disconnect":
        Network.get(args.network).disconnect(args.container, force=args.force)
    return 0


__all__ = ["COMMANDS", "add_commands", "run_command"]
