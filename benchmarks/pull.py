#!/usr/bin/env python3
"""Registry pull throughput: pycontainers vs ``skopeo copy docker://... oci:DIR``.

Starts Debian's docker-registry on 127.0.0.1 in a private network namespace, pushes a
~200 MB image of several uncompressed random-data layers to it, then pulls it over and over
— pycontainers into a fresh image store, skopeo into a fresh OCI layout — interleaved round
robin, and prints the medians and their ratio (>1 means pycontainers is faster).

Usage (as root)::

    python benchmarks/pull.py [--runs 5] [--size-mb 200] [--layers 8]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from registry_fixtures import RegistryNetns, RegistryServer

from pycontainers.images import MEDIA_TYPE_LAYER, ImageStore
from pycontainers.images.registry import pull, push


def build_image(store: ImageStore, size_mb: int, layers: int) -> str:
    """An image of ``layers`` uncompressed tar layers of random bytes, ~``size_mb`` in all."""
    per = size_mb * (1 << 20) // layers
    stack = []
    with store.content.lock():
        for i in range(layers):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                info = tarfile.TarInfo(f"blob{i}")
                info.size = per
                tar.addfile(info, io.BytesIO(os.urandom(per)))
            desc = store.content.put(buf.getvalue(), media_type=MEDIA_TYPE_LAYER)
            stack.append((desc, desc.digest))
        store.commit("localhost/bench:1", stack)
    return "localhost/bench:1"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--json", type=Path, help="also write results as JSON")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("run as root (a private network namespace holds the registry)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="pc-pull-bench-", dir="/var/tmp"))
    ns = RegistryNetns(tmp / "net")
    try:
        with ns.enter():
            server = RegistryServer(tmp / "registry")
            try:
                src = ImageStore(tmp / "src")
                name = build_image(src, args.size_mb, args.layers)
                ref = f"{server.host}/bench/img:1"
                push(src, name, ref)
                size = src.get(name).size
                times: dict[str, list[float]] = {"pycontainers": [], "skopeo": []}
                order = list(times)
                for run in range(args.runs):
                    for who in order[run % 2 :] + order[: run % 2]:
                        dest = tmp / f"{who}-{run}"
                        t0 = time.perf_counter()
                        if who == "pycontainers":
                            pull(ImageStore(dest), ref)
                        else:
                            subprocess.run(
                                [
                                    "skopeo",
                                    "copy",
                                    "-q",
                                    "--src-tls-verify=false",
                                    f"docker://{ref}",
                                    f"oci:{dest}:1",
                                ],
                                check=True,
                            )
                        times[who].append(time.perf_counter() - t0)
                        shutil.rmtree(dest)
            finally:
                server.stop()
    finally:
        ns.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    for who, t in med.items():
        print(
            f"{who:>13}: median {t:.3f} s  ({size / t / 1e6:.0f} MB/s)  runs {[round(x, 3) for x in times[who]]}"
        )
    print(
        f"ratio skopeo/pycontainers: {med['skopeo'] / med['pycontainers']:.2f} (>1: pycontainers faster)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"size_bytes": size, "layers": args.layers, "samples_s": times, "median_s": med},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
