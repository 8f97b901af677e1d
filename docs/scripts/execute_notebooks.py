"""Run the notebooks of notebooks/ and keep the executed copies in build/notebooks/, for a
site that shows their outputs (``docs/scripts/gen_notebooks.py`` picks them up):

    flock /tmp/pc-tests.lock python3 docs/scripts/execute_notebooks.py && mkdocs build

As root: the notebooks make real namespaces, cgroups and containers. Each runs in a fresh
``python3`` kernel with private state and data roots, in a network namespace of its own (as
tests/notebooks/test_notebooks.py runs them). Needs the test extra (nbclient, ipykernel).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "notebooks"
RUNNER = """
import sys, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: the notebooks make real containers", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    failed = []
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        with tempfile.TemporaryDirectory(prefix="pc-nb-") as work:
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "PYCONTAINERS_STATE": os.path.join(work, "state"),
                "PYCONTAINERS_ROOT": os.path.join(work, "data"),
            }
            netns = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
            argv = [*netns, sys.executable, "-c", RUNNER, str(src), str(OUT / src.name), work]
            print(f"running {src.name}...", file=sys.stderr, flush=True)
            if subprocess.run(argv, env=env, cwd=work).returncode != 0:
                failed.append(src.name)
                (OUT / src.name).unlink(missing_ok=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
