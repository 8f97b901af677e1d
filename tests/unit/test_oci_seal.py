"""``seal``/``digest`` of a stored config: shallow copies, same digests as a deep copy gave."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from pycontainers.oci.config import DIGEST, digest, seal


def _doc() -> dict[str, Any]:
    return {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "env": ["A=1"]},
        "linux": {"seccomp": {"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}},
        "annotations": {"org.example": "x"},
    }


def test_digest_is_the_canonical_json_without_the_digest_annotation() -> None:
    doc = _doc()
    body = copy.deepcopy(doc)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    expected = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    assert digest(doc) == expected
    sealed = seal(doc)
    assert sealed["annotations"][DIGEST] == expected
    assert digest(sealed) == expected  # the annotation itself is left out
    sealed["annotations"]["org.example"] = "edited"
    assert digest(sealed) != expected


def test_seal_leaves_its_input_alone() -> None:
    doc = _doc()
    before = copy.deepcopy(doc)
    sealed = seal(doc)
    assert doc == before
    assert DIGEST not in doc["annotations"]
    assert {k: v for k, v in sealed.items() if k != "annotations"} == {
        k: v for k, v in before.items() if k != "annotations"
    }


def test_seal_without_annotations() -> None:
    doc = {k: v for k, v in _doc().items() if k != "annotations"}
    sealed = seal(doc)
    assert "annotations" not in doc
    assert sealed["annotations"] == {DIGEST: digest(doc)}
