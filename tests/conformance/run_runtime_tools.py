#!/usr/bin/env python3
"""Build opencontainers/runtime-tools' validation programs and run them against OCI runtimes.

Not part of the pytest run: it makes real containers for several minutes. Usage::

    python3 tests/conformance/run_runtime_tools.py --source DIR \\
        --runtime runc=/usr/sbin/runc --runtime ours=/path/to/pycontainers-runtime

``--source`` is a runtime-tools checkout with its ``vendor/`` directory and ``validation/``
(Debian's golang-github-opencontainers-runtime-tools-dev ships neither). The Go in Debian
bookworm (1.19) builds v0.9.0 / commit 0105384 (what Debian packages); newer commits need
Go >= 1.21. The build is offline (``GOPROXY=off``, vendored modules) into ``--build``.

Each program runs with ``RUNTIME`` set, from the build directory (it reads
``runtimetest`` and ``rootfs-<arch>.tar.gz`` from its working directory), under an exclusive
``flock`` of ``--lock`` (the test suite's host-wide leak check) and a timeout (on a busy
machine, hold the test lock once for the whole run instead: ``flock /tmp/pc-tests.lock
python3 ... --lock /tmp/other.lock``). Containers a
program leaves in a runtime's ``list`` are force-deleted, mounts it leaves in the host's
namespace under its bundles' directory (``TMPDIR``) are unmounted, and both are reported. The table has, per
program and runtime: ``ok N`` (N assertions, none failed, exit 0; ``ok 0``: the program
asserts nothing and says a failure only by its exit status or an ``error`` diagnostic),
``skip`` (all skipped), ``FAIL k/N`` (k assertions failed), ``FAIL exit N`` (the program
exited non-zero: it could not run its checks, or a ``*_fail`` program found no error),
``FAIL (diagnostic)`` or ``TIMEOUT``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_TAP = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*-?\s*(.*)$")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "i386": "386"}


@dataclass
class Result:
    """One program's outcome under one runtime."""

    rc: int | None
    passed: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    error: bool = False
    """A YAML diagnostic with an ``error`` outside any assertion (the hook programs say a
    failure only so)."""
    leftovers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def cell(self) -> str:
        total = self.passed + self.skipped + len(self.failed)
        if self.rc is None:
            text = "TIMEOUT"
        elif self.failed:
            text = f"FAIL {len(self.failed)}/{total}"
        elif self.rc != 0:
            text = f"FAIL exit {self.rc}"
        elif self.error:
            text = "FAIL (diagnostic)"
        elif total and self.skipped == total:
            text = "skip"
        else:
            text = f"ok {total}"
        return text + (" +leak" if self.leftovers else "")

    def passed_all(self) -> bool:
        """No failed assertion, no error diagnostic, exit status 0."""
        return self.rc == 0 and not self.failed and not self.error


def parse_tap(text: str, rc: int | None) -> Result:
    """Count a program's TAP lines."""
    result = Result(rc)
    after_assertion = False
    for line in text.splitlines():
        m = _TAP.match(line)
        if not m:
            if line.startswith('    "error": ') and not after_assertion:
                result.error = True
            elif line == "  ...":
                after_assertion = False
            continue
        after_assertion = True
        verdict, number, rest = m.groups()
        if verdict == "ok":
            if "# SKIP" in rest or rest.startswith("# SKIP"):
                result.skipped += 1
            else:
                result.passed += 1
        else:
            result.failed.append(f"{number} {rest}".strip())
    return result


def build(source: Path, out: Path) -> list[str]:
    """Copy ``source`` to ``out`` and build ``runtimetest`` and every validation program
    there; return the programs' names.
    """
    if not (source / "validation").is_dir() or not (source / "vendor").is_dir():
        sys.exit(f"{source}: not a runtime-tools checkout with validation/ and vendor/")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(source, out, symlinks=True)
    env = dict(os.environ, GOFLAGS="-mod=vendor", GOPROXY="off", GO111MODULE="on",
               GOTOOLCHAIN="local", GOCACHE=str(out / ".gocache"),
               GOPATH=str(out / ".gopath"))  # fmt: skip
    subprocess.run(
        ["go", "build", "-tags", "netgo osusergo", "-ldflags", "-extldflags -static",
         "-o", "runtimetest", "./cmd/runtimetest"],
        cwd=out, env=env, check=True,
    )  # fmt: skip
    names = sorted(p.name for p in (out / "validation").iterdir()
                   if p.is_dir() and (p / f"{p.name}.go").exists())  # fmt: skip
    for name in names:
        subprocess.run(["go", "build", "-o", f"validation/{name}/{name}.t", f"./validation/{name}"],
                       cwd=out, env=env, check=True)  # fmt: skip
    return names


def containers(runtime: str) -> set[str]:
    """The ids the runtime's ``list -q`` shows."""
    r = subprocess.run([runtime, "list", "-q"], capture_output=True, text=True, timeout=60)
    return {line.strip() for line in r.stdout.splitlines() if line.strip()}


