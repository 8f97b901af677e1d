"""The child side of ``run_in``: ``python -m pycontainers.namespaces._runner``.

Reads the pickled envelope from stdin, calls the function and writes the pickled answer
to fd 3 (see ``pycontainers.namespaces._run`` for the protocol). Not meant to be run by hand.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import traceback
from collections.abc import Callable

RESULT_FD = 3


def _dumps_for(name: str) -> Callable[[object], bytes]:
    """Return the dumps function of the serializer the parent used."""
    if name == "cloudpickle":
        try:
            dumps: Callable[..., bytes] = importlib.import_module("cloudpickle").dumps
        except ImportError:
            pass
        else:
            return lambda obj: dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return lambda obj: pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)


def _error_answer(exc: BaseException) -> tuple[str, bytes | None, str, str]:
    """Describe ``exc`` for the parent: pickled if possible, its repr and traceback text."""
    blob: bytes | None
    try:
        blob = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
        pickle.loads(blob)
    except Exception:
        blob = None
    text = "".join(traceback.format_exception(exc))
    return ("error", blob, repr(exc), text)


def main() -> int:
    """Run the call sent on stdin and answer on fd 3; return the exit status."""
    try:
        result = os.fdopen(RESULT_FD, "wb")
    except OSError:
        print("pycontainers.namespaces._runner is started by Namespace.run_in()", file=sys.stderr)
        return 2
    dumps: Callable[[object], bytes] = _dumps_for("pickle")
    try:
        envelope = pickle.loads(sys.stdin.buffer.read())
        dumps = _dumps_for(envelope["serializer"])
        sys.path[:] = envelope["sys_path"] + [p for p in sys.path if p not in envelope["sys_path"]]
        fn, args, kwargs = pickle.loads(envelope["call"])
        answer: object = ("ok", fn(*args, **kwargs))
        try:
            data = dumps(answer)
        except Exception as exc:
            raise TypeError(f"the result of {fn!r} cannot be pickled: {exc!r}") from exc
    except BaseException as exc:  # report everything, SystemExit and KeyboardInterrupt too
        data = dumps(_error_answer(exc))
    with result:
        result.write(data)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
