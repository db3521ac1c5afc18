"""Execute notebooks top to bottom in a fresh kernel and save them with their outputs, in place.

This is "restart and run all" for the committed notebooks: ``make notebooks`` runs it in full mode
(``COURSE_FAST`` unset). Each notebook's wall-clock time is printed.

    python tools/run_notebooks.py notebooks/week01_introduction.ipynb [...]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run_notebook(path: Path) -> float:
    """Run one notebook in place with its folder as working directory; return the seconds taken."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        nbformat.write(nb, path)  # keep the outputs, the error included, so the failure can be read
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    if os.environ.get("COURSE_FAST") == "1":
        print("note: COURSE_FAST=1 is set, so these are fast-mode runs (do not commit them)")
    for name in paths:
        seconds = run_notebook(Path(name))
        print(f"{name}: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
