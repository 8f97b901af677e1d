"""The ``rename`` operation: give a container another name (unique under its state root)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pycontainers import _log
from pycontainers.errors import ContainerError
from pycontainers.runtime import state as st

if TYPE_CHECKING:
    from pycontainers.runtime.container import Container

log = _log.get_logger("pycontainers.runtime")


def rename(c: Container, new_name: str) -> None:
    """See :meth:`Container.rename`: the state and the stored spec's launch options both
    carry the name (a later start reads it back), changed under the names lock.
    """
    from pycontainers.runtime.specfile import load_spec, save_spec

    st.check_name(new_name)
    root = os.path.dirname(c.state_dir)
    with st.names_locked(root):
        if new_name == c.name:
            return
        st.check_name_free(root, new_name)
        with st.locked(c.state_dir, create=False):  # with update's and others' spec edits
            try:
                spec, options = load_spec(c.state_dir)
            except ContainerError:
                spec, options = None, {}
            if spec is not None:
                save_spec(c.state_dir, spec, {**options, "name": new_name})
            st.write_state(c.state_dir, st.read_state(c.state_dir).changed(name=new_name))
        old = c.record.name
        c.record.name = new_name
    log.info("container.renamed", id=c.id, name=new_name)
    from pycontainers.events import container_event

    container_event(c, "rename", oldName="/" + old if old else "")


__all__ = ["rename"]
