"""The build of a Dockerfile: which stages the target needs, each stage's steps in order
(from the cache where their key is known), and the target's image named in the store.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pycontainers._log import get_logger
from pycontainers.builder.context import BuildContext
from pycontainers.builder.expand import ExpandError, expand_word
from pycontainers.builder.parse import Dockerfile, Instruction, Stage, parse_dockerfile
from pycontainers.builder.rootfs import Workspace, write_layer
from pycontainers.builder.state import CacheIndex, StageState, now_stamp, step_key
from pycontainers.builder.steps import METADATA
from pycontainers.errors import BuildCancelled, BuildError, ImageNotFound, PyContainersError
from pycontainers.images import Image, ImageStore, host_platform
from pycontainers.images.descriptor import Descriptor, Platform
from pycontainers.images.digest import Digest

if TYPE_CHECKING:
    from pycontainers.builder.progress import Progress, Step

__all__ = ["Builder"]

log = get_logger("pycontainers.build")

_LAYER_STEPS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})
# How long the main thread blocks at most between looks at pending signals. The kernel may
# deliver a process-directed SIGINT to any thread; Python then only flags it, and runs the
# handler (KeyboardInterrupt) when the main thread next executes bytecode: a main thread
# blocked without a timeout (a Condition, a poll) would sleep through Ctrl-C until a stage
# or RUN ended by itself.
SIGNAL_CHECK = 0.1
RESULT = "io.pycontainers.build.result"


def platform_args(platform: Platform) -> dict[str, str]:
    """BuildKit's predefined platform args (target and build platform are this host's)."""
    full = f"{platform.os}/{platform.architecture}" + (
        f"/{platform.variant}" if platform.variant else ""
    )
    out = {}
    for prefix in ("TARGET", "BUILD"):
        out[f"{prefix}PLATFORM"] = full
        out[f"{prefix}OS"] = platform.os
        out[f"{prefix}ARCH"] = platform.architecture
        out[f"{prefix}VARIANT"] = platform.variant
    return out


_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
                 "i386": "386", "i686": "386"}  # fmt: skip
_DEFAULT_VARIANT = {"arm64": "v8", "amd64": "v1"}


def _normal_platform(text: str) -> tuple[str, str, str]:
    """``os/arch[/variant]`` with Go's names and default variants, for comparing."""
    parts = text.strip().lower().split("/")
    os_name = parts[0]
    arch = _ARCH_ALIASES.get(parts[1], parts[1]) if len(parts) > 1 else ""
    variant = parts[2] if len(parts) > 2 else _DEFAULT_VARIANT.get(arch, "")
    return os_name, arch, variant or _DEFAULT_VARIANT.get(arch, "")


