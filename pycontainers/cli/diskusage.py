"""``system df`` (and ``-v``): what images, containers and volumes take on disk."""

from __future__ import annotations

import argparse
import time

from pycontainers.cli.output import ago, human_size, print_formatted, table


def _pct(part: int, whole: int) -> str:
    return f"{human_size(part)} ({int(part * 100 / whole) if whole else 0}%)"


def system_df(args: argparse.Namespace) -> int:
    """Print the summary table (Docker's columns), or each item with ``-v``."""
    from pycontainers.runtime.diskusage import disk_usage

    usage = disk_usage(data_root=args.root)
    rows = [
        {"Type": kind, "TotalCount": str(total), "Active": str(active),
         "Size": human_size(size), "Reclaimable": _pct(reclaim, size)}
        for kind, total, active, size, reclaim in usage.summary()
    ]  # fmt: skip
    if args.format:
        print_formatted(rows, args.format, ("Type", "TotalCount", "Active", "Size", "Reclaimable"))
        return 0
    if not args.verbose:
        summary = ("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE")
        print(table([summary, *([*r.values()] for r in rows)]))
        return 0
    now = time.time()
    print("Images space usage:\n")
    header: tuple[str, ...] = ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE",
              "CONTAINERS")  # fmt: skip
    lines: list[list[str]] = []
    for i in usage.images:
        repo, _, tag = i["reference"].rpartition(":")
        if "/" in tag or not repo:
            repo, tag = i["reference"], "<none>"
        lines.append([repo, tag, i["id"].removeprefix("sha256:")[:12], i["created"] or "",
                      human_size(i["size"]), human_size(i["shared_size"]),
                      human_size(i["unique_size"]), str(i["containers"])])  # fmt: skip
    print(table([header, *lines]))
    print("Containers space usage:\n")
    header = ("CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS",
              "NAMES")  # fmt: skip
    lines = [
        [c["id"][:12], c["image"], c["command"][:20], str(c["volumes"]), human_size(c["size"]),
         f"{ago(c['created'], now)} ago", c["status"], c["name"]]
        for c in usage.containers
    ]  # fmt: skip
    print(table([header, *lines]))
    print("Local Volumes space usage:\n")
    lines = [[v["name"], str(v["links"]), human_size(v["size"])] for v in usage.volumes]
    print(table([("VOLUME NAME", "LINKS", "SIZE"), *lines]))
    print("Build cache usage: 0B")
    return 0


__all__ = ["system_df"]
