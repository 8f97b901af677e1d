"""Puts the repository's notebooks into the site at build time (run by mkdocs-gen-files;
mkdocs-jupyter renders them).

The notebooks in ``notebooks/`` are committed without outputs (their values are one
machine's inodes, bytes and percentages). ``python3 docs/scripts/execute_notebooks.py`` (as
root) runs them into ``build/notebooks/``; when a run's copy is there and not older than its
source, the site shows it, outputs included; otherwise the source notebook (code and prose).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "notebooks"
EXECUTED = ROOT / "build" / "notebooks"


def notebooks() -> dict[str, Path]:
    """``{name: the file to show}`` for every notebook of notebooks/."""
    out = {}
    for src in sorted(SOURCES.glob("*.ipynb")):
        ran = EXECUTED / src.name
        fresh = ran.exists() and ran.stat().st_mtime >= src.stat().st_mtime
        out[src.name] = ran if fresh else src
    return out


def write() -> None:
    """Copy each notebook into the virtual docs/notebooks/."""
    import mkdocs_gen_files

    for name, path in notebooks().items():
        with mkdocs_gen_files.open(f"notebooks/{name}", "wb") as f:
            f.write(path.read_bytes())


if __name__ in ("__main__", "<run_path>"):
    write()