def run_one(work: Path, name: str, runtime: str, timeout: float, lock: Path) -> tuple[Result, str]:
    """Run one program against one runtime, holding ``lock``; clean what it leaves; return
    the result and the program's output.
    """
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        before = containers(runtime)
        start = time.monotonic()
        scratch = work / "scratch"  # the programs' bundles (TMPDIR): emptied after each
        scratch.mkdir(exist_ok=True)
        env = dict(os.environ, RUNTIME=runtime, TMPDIR=str(scratch))
        try:
            proc = subprocess.run([f"validation/{name}/{name}.t"], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=timeout)  # fmt: skip
            output, rc = proc.stdout + proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as exc:
            output, rc = _text(exc.stdout) + _text(exc.stderr), None
        result = parse_tap(output, rc)
        result.seconds = time.monotonic() - start
        result.leftovers = sorted(containers(runtime) - before)
        for cid in result.leftovers:
            subprocess.run([runtime, "delete", "--force", cid], capture_output=True, timeout=60)
        mounts = host_mounts_under(scratch)
        if mounts:  # e.g. a runtime that mounts in the host's namespace (no mount namespace)
            result.leftovers += [f"mount {m}" for m in mounts]
            for m in mounts:
                subprocess.run(["umount", "-R", m], capture_output=True, timeout=60)
        shutil.rmtree(scratch, ignore_errors=True)
    return result, output


def host_mounts_under(directory: Path) -> list[str]:
    """Mount points of the host's mount namespace at or under ``directory``, outermost first."""
    prefix = str(directory.resolve())
    with open("/proc/1/mountinfo") as f:
        points = [line.split()[4] for line in f]
    inside = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    return sorted(set(inside), key=len)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data if isinstance(data, str) else data.decode(errors="replace")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--source", type=Path, help="runtime-tools checkout (with vendor/)")
    p.add_argument("--build", type=Path, default=Path("/tmp/runtime-tools-build"),
                   help="where to build (reused with --no-build)")  # fmt: skip
    p.add_argument("--no-build", action="store_true", help="reuse the programs in --build")
    p.add_argument("--runtime", action="append", default=[], metavar="NAME=PATH",
                   help="a runtime to run the programs against (repeatable)")  # fmt: skip
    p.add_argument("--only", action="append", default=[], help="run only these programs")
    p.add_argument("--timeout", type=float, default=120, help="seconds per program")
    p.add_argument("--lock", type=Path, default=Path("/tmp/pc-tests.lock"))
    p.add_argument("--tap-dir", type=Path, help="keep each program's output here")
    p.add_argument("-v", "--verbose", action="store_true", help="list failed assertions")
    args = p.parse_args(argv)

    if args.no_build:
        names = sorted(p.name for p in (args.build / "validation").iterdir()
                       if (p / f"{p.name}.t").exists())  # fmt: skip
    elif args.source is None:
        p.error("--source is needed to build (or --no-build)")
    else:
        names = build(args.source.resolve(), args.build)
    arch = _ARCH.get(platform.machine(), platform.machine())
    if not (args.build / f"rootfs-{arch}.tar.gz").exists():
        sys.exit(f"{args.build}/rootfs-{arch}.tar.gz missing (the programs unpack it)")
    if args.only:
        names = [n for n in names if n in args.only]
    runtimes = [r.partition("=")[::2] for r in args.runtime]
    if not runtimes or any(not n or not path for n, path in runtimes):
        p.error("give at least one --runtime NAME=PATH")
    if args.tap_dir:
        args.tap_dir.mkdir(parents=True, exist_ok=True)

    table: dict[str, dict[str, Result]] = {}
    for name in names:
        table[name] = {}
        for label, path in runtimes:
            result, output = run_one(args.build, name, path, args.timeout, args.lock)
            table[name][label] = result
            if args.tap_dir:
                (args.tap_dir / f"{name}.{label}.tap").write_text(f"{output}\n# exit {result.rc}\n")
            print(f"{name} [{label}]: {result.cell()} ({result.seconds:.1f}s)", file=sys.stderr)

    labels = [label for label, _ in runtimes]
    width = max(len(n) for n in names) if names else 4
    print(f"{'program':<{width}}  " + "  ".join(f"{label:<18}" for label in labels))
    for name in names:
        row = "  ".join(f"{table[name][label].cell():<18}" for label in labels)
        print(f"{name:<{width}}  {row}")
        if args.verbose:
            for label in labels:
                for line in table[name][label].failed:
                    print(f"    [{label}] not ok {line}")
                for what in table[name][label].leftovers:
                    print(f"    [{label}] left {what} (removed)")
    counts = {label: sum(t[label].passed_all() for t in table.values()) for label in labels}
    print("programs without failures: " + ", ".join(f"{k} {v}/{len(names)}"
                                                    for k, v in counts.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
