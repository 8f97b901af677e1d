"""The cache of attrs' generated code (``pycontainers/_attrscache.py``, issues 15 and 17):
a second process builds its classes from it, with the same behaviour as compiled ones
(``__hash__`` included, whose source differs in every process), and a cache file that
another user could write, or whose checksum is wrong, is never executed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from attr import _make

from pycontainers import _attrscache

# A module of classes like the specs (frozen, hence hashed; mutable; slotted), built with
# the cache on; prints what they do and the cache's (hits, misses) as JSON.
PROBE = """
import json, sys
from pycontainers import _attrscache
on = _attrscache.enable()
import attrs

@attrs.frozen
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()

@attrs.define
class Box:
    items: list[int] = attrs.Factory(list)

@attrs.frozen(cache_hash=True)
class Cached:
    name: str

p, q = Point(1), Point(1, tags=("a",))
type_hash = hash(f"<attrs generated hash {Point.__module__}.{Point.__qualname__}>")
b = Box()
b.items.append(3)
print(json.dumps({
    "on": on,
    "repr": [repr(p), repr(q), repr(b), repr(Cached("n"))],
    "eq": [p == Point(1), p == q, Box([3]) == b],
    "hash_ok": hash(p) == hash((type_hash, 1, 2, ())),
    "cached_hash_ok": hash(Cached("n")) == hash(Cached("n")),
    "frozen": not _setattr_ok(p),
    "stats": _attrscache.stats(),
}))
"""

PROBE = PROBE.replace(
    "import attrs\n",
    "import attrs\n\ndef _setattr_ok(o):\n    try:\n        o.x = 5\n    except Exception:\n"
    "        return False\n    return True\n",
    1,
)


def probe(root: Path, *, extra: str = "") -> dict[str, object]:
    env = {**os.environ, "PYCONTAINERS_ROOT": str(root), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(_attrscache.OPT_OUT, None)
    r = subprocess.run([sys.executable, "-c", PROBE + extra], env=env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out: dict[str, object] = json.loads(r.stdout.splitlines()[-1])
    out["stdout"] = r.stdout
    return out


def cache_file(root: Path) -> Path:
    return root / "cache" / "attrs" / "code"


def test_second_process_builds_from_the_cache_with_the_same_behaviour(tmp_path: Path) -> None:
    first = probe(tmp_path)
    assert first["on"] is True
    stats = first["stats"]
    assert isinstance(stats, list)
    hits, misses = stats
    assert hits == 0 and misses >= 3
    assert cache_file(tmp_path).stat().st_mode & 0o777 == 0o600
    assert cache_file(tmp_path).parent.stat().st_mode & 0o777 == 0o700
    second = probe(tmp_path)
    assert second["stats"] == [misses, 0]  # every class of the first process, none compiled
    for key in ("repr", "eq", "hash_ok", "cached_hash_ok", "frozen"):
        assert second[key] == first[key], key
    assert first["hash_ok"] is True and first["frozen"] is True
    assert first["eq"] == [True, False, True]


def poison(root: Path) -> None:
    """Rewrite every entry of the cache with code that prints POISON (checksum kept valid)."""
    import marshal

    path = cache_file(root)
    data = path.read_bytes()
    head = data.partition(b"\n")[0].rpartition(b" ")[0]
    entries = _attrscache.parse(data, head)
    assert entries
    bad = marshal.dumps(compile("print('POISON')", "<poison>", "exec"))
    path.write_bytes(_attrscache.render(head, {k: (seed, bad) for k, (seed, _) in entries.items()}))


def test_a_trusted_poisoned_cache_is_used_so_the_checks_below_mean_something(
    tmp_path: Path,
) -> None:
    probe(tmp_path)
    poison(tmp_path)
    r = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, "PYCONTAINERS_ROOT": str(tmp_path),
             "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "POISON" in r.stdout  # the cache is what runs: its checks must be right


@pytest.mark.parametrize("what", ["file-writable", "dir-writable", "checksum", "owner"])
def test_an_untrusted_or_damaged_cache_is_never_executed(tmp_path: Path, what: str) -> None:
    probe(tmp_path)
    poison(tmp_path)
    path = cache_file(tmp_path)
    if what == "file-writable":
        path.chmod(0o620)
    elif what == "dir-writable":
        path.parent.chmod(0o703)
    elif what == "checksum":
        data = bytearray(path.read_bytes())
        data[-10] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file to another user")
        os.chown(path, 65534, 65534)
    out = probe(tmp_path)
    assert "POISON" not in str(out["stdout"])
    assert out["hash_ok"] is True and out["stats"][0] == 0  # type: ignore[index]


def test_only_attrs_generator_calls_are_cached() -> None:
    cache = _attrscache._Cache("/nonexistent/code", b"h")
    # other modes, bytes, extra arguments: the builtin, untouched
    assert cache.compile("1 + 1", "<x>", "eval") is not None
    assert cache.compile(b"x = 1", "<x>", "exec") is not None
    assert cache.compile("x = 1", "<x>", "exec", 0, True) is not None
    assert (cache.hits, cache.misses) == (0, 0)
    first = cache.compile("x = 1", "<x>", "exec")
    again = cache.compile("x = 1", "<x>", "exec")
    assert (cache.hits, cache.misses) == (1, 1)
    ns: dict[str, object] = {}
    exec(again, ns)
    assert ns["x"] == 1 and first.co_filename == "<x>"


def test_an_attrs_that_does_not_call_the_compile_global_is_left_alone() -> None:
    import types

    assert _attrscache.fits(_make, vars(_make).get("compile"))
    other = types.ModuleType("attr._make")
    assert not _attrscache.fits(other)  # no _compile_and_eval

    def _compile_and_eval(script: str) -> None:
        exec(script)

    other._compile_and_eval = _compile_and_eval  # type: ignore[attr-defined]
    assert not _attrscache.fits(other)  # does not call compile
    shadowed = types.ModuleType("attr._make")
    shadowed._compile_and_eval = _make._compile_and_eval  # type: ignore[attr-defined]
    shadowed.compile = compile  # type: ignore[attr-defined]
    assert not _attrscache.fits(shadowed)  # compile replaced by someone else
    assert _attrscache.fits(shadowed, compile)  # ... or by us


def test_enabled_before_attrs_loads_its_own_classes_come_from_the_cache(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pycontainers import _attrscache\n"
        "assert 'attr' not in sys.modules\n"
        "_attrscache.enable()\n"
        "assert 'attr' not in sys.modules  # enable() does not import attrs\n"
        "import attr, attr._make as m, importlib.machinery as im\n"
        "assert type(m.__loader__) is im.SourceFileLoader, m.__loader__\n"
        "assert m.__spec__.loader is m.__loader__\n"
        "print(*_attrscache.stats())\n"
    )
    env = {**os.environ, "PYCONTAINERS_ROOT": str(tmp_path),
           "PYTHONPATH": os.pathsep.join(sys.path)}  # fmt: skip
    env.pop(_attrscache.OPT_OUT, None)
    argv = [sys.executable, "-c", code]
    runs = [
        subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60) for _ in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first = [int(n) for n in runs[0].stdout.split()]
    second = [int(n) for n in runs[1].stdout.split()]
    assert first[0] == 0 and first[1] >= 5  # attrs' validators and friends, compiled
    assert second == [first[1], 0]  # ... then served


def test_the_header_changes_with_attrs_generator_file(tmp_path: Path) -> None:
    f = tmp_path / "_make.py"
    f.write_text("a")
    one = _attrscache.header_for(str(f))
    f.write_text("ab")
    assert one is not None and one != _attrscache.header_for(str(f))
    assert _attrscache.header_for(str(tmp_path / "missing.py")) is None
