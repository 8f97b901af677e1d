"""The pytest plugin (entry point ``pytest11: pycontainers``): fixtures, markers, hooks.

Fixtures: ``sandbox`` (a :class:`~pycontainers.testing.Sandbox`), ``container_factory``
(a :class:`~pycontainers.testing.ContainerFactory`) and the session-scoped
``pycontainers_engine`` (a :class:`~pycontainers.testing.TestEngine`: private temporary
state and data roots, unless ``PYCONTAINERS_STATE``/``PYCONTAINERS_ROOT`` are set).
Markers: ``pycontainers`` and its alias ``requires_containers`` skip a test, with the
reason, where this host cannot run containers; the fixtures skip the same way. The
``sandbox`` fixture runs callables warm (forks of zygotes the session shares) unless
``--pycontainers-cold`` is given.

Loading the plugin changes nothing for tests that use none of this: it registers the
markers, and its hooks only act on marked tests or on tests that used a sandbox; every
pycontainers import happens on first use.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pycontainers.testing.factory import ContainerFactory, TestEngine
    from pycontainers.testing.sandbox import Sandbox
    from pycontainers.testing.warm import WarmPool

MARKERS = ("pycontainers", "requires_containers")
_SANDBOXES = pytest.StashKey["list[Sandbox]"]()
_REPORTED = pytest.StashKey[int]()
_SECTION_LIMIT = 20_000


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--pycontainers-cold``: the ``sandbox`` fixture starts a fresh interpreter per call."""
    parser.getgroup("pycontainers").addoption(
        "--pycontainers-cold",
        action="store_true",
        default=False,
        help="run the sandbox fixture's callables cold (a fresh interpreter in a new "
        "container per call) instead of in forks of a warm zygote",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers."""
    for name in MARKERS:
        config.addinivalue_line(
            "markers",
            f"{name}: needs a host that can run pycontainers containers (root, or usable user "
            "namespaces); skipped with the reason elsewhere",
        )


def skip_unless_containers() -> None:
    """Skip the running test, saying why, if this host cannot run containers."""
    from pycontainers.testing import support

    reason = support.unavailable_reason()
    if reason:
        pytest.skip(f"cannot run containers here: {reason}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip tests marked ``pycontainers``/``requires_containers`` where containers cannot run."""
    if any(item.get_closest_marker(name) for name in MARKERS):
        skip_unless_containers()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, add each sandbox's stdout and stderr to the report as sections."""
    report = yield
    sandboxes = item.stash.get(_SANDBOXES, None)
    if report.failed and sandboxes:
        records = [r for sb in sandboxes for r in sb.records]
        start = item.stash.get(_REPORTED, 0)
        for n, rec in enumerate(records[start:], start + 1):
            for stream, data in (("stdout", rec.stdout), ("stderr", rec.stderr)):
                if data or stream == "stdout":
                    text = data.decode(errors="replace")
                    if len(text) > _SECTION_LIMIT:
                        text = (
                            f"[... {len(text) - _SECTION_LIMIT} characters cut]\n"
                            + text[-_SECTION_LIMIT:]
                        )
                    title = f"sandbox {n} {stream}: {rec.what} ({rec.outcome})"
                    report.sections.append((title, text or "(empty)"))
        item.stash[_REPORTED] = len(records)
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove containers a factory of this process started and never removed (an
    interrupted teardown); a no-op when no factory was used.
    """
    factory = sys.modules.get("pycontainers.testing.factory")
    if factory is not None:
        factory.remove_tracked()


@pytest.fixture(scope="session")
def pycontainers_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestEngine]:
    """The session's pycontainers roots: private temporary ones, set as
    ``PYCONTAINERS_STATE``/``PYCONTAINERS_ROOT`` for the session, unless already set.
    Containers its tests started and did not remove are removed at its end; those of
    earlier sessions whose process died are removed at its start.
    """
    skip_unless_containers()
    from pycontainers.fs.shift import default_data_root
    from pycontainers.runtime.state import default_state_root
    from pycontainers.testing.factory import (
        ENV_ROOT,
        ENV_STATE,
        SESSION_LABEL,
        TestEngine,
        remove_labelled,
    )

    ours: dict[str, str] = {}
    for key, prefix in ((ENV_STATE, "pycontainers-state"), (ENV_ROOT, "pycontainers-data")):
        if not os.environ.get(key):
            ours[key] = os.environ[key] = str(tmp_path_factory.mktemp(prefix))
    engine = TestEngine(os.urandom(8).hex(), default_state_root(), default_data_root())
    try:
        remove_labelled(engine.state_root, dead_owners=True)
        yield engine
        remove_labelled(engine.state_root, {SESSION_LABEL: engine.id})
    finally:
        for key, value in ours.items():
            if os.environ.get(key) == value:
                del os.environ[key]


@pytest.fixture(scope="session")
def _pycontainers_warm_pool(
    request: pytest.FixtureRequest, pycontainers_engine: TestEngine
) -> Iterator[WarmPool | None]:
    """The session's zygotes, shared by every ``sandbox`` (None with --pycontainers-cold)."""
    if request.config.getoption("pycontainers_cold", False):
        yield None
        return
    from pycontainers.testing.warm import WarmPool

    pool = WarmPool(())
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def sandbox(
    request: pytest.FixtureRequest,
    pycontainers_engine: TestEngine,
    _pycontainers_warm_pool: WarmPool | None,
) -> Iterator[Sandbox]:
    """A :class:`~pycontainers.testing.Sandbox`: ``sandbox.run(cmd or callable, ...)`` in a
    throwaway container without network, with memory and pids caps, a read-only host view
    and a fresh /tmp. Callables run warm (forks of a zygote the session shares; each call
    in fresh namespaces and its own cgroup) unless ``--pycontainers-cold`` is given. Its
    output is added to the report of a failed test.
    """
    from pycontainers.testing.sandbox import Sandbox

    pool = _pycontainers_warm_pool
    sb = Sandbox(warm=pool is not None, pool=pool)
    request.node.stash.setdefault(_SANDBOXES, []).append(sb)
    try:
        yield sb
    finally:
        sb.close()


@pytest.fixture
def container_factory(
    request: pytest.FixtureRequest, pycontainers_engine: TestEngine
) -> Iterator[ContainerFactory]:
    """``container_factory(image, cmd, **create_kwargs)`` starts a detached container; all
    are stopped and removed at the end of the test, whatever its outcome.
    """
    from pycontainers.testing.factory import ContainerFactory

    factory = ContainerFactory(pycontainers_engine, test_id=request.node.nodeid)
    try:
        yield factory
    finally:
        factory.cleanup()
