"""One exception tree: every error class of the package derives from PyContainersError, is
defined in ``pycontainers.errors`` and carries ``errno`` and ``path``; failures on the real
kernel and filesystem fill them in.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import json
import os
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import pycontainers as pc
from pycontainers import _sys
from pycontainers.cgroups import CgroupError, open_cgroup
from pycontainers.errors import (
    CgroupNotSupported,
    ContainerError,
    ContainerStartError,
    NamespaceError,
    PyContainersError,
    SpecError,
    SyscallError,
)
from pycontainers.images import ContentStore
from pycontainers.namespaces import Namespace
from pycontainers.runtime.specfile import SPEC_NAME, load_spec
from pycontainers.runtime.state import read_state

SKIP = {"pycontainers.__main__"}  # runs the CLI on import


def _error_classes() -> dict[type[BaseException], set[str]]:
    """Every public exception class reachable from a module of the package: where seen."""
    found: dict[type[BaseException], set[str]] = {}
    for info in pkgutil.walk_packages(pc.__path__, "pycontainers."):
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("pycontainers")
                and not name.startswith("_")
            ):
                found.setdefault(value, set()).add(info.name)
    return found


CLASSES = _error_classes()
ORDERED = sorted(CLASSES, key=lambda c: c.__name__)


def _name(cls: object) -> str:
    return getattr(cls, "__name__", repr(cls))


def _placeholder(param: inspect.Parameter) -> Any:
    """A value for a required constructor parameter, good enough to build the message."""
    annotation = str(param.annotation)
    if annotation.startswith("int") or param.name in ("port", "returncode"):
        return 1
    if annotation.startswith("float"):
        return 1.0
    if annotation.startswith("bytes"):
        return b""
    if annotation.startswith("list"):
        return ["true"]
    return "x"


def _build(cls: type[BaseException], code: int, path: str) -> BaseException:
    """An instance of ``cls`` built through its own signature, with ``errno`` and ``path``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in inspect.signature(cls).parameters.values():
        if param.name == "errno":
            value: Any = code
        elif param.name == "path":
            value = path
        elif param.default is not param.empty or param.kind is param.VAR_POSITIONAL:
            continue
        else:
            value = _placeholder(param)
        if param.kind is param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    if not args:
        args.append("message")  # the base's *args
    return cls(*args, **kwargs)


def test_the_walk_sees_the_whole_tree() -> None:
    names = {cls.__name__ for cls in CLASSES}
    for name in ("CgroupError", "RegistryError", "SyscallError", "CommandError", "WaitTimeout"):
        assert name in names


@pytest.mark.parametrize("cls", ORDERED, ids=_name)
def test_every_error_is_in_the_one_tree(cls: type[BaseException]) -> None:
    assert issubclass(cls, PyContainersError), f"{cls} (seen in {sorted(CLASSES[cls])})"
    assert cls.__module__ == "pycontainers.errors", f"{cls} is defined in {cls.__module__}"
    assert cls.__doc__ and cls.__doc__.strip()
    assert cls.__name__ in pc.errors.__all__
    assert cls.__name__ in (pc.errors.__doc__ or ""), f"{cls.__name__} is not in the tree drawing"


@pytest.mark.parametrize("cls", ORDERED, ids=_name)
def test_every_error_takes_and_keeps_errno_and_path(cls: type[BaseException]) -> None:
    exc = _build(cls, errno.EACCES, "/some/file")
    assert isinstance(exc, PyContainersError)
    assert exc.errno == errno.EACCES
    assert exc.path == "/some/file"
    assert str(exc)


def test_errno_and_path_default_to_none() -> None:
    assert (PyContainersError("x").errno, PyContainersError("x").path) == (None, None)
    exc = CgroupError("no such group")
    assert (exc.errno, exc.path) == (None, None)
    spec = SpecError("memory", "bad")
    assert (spec.errno, spec.path, spec.field, str(spec)) == (None, None, "memory", "memory: bad")


def test_old_call_sites_still_work() -> None:
    start = ContainerStartError("mount", errno.ENOENT, "mount: gone", 127)
    assert (start.stage, start.errno, start.exit_code, str(start)) == (
        "mount",
        errno.ENOENT,
        127,
        "mount: gone",
    )
    assert isinstance(start.errno, int)
    assert isinstance(pc.PortInUse("0.0.0.0", 80, "tcp", "pid 1"), pc.PyContainersError)
    timeout = pc.errors.WaitTimeout("too slow")
    assert isinstance(timeout, TimeoutError) and timeout.errno is None
    assert issubclass(CgroupNotSupported, CgroupError)


def test_a_syscall_error_is_an_oserror_too() -> None:
    exc = SyscallError(errno.ENOENT, "mount(/x): No such file or directory", path="/x")
    assert isinstance(exc, OSError) and isinstance(exc, PyContainersError)
    assert (exc.errno, exc.strerror, exc.path) == (errno.ENOENT, str(exc.strerror), "/x")
    assert str(exc) == "[Errno 2] mount(/x): No such file or directory"


# -- real failures ------------------------------------------------------------------------


def test_a_failed_syscall_names_its_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "not-a-mount")
    with pytest.raises(SyscallError) as info:
        _sys.umount2(missing)
    assert info.value.errno in (errno.ENOENT, errno.EPERM, errno.EINVAL)
    assert info.value.path == missing


def test_opening_a_missing_cgroup_carries_enoent_and_its_directory() -> None:
    with pytest.raises(CgroupError) as info:
        open_cgroup(f"pycontainers-test-missing-{os.getpid()}/nothing")
    assert info.value.errno == errno.ENOENT
    assert info.value.path is not None and info.value.path.startswith("/sys/fs/cgroup/")
    assert not os.path.exists(info.value.path)


def test_opening_a_missing_namespace_file_carries_errno_and_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "netns")
    with pytest.raises(NamespaceError) as info:
        Namespace.open(missing)
    assert (info.value.errno, info.value.path) == (errno.ENOENT, missing)


def test_a_corrupt_state_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"id": "abc", "pid": ')  # truncated
    with pytest.raises(ContainerError) as info:
        read_state(str(tmp_path))
    assert info.value.path == str(tmp_path / "state.json")
    assert info.value.errno is None


def test_a_missing_state_file_carries_enoent(tmp_path: Path) -> None:
    with pytest.raises(ContainerError) as info:
        read_state(str(tmp_path))
    assert (info.value.errno, info.value.path) == (errno.ENOENT, str(tmp_path / "state.json"))


def test_a_corrupt_spec_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / SPEC_NAME).write_text(json.dumps({"ociVersion": "1.2.0", "process": 3}))
    with pytest.raises(ContainerError) as info:
        load_spec(str(tmp_path))
    assert info.value.path == str(tmp_path / SPEC_NAME)
    (tmp_path / SPEC_NAME).write_text("{")
    with pytest.raises(ContainerError) as info:
        load_spec(str(tmp_path))
    assert info.value.path == str(tmp_path / SPEC_NAME)


def test_a_missing_blob_carries_enoent_and_its_file(tmp_path: Path) -> None:
    store = ContentStore(tmp_path)
    digest = "sha256:" + "0" * 64
    for lookup in (store.descriptor, store.open):
        with pytest.raises(pc.errors.BlobNotFound) as info:
            lookup(digest)
        assert info.value.errno == errno.ENOENT
        assert info.value.path == str(store.blob_path(digest))


def test_a_missing_image_has_no_errno(tmp_path: Path) -> None:
    with pytest.raises(pc.ImageNotFound) as info:
        pc.ImageStore(tmp_path).get("no-such-image:1")
    assert info.value.errno is None
