"""The hybrid backend: v1 hierarchies for the controllers mounted there, the unified (v2) tree
for the rest and for its core files (``cgroup.kill``, ``cgroup.freeze``, ``cgroup.events``).
"""

from __future__ import annotations

import os

from pycontainers._log import get_logger
from pycontainers.cgroups._base import DEFAULT_TIMEOUT, CGroup
from pycontainers.cgroups._errors import CgroupError
from pycontainers.cgroups._layout import CgroupLayout
from pycontainers.cgroups._resources import Resources
from pycontainers.cgroups._v1 import V1CGroup
from pycontainers.cgroups._v2 import V2CGroup

log = get_logger("pycontainers.cgroups")


class HybridCGroup(CGroup):
    """A group on a hybrid host: a :class:`V1CGroup` and a :class:`V2CGroup` at one path.

    A controller mounted as a v1 hierarchy is used there; any other goes to the unified
    tree. Device rules go to both (the v1 controller and a BPF program on the unified
    group). Processes join both. :attr:`v1` and :attr:`v2` give each side on its own.
    """

    kind = "hybrid"

    def __init__(self, path: str, layout: CgroupLayout) -> None:
        super().__init__(path, layout)
        self._v1 = V1CGroup(path, CgroupLayout("v1", layout.v1_hierarchies))
        self._v2 = V2CGroup(path, CgroupLayout("v2", unified=layout.unified))

    @property
    def v1(self) -> V1CGroup:
        """The group's v1 side (every v1 hierarchy)."""
        return self._v1

    @property
    def v2(self) -> V2CGroup:
        """The group's side in the unified tree."""
        return self._v2

    @property
    def paths(self) -> dict[str, str]:
        """The group's directory in each v1 hierarchy, and ``"unified"``."""
        return {**self._v1.paths, **self._v2.paths}

    @property
    def controllers(self) -> frozenset[str]:
        """The controllers of both sides."""
        return self._v1.controllers | self._v2.controllers

    def _sub(self, path: str) -> HybridCGroup:
        return HybridCGroup(path, self._layout)

    def _owner(self, controller: str) -> CGroup | None:
        if controller == "devices":  # both sides: see _apply
            return self
        if controller == "unified":  # the cgroup2 files (support.refusal checked the keys)
            return self._v2
        return self._v1._owner(controller) or self._v2

    def _apply(self, controller: str, res: Resources) -> None:
        """Device rules go to the v1 devices controller if it is mounted and, as a BPF
        program, to the unified group too: every process joins both, and the kernel checks
        both. A program that cannot be attached fails the update only where the unified
        group is the only device control (no v1 devices controller).
        """
        assert controller == "devices", controller  # _owner gives the others to a side
        v1 = "devices" in self._layout.v1
        if v1:
            self._v1._apply(controller, res)
        try:
            self._v2._apply(controller, res)
        except CgroupError as exc:
            if not v1:
                raise
            log.warning("cgroup.device_program_failed", path=self._path, error=str(exc))

    def _make_dirs(self) -> list[str]:
        return self._v1._make_dirs() + self._v2._make_dirs()

    def _freezer(self) -> CGroup:
        return self._v1 if "freezer" in self._layout.v1 else self._v2

    def freeze(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Freeze with the v1 freezer if it is mounted, else with the unified ``cgroup.freeze``."""
        self._freezer().freeze(timeout)

    def thaw(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Thaw what :meth:`freeze` froze."""
        self._freezer().thaw(timeout)

    def is_frozen(self) -> bool:
        """True if the group is frozen (on the side :meth:`freeze` uses)."""
        return self._freezer().is_frozen()

    def kill(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Kill through the unified ``cgroup.kill`` when the kernel has it (every process
        joined the unified group too), then make sure the v1 side is empty.
        """
        if os.path.exists(os.path.join(self._v2.paths["unified"], "cgroup.kill")):
            self._v2.kill(timeout)
        self._v1.kill(timeout)
