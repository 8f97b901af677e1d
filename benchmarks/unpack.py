#!/usr/bin/env python3
"""Layer unpack throughput: pycontainers vs ``umoci unpack`` on one large gzip layer.

The script builds a ~200 MB tree from real host files (/usr/lib, /usr/share, /usr/bin),
makes a one-layer OCI image of it with umoci, then unpacks that image over and over, each
time into a fresh directory on the same filesystem. Contenders are interleaved round-robin
(one sample of each per round, rotating the starting contender every round) so that drift on
the host hits all of them alike.

Usage (as root)::

    python benchmarks/unpack.py [--runs 5] [--size-mb 200] [--json out.json]

See benchmarks/README.md for what each contender measures.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gzip
import hashlib
import importlib
import io
import json
import os
import platform
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK_PARENT = Path("/var/tmp")
SOURCES = (Path("/usr/lib"), Path("/usr/share"), Path("/usr/bin"))
TAG = "bench"
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
MB = 1_000_000

# Target for pycontainers (see README.md): unpack at least as fast as umoci.
TARGET_VS_UMOCI = 1.0


class Unavailable(Exception):
    """A contender cannot run on this host; the message says why."""


# A sampler unpacks the image once into a fresh directory under the given parent and
# returns the time it took in ns (the caller removes the parent afterwards, untimed).
Sampler = Callable[[Path], int]


@dataclass
class Contender:
    name: str
    description: str
    setup: Callable[[], Sampler]
    sampler: Sampler | None = None
    samples: list[int] = field(default_factory=list)
    # extra untimed-by-the-contender numbers per sample (e.g. load time), ns
    extra: dict[str, list[int]] = field(default_factory=dict)
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.reason is None and self.sampler is not None


@dataclass
class Layer:
    """The benchmark image: its layout, the layer blob and its sizes."""

    layout: Path
    blob: Path
    compressed: int
    uncompressed: int
    diff_id: str
    tree_bytes: int
    tree_entries: int


# --------------------------------------------------------------------------- helpers


def _tail(text: str | bytes | None, limit: int = 400) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _run(argv: Sequence[str]) -> None:
    proc = subprocess.run(list(argv), check=False, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(argv)} exited {proc.returncode}: "
            f"{_tail(proc.stderr) or _tail(proc.stdout) or '(no output)'}"
        )


def _finish(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """Wait for proc to exit by itself (ignoring further ^C), kill it after grace seconds."""
    deadline = time.monotonic() + grace
    while True:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            return
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return
        except KeyboardInterrupt:
            continue


def filesystem_of(path: Path) -> tuple[str, str, str]:
    """(mount point, fs type, device) of the mount holding ``path``."""
    real = os.path.realpath(path)
    best = ("/", "?", "?")
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        mnt = fields[1].replace("\\040", " ")
        inside = real == mnt or real.startswith(mnt.rstrip("/") + "/")
        if inside and len(mnt) >= len(best[0]):
            best = (mnt, fields[2], fields[0])
    return best


def settle(drop: bool) -> None:
    """Untimed, before every sample: flush dirty data, optionally drop the page cache."""
    os.sync()
    if drop:
        DROP_CACHES.write_text("3\n")


def tree_stats(root: Path) -> tuple[int, int]:
    """(entries below root, bytes of regular files), symlinks not followed."""
    entries = 0
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        entries += len(dirnames) + len(filenames)
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if not os.path.islink(os.path.join(dirpath, name)):
                size += st.st_size
    return entries, size


# --------------------------------------------------------------------------- the image


def _walk_sources(sources: Sequence[Path]) -> Iterator[tuple[Path, Path, list[str], list[str]]]:
    for src in sources:
        if not src.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            filenames.sort()
            yield src, Path(dirpath), dirnames, filenames


def build_tree(dest: Path, budget: int) -> tuple[int, int]:
    """Copy real host files into ``dest`` until about ``budget`` bytes of file content.

    Each source directory gets an equal share of the budget (what one leaves unused goes to
    the next), so the tree mixes libraries, data files and executables. Files bigger than
    budget/8 are skipped so that one huge file cannot dominate. Symlinks are copied as
    symlinks; sockets, fifos and devices are skipped.
    """
    copied = 0
    entries = 0
    big = budget // 8
    share = budget // len(SOURCES)
    limit = 0
    current: Path | None = None
    for src, dirpath, dirnames, filenames in _walk_sources(SOURCES):
        if src != current:
            current = src
            limit = max(limit, copied) + share if src != SOURCES[-1] else budget
        if copied >= limit:
            dirnames.clear()
            continue
        out = dest / src.relative_to("/") / dirpath.relative_to(src)
        out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copystat(dirpath, out)
        entries += 1
        for name in list(dirnames):
            p = dirpath / name
            if p.is_symlink():  # a symlink to a directory: keep it, do not descend
                dirnames.remove(name)
                (out / name).symlink_to(os.readlink(p))
                entries += 1
        for name in filenames:
            if copied >= limit:
                break
            p = dirpath / name
            try:
                st = os.lstat(p)
                if os.path.islink(p):
                    (out / name).symlink_to(os.readlink(p))
                elif os.path.isfile(p) and st.st_size <= big:
                    shutil.copy2(p, out / name, follow_symlinks=False)
                    copied += st.st_size
                else:
                    continue
            except OSError:  # unreadable or vanished: skip it
                continue
            entries += 1
    return entries, copied


def make_image(work: Path, budget: int) -> Layer:
    """``umoci init/new/unpack``, fill ``bundle/rootfs`` with host files, ``umoci repack``."""
    layout = work / "layout"
    bundle = work / "build-bundle"
    ref = f"{layout}:{TAG}"
    _run(["umoci", "init", "--layout", str(layout)])
    _run(["umoci", "new", "--image", ref])
    _run(["umoci", "unpack", "--image", ref, str(bundle)])
    t0 = time.monotonic()
    entries, size = build_tree(bundle / "rootfs", budget)
    print(
        f"  built tree: {entries} entries, {size / MB:.1f} MB of file content "
        f"({time.monotonic() - t0:.1f} s)",
        file=sys.stderr,
    )
    t0 = time.monotonic()
    _run(["umoci", "repack", "--image", ref, str(bundle)])
    print(f"  umoci repack: {time.monotonic() - t0:.1f} s", file=sys.stderr)
    shutil.rmtree(bundle)  # the reference tree is each umoci unpack's output from now on

    index = json.loads((layout / "index.json").read_text())
    man_digest = index["manifests"][0]["digest"].split(":", 1)[1]
    manifest = json.loads((layout / "blobs" / "sha256" / man_digest).read_text())
    layers = manifest["layers"]
    if len(layers) != 1 or not layers[0]["mediaType"].endswith("+gzip"):
        raise SystemExit(f"expected one gzip layer, umoci made {layers!r}")
    blob = layout / "blobs" / "sha256" / layers[0]["digest"].split(":", 1)[1]
    hasher = hashlib.sha256()
    n = 0
    with gzip.open(blob, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
            n += len(chunk)
    return Layer(
        layout=layout,
        blob=blob,
        compressed=blob.stat().st_size,
        uncompressed=n,
        diff_id=f"sha256:{hasher.hexdigest()}",
        tree_bytes=size,
        tree_entries=entries,
    )


# --------------------------------------------------------------------------- contenders


def setup_umoci(layer: Layer) -> Sampler:
    umoci = shutil.which("umoci")
    if umoci is None:
        raise Unavailable("umoci not found in PATH")
    ref = f"{layer.layout}:{TAG}"

    def sample(parent: Path) -> int:
        cmd = [umoci, "unpack", "--image", ref, str(parent / "bundle")]
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            proc.wait()
        except BaseException:
            _finish(proc)
            raise
        t1 = time.perf_counter_ns()
        if proc.returncode != 0:
            again = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, capture_output=True)
            raise Unavailable(f"umoci unpack exited {proc.returncode}: {_tail(again.stderr)}")
        return t1 - t0

    return sample


def import_images() -> Any:
    """``pycontainers.images``: an installed one if importable, else the source tree."""
    try:
        return importlib.import_module("pycontainers.images")
    except ImportError:
        sys.path.insert(0, str(REPO))
        try:
            return importlib.import_module("pycontainers.images")
        except Exception as exc:
            raise Unavailable(f"import pycontainers.images failed: {exc}") from exc


def setup_snapshot(layer: Layer, loads: list[int], drop: bool) -> Sampler:
    images = import_images()

    def sample(parent: Path) -> int:
        store = images.ImageStore(parent / "store")
        t0 = time.perf_counter_ns()
        loaded = store.load(layer.layout)
        t1 = time.perf_counter_ns()
        loads.append(t1 - t0)
        if len(loaded) != 1:
            raise Unavailable(f"ImageStore.load found {len(loaded)} images, expected 1")
        # Not timed: the load just wrote the blob, so flush it and (optionally) drop it
        # from the page cache, as before every other sample.
        settle(drop)
        t0 = time.perf_counter_ns()
        lowers = store.snapshots_for(loaded[0])
        t1 = time.perf_counter_ns()
        if len(lowers) != 1:
            raise Unavailable(f"snapshots_for returned {len(lowers)} trees, expected 1")
        return t1 - t0

    return sample


def setup_flatten(layer: Layer, work: Path) -> Sampler:
    images = import_images()
    # One store, loaded once: flatten reads the layer blob through ContentStore.open, which
    # verifies the blob digest while reading; flatten checks the DiffID.
    store = images.ImageStore(work / "flatten-store")
    (img,) = store.load(layer.layout)
    desc, diff_id = img.layers[0], img.diff_ids[0]

    def sample(parent: Path) -> int:
        t0 = time.perf_counter_ns()
        with store.content.open(desc) as reader:
            images.flatten([reader], parent / "rootfs", expected_diff_ids=[diff_id])
        return time.perf_counter_ns() - t0

    return sample


# --------------------------------------------------------------------------- run


def run_benchmark(contenders: list[Contender], runs: int, scratch: Path, drop: bool) -> None:
    for c in contenders:
        try:
            c.sampler = c.setup()
        except Unavailable as exc:
            c.reason = str(exc)
            print(f"[{c.name}] unavailable: {c.reason}", file=sys.stderr)
    for rnd in range(runs):
        active = [c for c in contenders if c.available]
        if not active:
            break
        shift = rnd % len(active)
        for c in active[shift:] + active[:shift]:
            assert c.sampler is not None
            parent = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{c.name}-"))
            try:
                settle(drop)
                ns = c.sampler(parent)
                # Flushing what the contender left dirty, right after it: pycontainers
                # syncfs()es inside its timed span, umoci does not fsync at all.
                t0 = time.perf_counter_ns()
                os.sync()
                c.extra.setdefault("sync_after", []).append(time.perf_counter_ns() - t0)
                if rnd == 0:
                    c.extra["tree"] = list(tree_stats(_tree_of(c.name, parent)))
            except Unavailable as exc:
                c.reason = str(exc)
                c.samples.clear()
                print(f"[{c.name}] failed, dropping it: {c.reason}", file=sys.stderr)
                continue
            finally:
                shutil.rmtree(parent, ignore_errors=True)
            c.samples.append(ns)
            print(
                f"  round {rnd + 1}/{runs} {c.name:<14} {ns / 1e9:7.2f} s",
                file=sys.stderr,
            )


def _tree_of(name: str, parent: Path) -> Path:
    if name == "umoci":
        return parent / "bundle" / "rootfs"
    if name == "pc-snapshot":
        snaps = parent / "store" / "snapshots"
        (chain,) = [d for d in snaps.iterdir() if not d.name.startswith(".")]
        return chain / "fs"
    return parent / "rootfs"


def profile_snapshot(layer: Layer, scratch: Path, drop: bool, top: int = 25) -> str:
    """One extra, untimed ``snapshots_for`` under cProfile (main thread only)."""
    images = import_images()
    parent = Path(tempfile.mkdtemp(dir=scratch, prefix="profile-"))
    try:
        store = images.ImageStore(parent / "store")
        (img,) = store.load(layer.layout)
        settle(drop)
        prof = cProfile.Profile()
        prof.enable()
        store.snapshots_for(img)
        prof.disable()
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------- report


def secs(samples: Sequence[int]) -> tuple[float, float, float]:
    """(median, min, max) in seconds."""
    s = [x / 1e9 for x in samples]
    return statistics.median(s), min(s), max(s)


def ratio(a: Contender | None, b: Contender | None) -> float | None:
    if a is None or b is None or not a.samples or not b.samples:
        return None
    return statistics.median(a.samples) / statistics.median(b.samples)


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def verdict(r: float | None) -> str:
    if r is None:
        return "n/a"
    return "PASS" if r <= TARGET_VS_UMOCI else "FAIL"


def report(
    contenders: list[Contender],
    layer: Layer,
    fs: tuple[str, str, str],
    args: argparse.Namespace,
    drop: bool,
) -> dict[str, Any]:
    by_name = {c.name: c for c in contenders}
    umoci = by_name.get("umoci")
    mb = layer.uncompressed / MB
    print()
    print(
        f"Unpack of one gzip layer: {layer.tree_entries} entries, "
        f"{layer.tree_bytes / MB:.1f} MB of file content, layer tar {mb:.1f} MB "
        f"(gzip {layer.compressed / MB:.1f} MB)"
    )
    print(
        f"Target filesystem: {fs[1]} on {fs[2]} (mounted at {fs[0]}); {args.runs} rounds, "
        f"interleaved; page cache {'dropped' if drop else 'NOT dropped'} before every sample"
    )
    print("MB/s = uncompressed layer tar size / median time")
    print()
    print(
        f"{'contender':<14}{'median s':>10}{'min s':>8}{'max s':>8}{'MB/s':>8}"
        f"{'+sync s':>9}{'vs umoci':>10}"
    )
    print("-" * 67)
    results: dict[str, Any] = {}
    for c in contenders:
        entry: dict[str, Any] = {"description": c.description, "available": bool(c.samples)}
        if not c.samples:
            print(f"{c.name:<14}  unavailable: {c.reason}")
            entry["reason"] = c.reason
        else:
            med, lo, hi = secs(c.samples)
            sync_med = statistics.median(c.extra.get("sync_after", [0])) / 1e9
            vs = ratio(c, umoci)
            print(
                f"{c.name:<14}{med:>10.2f}{lo:>8.2f}{hi:>8.2f}{mb / med:>8.1f}"
                f"{med + sync_med:>9.2f}{fmt_ratio(vs):>10}"
            )
            entry.update(
                median_s=med,
                min_s=lo,
                max_s=hi,
                mb_per_s=mb / med,
                sync_after_median_s=sync_med,
                vs_umoci=vs,
                samples_ns=c.samples,
                **{f"{k}_ns" if k != "tree" else k: v for k, v in c.extra.items()},
            )
        results[c.name] = entry
    print("(+sync s = median + the os.sync() right after it: flushing what was left dirty)")

    snap = by_name.get("pc-snapshot")
    if snap is not None and snap.extra.get("load"):
        lm, llo, lhi = secs(snap.extra["load"])
        print(
            f"\nImageStore.load of the layout (not in pc-snapshot's time): "
            f"median {lm:.2f} s (min {llo:.2f}, max {lhi:.2f})"
        )
    trees = {c.name: c.extra["tree"] for c in contenders if c.extra.get("tree")}
    if trees:
        print("\nUnpacked trees (round 1, entries / bytes of regular files):")
        for name, (n, size) in trees.items():
            print(f"  {name:<14}{n:>9} {size:>13}")

    pc_snap = ratio(snap, umoci)
    pc_flat = ratio(by_name.get("pc-flatten"), umoci)
    print()
    print("pycontainers target: time <= 1.00x umoci unpack (at least umoci's speed)")
    print(f"  snapshots_for : {fmt_ratio(pc_snap):>8}   {verdict(pc_snap)}")
    print(f"  flatten       : {fmt_ratio(pc_flat):>8}   {verdict(pc_flat)}")

    return {
        "host": {
            "kernel": platform.release(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "umoci": _tool_version(["umoci", "--version"]),
        },
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": args.runs,
        "drop_caches": drop,
        "filesystem": {"mountpoint": fs[0], "type": fs[1], "device": fs[2]},
        "layer": {
            "tree_entries": layer.tree_entries,
            "tree_bytes": layer.tree_bytes,
            "tar_bytes": layer.uncompressed,
            "gzip_bytes": layer.compressed,
            "diff_id": layer.diff_id,
        },
        "contenders": results,
        "pycontainers_ratios": {"snapshot_vs_umoci": pc_snap, "flatten_vs_umoci": pc_flat},
        "target_vs_umoci_max": TARGET_VS_UMOCI,
    }


def _tool_version(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    out = subprocess.run(argv, check=False, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    return lines[0] if lines else None


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5, help="rounds (default 5)")
    p.add_argument(
        "--size-mb", type=int, default=200, help="file content of the tree, MB (default 200)"
    )
    p.add_argument("--json", metavar="FILE", type=Path, help="also write results as JSON")
    p.add_argument(
        "--no-drop-caches",
        action="store_true",
        help="do not drop the page cache before each sample (warm-cache numbers)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, run snapshots_for once more under cProfile and print the top",
    )
    args = p.parse_args(argv)
    if args.runs < 1 or args.size_mb < 1:
        p.error("--runs and --size-mb must be >= 1")
    return args


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("umoci") is None:
        print("umoci not found: apt-get install -y umoci", file=sys.stderr)
        return 1
    drop = not args.no_drop_caches
    if drop and not os.access(DROP_CACHES, os.W_OK):
        print(f"warning: cannot write {DROP_CACHES} (not root?): caches stay warm", file=sys.stderr)
        drop = False
    signal.signal(signal.SIGTERM, _sigterm)

    work = Path(tempfile.mkdtemp(prefix="pcbench-unpack-", dir=WORK_PARENT))
    try:
        fs = filesystem_of(work)
        print(f"work dir {work}: {fs[1]} on {fs[2]}", file=sys.stderr)
        if fs[1] == "tmpfs":
            print("warning: /var/tmp is tmpfs here; numbers are not disk numbers", file=sys.stderr)
        print(f"building a {args.size_mb} MB image with umoci...", file=sys.stderr)
        layer = make_image(work, args.size_mb * MB)
        scratch = work / "out"
        scratch.mkdir()
        loads: list[int] = []
        contenders = [
            Contender(
                "umoci",
                "umoci unpack --image L:bench OUT (subprocess; also writes config.json, "
                "umoci.json and an mtree manifest)",
                lambda: setup_umoci(layer),
            ),
            Contender(
                "pc-snapshot",
                "ImageStore.snapshots_for(image) on a freshly loaded store (overlay "
                "snapshot, blob digest + DiffID verified, syncfs)",
                lambda: setup_snapshot(layer, loads, drop),
            ),
            Contender(
                "pc-flatten",
                "images.flatten([ContentStore.open(layer)], dir) (plain dir, blob digest + "
                "DiffID verified, syncfs)",
                lambda: setup_flatten(layer, work),
            ),
        ]
        run_benchmark(contenders, args.runs, scratch, drop)
        contenders[1].extra["load"] = loads[: len(contenders[1].samples)]
        results = report(contenders, layer, fs, args, drop)
        if args.profile:
            print("\ncProfile of one snapshots_for (main thread only):")
            print(profile_snapshot(layer, scratch, drop))
        if args.json is not None:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
            print(f"\nwrote {args.json}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
