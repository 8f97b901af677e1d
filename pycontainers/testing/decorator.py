"""``@sandboxed``: a function whose every call runs in a (warm) sandbox."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from pycontainers.testing.sandbox import Sandbox

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from pycontainers.testing.sandbox import SandboxKeywords

P = ParamSpec("P")
T = TypeVar("T")


class SandboxedFunction(Generic[P, T]):
    """A function whose every call runs in :attr:`sandbox` (made by :func:`sandboxed`).

    Calling it returns the function's value or raises what :meth:`Sandbox.call` raises;
    the function itself is ``__wrapped__`` (it travels to the sandbox by value, with
    its code, since its module's name for it now means this wrapper).
    """

    __name__: str
    __qualname__: str

    def __init__(self, func: Callable[P, T], sandbox: Sandbox) -> None:
        functools.update_wrapper(self, func)
        self.__wrapped__ = func
        self.sandbox = sandbox

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call the function in :attr:`sandbox` (see :meth:`Sandbox.call`)."""
        return self.sandbox.call(self.__wrapped__, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<sandboxed {self.__wrapped__!r} in {self.sandbox!r}>"


@overload
def sandboxed(fn: Callable[P, T], /) -> SandboxedFunction[P, T]: ...


@overload
def sandboxed(
    *, sandbox: Sandbox | None = None, **options: Unpack[SandboxKeywords]
) -> Callable[[Callable[P, T]], SandboxedFunction[P, T]]: ...


def sandboxed(
    fn: Callable[..., Any] | None = None, /, *, sandbox: Sandbox | None = None, **options: Any
) -> Any:
    """Decorator: every call of the function runs in a sandbox, warm by default.

    ``@sandboxed`` or ``@sandboxed(memory="128m", preload=["numpy"], ...)`` with the
    keywords of :class:`Sandbox` (one sandbox per decorated function; its zygote starts on
    the first call), or ``@sandboxed(sandbox=sb)`` to share one. The result's ``sandbox``
    attribute is that sandbox (``f.sandbox.close()`` stops its zygote early).
    """
    if sandbox is not None and options:
        raise TypeError("sandboxed: give a sandbox or Sandbox keywords, not both")

    def decorate(func: Callable[P, T]) -> SandboxedFunction[P, T]:
        return SandboxedFunction(func, sandbox if sandbox is not None else Sandbox(**options))

    return decorate if fn is None else decorate(fn)


__all__ = ["SandboxedFunction", "sandboxed"]
