"""The entry points take typed keywords: mypy --strict rejects a misspelled one in user code,
and an untyped caller still gets an error naming it at run time.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

import pycontainers as pc
from pycontainers.cgroups import CGroup, LimitOptions, create_cgroup
from pycontainers.cgroups._resources import _DOCKER_NAMES, Resources
from pycontainers.images.registry import ensure_image
from pycontainers.images.registry.pulling import PullOptions, pull
from pycontainers.images.registry.pushing import PushOptions, push
from pycontainers.runtime.options import LIMIT_KEYWORDS, SPEC_KEYWORDS, SpecOptions
from pycontainers.runtime.run import make_spec
from pycontainers.testing import FactoryOptions, Sandbox, SandboxKeywords, SandboxOptions

ROOT = Path(__file__).resolve().parents[2]

# user code as a user writes it: one file per mistake, one with correct calls only
SNIPPETS = {
    "bad_run.py": """
        import pycontainers as pc

        pc.run("host", ["true"], hostnme="x")
    """,
    "bad_create.py": """
        import pycontainers as pc

        pc.Container.create("host", ["true"], memroy="64m")
    """,
    "bad_pull.py": """
        import pycontainers as pc

        pc.Image.pull("x", platfrom="linux/arm64")
    """,
    "bad_store.py": """
        import pycontainers as pc

        pc.ImageStore("/tmp/s").push("x", "r/x:1", tag=["2"])
    """,
    "bad_value.py": """
        import pycontainers as pc

        pc.run("host", ["true"], pids_limit=[10])
    """,
    "bad_factory.py": """
        from pycontainers.testing import ContainerFactory

        def use(factory: ContainerFactory) -> None:
            factory("host", "sleep 1", restrat="always")
    """,
    "bad_sandbox.py": """
        from pycontainers.testing import Sandbox

        Sandbox().run("true", memroy="64m")
    """,
    "bad_sandboxed.py": """
        import pycontainers as pc

        @pc.sandboxed(memroy="64m")
        def f() -> int:
            return 1
    """,
    "bad_update.py": """
        import pycontainers as pc

        def use(c: pc.Container) -> None:
            c.update(memroy="64m")
    """,
    "bad_logs.py": """
        import pycontainers as pc

        def use(c: pc.Container) -> None:
            list(c.logs(tial=5))
            c.attach(detach_key="ctrl-x")
    """,
    "bad_cgroup.py": """
        from pycontainers.cgroups import CGroup

        CGroup.create("web", memroy="1g")
    """,
    "bad_cgroup_update.py": """
        from pycontainers.cgroups import CGroup

        def change(cg: CGroup) -> None:
            cg.update(pids_max=10, cpu_share=512)
    """,
    "bad_ensure.py": """
        import pycontainers as pc
        from pycontainers.images.registry import ensure_image

        ensure_image(pc.ImageStore("/tmp/s"), "x", pltform="linux/arm64")
    """,
    "good.py": """
        import pycontainers as pc
        from pycontainers.testing import ContainerFactory, Sandbox

        r: pc.CompletedContainer = pc.run(
            "host", ["true"], hostname="box", env={"A": "1"}, memory="64m", pids_limit=10,
            cpus=0.5, cpuset_cpus="0", device_read_bps={"/dev/vda": "1m"}, network="none",
            capture_output=True, timeout=10,
        )
        with pc.Container.create(
            "host", ["sleep", "5"], name="web", memory="64m", pids_limit=10, init=True,
            ports={8080: 80}, mounts=[pc.Mount("/data", "/srv", read_only=True)],
        ) as c:
            c.start()
        img: pc.Image = pc.Image.pull("x", platform="linux/arm64", retries=2)
        store = pc.ImageStore("/tmp/s")
        store.pull("x", insecure_registries=["r:5000"], concurrency=2)
        digest = store.push(img, "r:5000/x:1", tags=["2"], chunk_size=1 << 20).digest

        def use(factory: ContainerFactory, sandbox: Sandbox) -> None:
            factory("host", "sleep 1", restart="always", memory="64m", labels={"a": "b"})
            sandbox.run("true", memory="64m", pids=8, network=False)
            n: int = sandbox.run(len, "abc", timeout=5.0)
            s: str = sandbox.call(str.upper, "x")
            squares: list[int] = sandbox.map(pow, [1, 2], [2, 2])

        @pc.sandboxed(memory="128m", preload=["json"], timeout=5.0)
        def double(x: int) -> int:
            return 2 * x

        twice: int = double(21)
        warm = pc.Sandbox(preload=["json"], workers=2, warm=True)

        def live(c: pc.Container) -> None:
            c.update(memory="128m", cpus=1, pids_limit=20)
            entries = list(c.logs(tail=5, since="10m", stdout=True, stderr=False))
            code: int | None = c.attach(stdin=False, detach_keys="ctrl-x")

        from pycontainers.cgroups import CGroup, Resources
        from pycontainers.images.registry import ensure_image

        cg = CGroup.create("web", memory="64m", pids_limit=32, cpus=0.5, parent="p")
        cg.update(memory_max="128m", device_read_bps={"/dev/vda": "1m"})
        cg.update(Resources(pids_max=10))
        sub: CGroup = cg.child("a", cpu_weight=100, hugetlb={"2MB": "8m"})
        img2: pc.Image = ensure_image(store, "x", platform="linux/arm64", retries=2)
    """,
}

EXPECTED = {
    "bad_run.py": 'Unexpected keyword argument "hostnme" for "run"',
    "bad_create.py": 'Unexpected keyword argument "memroy" for "create"',
    "bad_pull.py": 'Unexpected keyword argument "platfrom" for "pull"',
    "bad_store.py": 'Unexpected keyword argument "tag" for "push"',
    "bad_value.py": 'Argument "pids_limit" to "run" has incompatible type "list[int]"',
    "bad_factory.py": 'Unexpected keyword argument "restrat"',
    "bad_sandbox.py": 'Unexpected keyword argument "memroy" for overloaded function "run"',
    "bad_update.py": 'Unexpected keyword argument "memroy" for "update" of "Container"',
    "bad_logs.py": 'Unexpected keyword argument "tial" for "logs" of "Container"',
    "bad_cgroup.py": 'Unexpected keyword argument "memroy" for "create" of "CGroup"',
    "bad_cgroup_update.py": 'Unexpected keyword argument "cpu_share" for "update" of "CGroup"',
    "bad_ensure.py": 'Unexpected keyword argument "pltform" for "ensure_image"',
}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy --strict, with the project's config, once over all snippets; errors by file."""
    work = tmp_path_factory.mktemp("typed")
    for name, text in SNIPPETS.items():
        (work / name).write_text(textwrap.dedent(text).lstrip())
    package_root = Path(pc.__file__).resolve().parents[1]
    env = {**os.environ, "MYPYPATH": str(package_root)}  # an editable install hides it
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--strict", "--no-error-summary", "--cache-dir", str(work / "cache"),
         "--hide-error-context", *SNIPPETS],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2: mypy itself failed
    errors: dict[str, list[str]] = {name: [] for name in SNIPPETS}
    for line in proc.stdout.splitlines():
        match = re.match(r"([\w.]+):\d+: error: (.*)", line)
        if match and match.group(1) in errors:  # the package's own errors are mypy's CI job
            errors[match.group(1)].append(match.group(2))
    return errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_wrong_keyword_is_a_type_error(mypy_errors: dict[str, list[str]], name: str) -> None:
    errors = mypy_errors[name]  # one, or two for an overloaded function ("no variant")
    assert errors and len(errors) <= 2 and EXPECTED[name] in errors[0], errors