class Builder:
    """One build: a context, its parsed Dockerfile and the options of :func:`build`."""

    def __init__(
        self,
        store: ImageStore,
        context: BuildContext,
        *,
        data_root: str,
        build_args: Mapping[str, str],
        target: str | None,
        no_cache: bool,
        secrets: Mapping[str, str],
        cache_from: list[Image],
        progress: Progress,
        epoch: int | None,
    ) -> None:
        self.store = store
        self.context = context
        self.dockerfile: Dockerfile = parse_dockerfile(
            context.dockerfile_text, context.dockerfile_name
        )
        self.data_root = data_root
        self.build_args = dict(build_args)
        self.target = target
        self.no_cache = no_cache
        self.secrets = dict(secrets)
        self.progress = progress
        self.epoch = epoch
        self.platform = host_platform()
        self.used_args: set[str] = set()
        self.declared_args: set[str] = set()
        self.cache = CacheIndex.load(store, cache_from)
        self.results: dict[int, StageState] = {}
        self.global_args = self._global_args()
        self.workspace = Workspace(os.path.join(data_root, "build", "tmp"))
        self.deps: dict[int, set[int]] = {}
        self.lock = threading.Lock()  # for what steps of concurrent stages share
        self._cancel = threading.Event()
        self._cancel_r, self._cancel_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)

    # -- cancellation ---------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """Whether the build was cancelled (a stage failed, or SIGINT)."""
        return self._cancel.is_set()

    @property
    def cancel_fd(self) -> int:
        """An fd that becomes readable when the build is cancelled (for poll)."""
        return self._cancel_r

    def cancel(self) -> None:
        """Stop every stage: running RUN steps are killed, no new step starts."""
        if not self._cancel.is_set():
            self._cancel.set()
            with contextlib.suppress(OSError):
                os.write(self._cancel_w, b"x")

    def check_cancelled(self) -> None:
        """Raise :class:`BuildCancelled` once the build is cancelled."""
        if self._cancel.is_set():
            raise BuildCancelled()

    # -- helpers the steps use ------------------------------------------------------------

    def created(self, state: StageState) -> str:
        """The time a metadata step records: the stage's latest (stable on a rebuild)."""
        if self.epoch is not None:
            return now_stamp(self.epoch)
        return state.created or now_stamp(None)

    def reuse(self, state: StageState, key: str, created_by: str, step: Step | None) -> bool:
        """Put the cached layer of ``key`` on ``state`` if there is one (not with no_cache)."""
        if self.no_cache:
            return False
        entry = self.cache.get(key)
        if entry is None:
            return False
        state.add_layer((entry.layer, entry.diff_id), key)
        state.add_history(
            created_by, empty_layer=False, created=entry.created or self.created(state)
        )
        if step is not None:
            step.cached()
        return True

    def commit_layer(self, state: StageState, key: str, created_by: str, upper: str) -> None:
        """The changes in ``upper`` as the stage's next layer, cached under ``key``."""
        created = now_stamp(self.epoch)
        with self.store.content.lock():
            layer = write_layer(self.store, upper, mtime_max=self.epoch)
            self.cache.put(key, layer[0], layer[1], created)
        state.add_layer(layer, key)
        state.add_history(created_by, empty_layer=False, created=created)

    def cache_mount_dir(self, ident: str, *, mode: int, uid: int, gid: int) -> Path:
        """The host directory of ``RUN --mount=type=cache,id=ident`` (kept across builds)."""
        path = Path(self.data_root, "build", "cache-mounts",
                    hashlib.sha256(ident.encode()).hexdigest()[:32])  # fmt: skip
        if not path.is_dir():
            path.mkdir(parents=True, mode=0o700, exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        return path

    def source_layers(self, inst: Instruction, origin: str) -> list[tuple[Descriptor, Digest]]:
        """The layers of ``--from=origin``: an earlier stage's, or a local image's."""
        stage = self.dockerfile.stage(origin)
        if stage is not None:
            return list(self.results[stage.index].layers)
        image = self._image(origin, inst.line, what=f"{inst.cmd} --from={origin}")
        return list(zip(image.layers, image.diff_ids, strict=True))

    # -- planning -------------------------------------------------------------------------

    def _global_args(self) -> dict[str, str]:
        env = platform_args(self.platform)
        for inst in self.dockerfile.global_args:
            for word in inst.args:
                name, eq, default = word.partition("=")
                self.declared_args.add(name)
                if name in self.build_args:
                    env[name] = self.build_args[name]
                elif eq:
                    env[name] = self._expand(default, env, inst.line)
        return env

    def _expand(self, word: str, env: Mapping[str, str], line: int) -> str:
        try:
            return expand_word(word, env, escape=self.dockerfile.escape, used=self.used_args)
        except ExpandError as exc:
            raise BuildError(exc.reason, dockerfile=self.dockerfile.path, line=line) from None

    def _base(self, stage: Stage) -> str:
        return self._expand(stage.base, self.global_args, stage.line)

    def _check_platform(self, stage: Stage) -> None:
        """``FROM --platform=P`` (``$BUILDPLATFORM``... expanded): only this host's."""
        if not stage.platform:
            return
        wanted = self._expand(stage.platform, self.global_args, stage.line)
        here = self.global_args["TARGETPLATFORM"]
        if _normal_platform(wanted) != _normal_platform(here):
            raise BuildError(f"FROM --platform={wanted}: this host builds only {here} (there "
                             "is no emulation of other platforms here)",
                             dockerfile=self.dockerfile.path, line=stage.line)  # fmt: skip

    def _deps(self, stage: Stage) -> set[int]:
        from pycontainers.builder.execute import check_run, parse_mount

        deps: set[int] = set()

        def ref(name: str, inst_line: int, what: str) -> None:
            other = self.dockerfile.stage(name)
            if other is not None and other.index != stage.index:
                deps.add(other.index)
            elif other is None:
                self._image(name, inst_line, what=what)  # a local image, else an error now
            else:
                raise BuildError(f"{what}: a stage cannot use itself",
                                 dockerfile=self.dockerfile.path, line=inst_line)  # fmt: skip

        base = self._base(stage)
        base_stage = self.dockerfile.stage(base)
        if base_stage is not None and base_stage.index < stage.index:
            deps.add(base_stage.index)
        for inst in stage.instructions:
            origin = inst.flag("from")
            if inst.cmd == "COPY" and origin:
                ref(self._expand(origin, self.global_args, inst.line), inst.line,
                    f"COPY --from={origin}")  # fmt: skip
            if inst.cmd == "RUN":
                check_run(self, inst)
                for m in inst.flag_values("mount"):
                    mount_from = parse_mount(m).get("from")
                    if mount_from:
                        ref(mount_from, inst.line, f"RUN --mount from={mount_from}")
        return deps

    def plan(self) -> list[Stage]:
        """The stages the target needs, each after the ones it uses."""
        stages = self.dockerfile.stages
        if self.target:
            target = self.dockerfile.stage(self.target)
            if target is None:
                raise BuildError(f"target stage {self.target!r} could not be found")
        else:
            target = stages[-1]
        order: list[Stage] = []
        visiting: set[int] = set()

        def visit(s: Stage) -> None:
            if any(o.index == s.index for o in order):
                return
            if s.index in visiting:
                raise BuildError(f"stage {s.label} depends on itself",
                                 dockerfile=self.dockerfile.path, line=s.line)  # fmt: skip
            visiting.add(s.index)
            self._check_platform(s)
            self.deps[s.index] = self._deps(s)
            for d in sorted(self.deps[s.index]):
                visit(stages[d])
            visiting.discard(s.index)
            order.append(s)

        visit(target)
        return order

    # -- running --------------------------------------------------------------------------

    def _image(self, ref: str, line: int, *, what: str) -> Image:
        try:
            return self.store.get(ref)
        except ImageNotFound:
            pass
        except PyContainersError as exc:
            raise BuildError(f"{what}: {exc}", dockerfile=self.dockerfile.path, line=line) from None
        try:
            return self.store.pull(ref, retries=0, timeout=20.0)
        except (PyContainersError, OSError) as exc:
            raise BuildError(
                f"{what}: no stage or local image named {ref!r}, and pulling it failed: {exc}",
                dockerfile=self.dockerfile.path,
                line=line,
            ) from None

    def build_stage(self, stage: Stage) -> StageState:
        """Run one stage's instructions; its final state."""
        base = self._base(stage)
        steps = [i for i in stage.instructions if i.cmd in _LAYER_STEPS]
        total = len(steps) + 1
        label = f"{stage.name} " if stage.name else ""
        step = self.progress.step(f"[{label}1/{total}] FROM {base}")
        source = self.dockerfile.stage(base)
        if base == "scratch":
            state = StageState.scratch(
                self.platform, step_key("", "FROM scratch", str(self.platform))
            )
        elif source is not None and source.index < stage.index:
            state = copy.deepcopy(self.results[source.index])
            state.args = {}
            state.cmd_set = False
        else:
            image = self._image(base, stage.line, what=f"FROM {base}")
            state = StageState.of_image(image, step_key("", "FROM", str(image.digest)))
        step.done()
        triggers = state.config.pop("OnBuild", None) or []
        instructions = [*self._triggers(triggers, stage.line), *stage.instructions]
        n = 1
        for inst in instructions:
            self.check_cancelled()
            if inst.cmd in _LAYER_STEPS:
                n += 1
                title = " ".join(inst.original.split("\n", 1)[0].split())
                step = self.progress.step(f"[{label}{n}/{total}] {title}")
                try:
                    self._dispatch(inst, state, step)
                except BuildCancelled:
                    step.canceled()
                    raise
                except BuildError as exc:
                    step.error(exc.reason.splitlines()[0])
                    raise
                if not step.finished:
                    step.done()
            else:
                METADATA[inst.cmd](self, inst, state)
        return state

    def _triggers(self, triggers: list[str], line: int) -> list[Instruction]:
        import attrs

        if not triggers:
            return []
        parsed = parse_dockerfile("FROM scratch\n" + "\n".join(triggers), self.dockerfile.path)
        return [attrs.evolve(i, line=line) for i in parsed.stages[0].instructions]

    def _dispatch(self, inst: Instruction, state: StageState, step: Step) -> None:
        from pycontainers.builder.execute import run_instruction
        from pycontainers.builder.files import copy_instruction, workdir_instruction

        handlers: dict[str, Callable[[Builder, Instruction, StageState, Step], None]] = {
            "RUN": run_instruction,
            "COPY": copy_instruction,
            "ADD": copy_instruction,
            "WORKDIR": workdir_instruction,
        }
        handlers[inst.cmd](self, inst, state, step)

    def run(self) -> tuple[StageState, Stage]:
        """Build every stage the target needs; the target's state and stage."""
        self.progress.emit(
            f"#0 [internal] load build definition from {Path(self.context.dockerfile_name).name}"
        )
        order = self.plan()
        if len(order) == 1:
            self.results[order[0].index] = self.build_stage(order[0])
        else:
            self._build_concurrently(order)
        unused = sorted(set(self.build_args) - self.declared_args)
        if unused:
            self.progress.emit(f"[Warning] One or more build-args {unused} were not consumed")
        return self.results[order[-1].index], order[-1]

    def _build_concurrently(self, order: list[Stage]) -> None:
        """Build the stages on a thread pool, each once the stages it uses are built; the
        first failure cancels the others (their RUN containers are killed) and is raised
        after every stage has stopped.
        """
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        pending = {s.index: s for s in order}
        running: dict[Future[StageState], Stage] = {}
        failure: BaseException | None = None
        with ThreadPoolExecutor(len(order), thread_name_prefix="build-stage") as pool:
            try:
                while pending or running:
                    for index, stage in list(pending.items()):
                        if self.deps[index] <= self.results.keys():
                            running[pool.submit(self.build_stage, stage)] = stage
                            del pending[index]
                    finished, _ = wait(running, SIGNAL_CHECK, return_when=FIRST_COMPLETED)
                    for future in finished:
                        stage = running.pop(future)
                        exc = future.exception()
                        if exc is None:
                            self.results[stage.index] = future.result()
                        else:  # the first real error wins over the cancellations it caused
                            if failure is None or (isinstance(failure, BuildCancelled)
                                                   and not isinstance(exc, BuildCancelled)):  # fmt: skip
                                failure = exc
                            self.cancel()
                            pending.clear()
            except BaseException:  # SIGINT while waiting: stop the stages, then re-raise
                self.cancel()
                wait(running)
                raise
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Remove the build's scratch directories."""
        os.close(self._cancel_r)
        os.close(self._cancel_w)
        self.workspace.close()
