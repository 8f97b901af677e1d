"""Starting containers from threaded programs: no deadlock, no leak (benchexec #435, #656)."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import pycontainers as pc

pytestmark = pytest.mark.root


def test_eight_threads_start_containers_at_once(busybox_rootfs: Path, no_leaks: object) -> None:
    barrier = threading.Barrier(8)

    def one(i: int) -> tuple[int, bytes]:
        barrier.wait()
        r = pc.run(
            str(busybox_rootfs),
            ["sh", "-c", f"hostname; exit {i}"],
            hostname=f"t{i}",
            capture_output=True,
            timeout=60,
        )
        return r.returncode, r.stdout

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert results == [(i, f"t{i}\n".encode()) for i in range(8)]


def test_start_while_other_threads_log_and_hold_locks(
    busybox_rootfs: Path, no_leaks: object
) -> None:
    stop = threading.Event()
    lock = threading.Lock()
    logger = logging.getLogger("pycontainers.test.busy")
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.DEBUG)

    def busy() -> None:
        while not stop.is_set():
            with lock:  # a lock that is very often held at the instant of clone()
                logger.debug("busy %s", "x" * 100)

    workers = [threading.Thread(target=busy) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for _ in range(30):
            r = pc.run(str(busybox_rootfs), ["true"], timeout=30)
            assert r.returncode == 0
    finally:
        stop.set()
        for w in workers:
            w.join()


@pytest.mark.slow
def test_two_hundred_containers_in_a_row_leak_nothing(
    busybox_rootfs: Path, no_leaks: object
) -> None:
    for i in range(200):
        r = pc.run(
            str(busybox_rootfs),
            ["sh", "-c", "echo $0"],
            capture_output=True,
            timeout=30,
            init=i % 2 == 0,
        )
        assert r.returncode == 0
    for _ in range(20):
        with pc.Container.create(str(busybox_rootfs), ["true"]) as c:
            c.start()
            assert c.wait(timeout=10) == 0


def test_switching_ids_while_other_threads_start_and_end(
    busybox_rootfs: Path, no_leaks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """glibc's set*id wrappers take its thread-list lock, which a thread being made or ended
    holds: a child cloned at that instant waited on it for ever (a daemon that makes a
    thread per request hung one create in a few hundred). The child uses the raw calls."""
    from pycontainers.runtime import _childsetup

    monkeypatch.setattr(_childsetup, "SETUP_TIMEOUT", 15.0)  # a stuck child fails the test
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            t = threading.Thread(target=stop.is_set)
            t.start()
            t.join()

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for _ in range(60):
            with pc.Container.create(
                str(busybox_rootfs), ["true"], user="1000:1000", group_add=["50"]
            ) as c:  # a start fifo: the child is cloned (not vforked) and switches its ids
                c.start()
                assert c.wait(timeout=30) == 0
    finally:
        stop.set()
        for w in workers:
            w.join()