def test_correct_calls_type_check(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["good.py"] == []


# -- at run time, for callers without a type checker -----------------------------------------


def untyped(**kwargs: Any) -> dict[str, Any]:
    """Keywords as a caller without a type checker passes them."""
    return kwargs


@pytest.mark.parametrize(
    ("call", "field", "hint"),
    [
        (lambda: pc.run("host", ["true"], **untyped(hostnme="x")), "hostnme", "'hostname'"),
        (
            lambda: pc.Container.create("host", ["true"], **untyped(memroy="64m")),
            "memroy",
            "'memory'",
        ),
        (lambda: make_spec("host", ["true"], **untyped(zzz=1)), "zzz", "known: aliases, "),
    ],
)
def test_an_unknown_keyword_names_itself(call: Callable[[], object], field: str, hint: str) -> None:
    with pytest.raises(pc.SpecError) as info:
        call()  # raises before anything is made: no root needed
    assert info.value.field == field
    assert "not a keyword of run()/Container.create()" in str(info.value)
    assert hint in str(info.value)


def test_an_unknown_pull_or_sandbox_keyword_is_a_type_error(tmp_path: Path) -> None:
    store = pc.ImageStore(tmp_path)
    with pytest.raises(TypeError, match="platfrom"):
        store.pull("localhost:1/x", **untyped(platfrom="linux/arm64"))
    with pytest.raises(TypeError, match="pltform"):
        ensure_image(store, "localhost:1/x", **untyped(pltform="linux/arm64"))
    with pytest.raises(TypeError, match="memroy"):
        Sandbox().run("true", **untyped(memroy="64m"))


# -- one list, kept true -----------------------------------------------------------------


def test_the_limit_keywords_are_those_resources_accepts() -> None:
    fields = {a.name for a in attrs.fields(Resources)}
    assert fields | set(_DOCKER_NAMES) == LIMIT_KEYWORDS == frozenset(LimitOptions.__annotations__)
    assert LIMIT_KEYWORDS < SPEC_KEYWORDS == frozenset(SpecOptions.__annotations__)


def test_the_registry_options_are_the_functions_keywords() -> None:
    for options, function in ((PullOptions, pull), (PushOptions, push)):
        params = inspect.signature(function).parameters.values()
        keywords = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
        assert set(options.__annotations__) == keywords, function


def test_factory_and_sandbox_options_match_what_they_forward() -> None:
    params = inspect.signature(pc.Container.create).parameters.values()
    create = {p.name for p in params if p.kind is p.KEYWORD_ONLY}
    own = set(FactoryOptions.__annotations__) - SPEC_KEYWORDS
    assert own == create - {"stdin", "stdout", "stderr"}  # detached: output goes to its log
    sandbox = inspect.signature(Sandbox).parameters
    assert set(SandboxKeywords.__annotations__) == set(sandbox)  # what @sandboxed forwards
    own = {"preload", "warm", "workers", "pool"}  # not per run: the sandbox's own
    assert set(SandboxOptions.__annotations__) == set(sandbox) - own


def test_docstrings_show_every_keyword() -> None:
    run_doc = pc.run.__doc__ or ""
    create_doc = pc.Container.create.__doc__ or ""
    for name in SPEC_KEYWORDS:
        assert f"``{name}``" in run_doc, name
    for name in SPEC_KEYWORDS - LIMIT_KEYWORDS:
        assert f"``{name}``" in create_doc, name
    for name in ("capture_output", "input", "stdin", "stdout", "stderr", "timeout", "check"):
        assert f"``{name}``" in run_doc, name
    params = inspect.signature(pc.Container.create).parameters.values()
    for name in {p.name for p in params if p.kind is p.KEYWORD_ONLY}:
        assert f"``{name}``" in create_doc or f"``{name}=" in create_doc, name
    for function in (CGroup.create, CGroup.update, CGroup.child, create_cgroup):
        for name in LIMIT_KEYWORDS:
            assert f"``{name}``" in (function.__doc__ or ""), (function, name)
    for name in PullOptions.__annotations__:
        assert f"``{name}``" in (ensure_image.__doc__ or ""), name
    store_docs = (pc.ImageStore.pull.__doc__ or "") + (pc.Image.pull.__doc__ or "")
    for name in PullOptions.__annotations__:
        assert store_docs.count(f"``{name}``") >= 2, name
    for name in PushOptions.__annotations__:
        assert f"``{name}``" in (pc.ImageStore.push.__doc__ or ""), name


def test_an_unknown_cgroup_limit_names_itself() -> None:
    with pytest.raises(pc.SpecError) as info:
        CGroup.create("never-made", **untyped(memroy="1g"))  # refused before any mkdir
    assert info.value.field == "memroy"
    assert "unknown resource option" in str(info.value)
