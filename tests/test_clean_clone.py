"""A student's clone stays clean: a full-mode run of a notebook modifies no committed file.

Slow (about 40 s on 2 cores): it clones the repository's HEAD and runs week 1 in full mode, as
``make lab`` would, with this interpreter's kernel. Select it with ``-k slow``, skip it with ``-k "not slow"``.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT  # the repository whose HEAD is cloned
NOTEBOOK = "week01_introduction"


def student_environment() -> dict[str, str]:
    """This process's environment as a student's full run has it: no fast mode, no results override,
    and no PYTHONPATH that could import ``utils`` from somewhere other than the clone."""
    return {key: value for key, value in os.environ.items()
            if key not in {"COURSE_FAST", "COURSE_RESULTS_DIR", "PYTHONPATH"}}


def this_python_kernel(folder: Path) -> str:
    """Write a kernel spec that runs this interpreter (the tests' .venv) into ``folder``; return its name.

    ``JUPYTER_PATH`` must include ``folder`` for Jupyter to find it.
    """
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "this interpreter", "language": "python"}
    (folder / "kernels" / "course-test").mkdir(parents=True)
    (folder / "kernels" / "course-test" / "kernel.json").write_text(json.dumps(spec))
    return "course-test"


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.mark.skipif(shutil.which("git") is None or not (SOURCE / ".git").exists(), reason="needs git and a git checkout")
def test_slow_full_run_of_week01_in_a_fresh_clone_leaves_it_clean(tmp_path, monkeypatch):
    clone = tmp_path / "clone"
    git("clone", "--quiet", str(SOURCE), str(clone), cwd=tmp_path)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kernel = this_python_kernel(tmp_path / "jupyter")
    notebooks = clone / "notebooks"
    nb = nbformat.read(notebooks / f"{NOTEBOOK}.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name=kernel).execute(cwd=str(notebooks), env=student_environment())
    # the notebook is not saved: a student's saved notebook is their own change
    assert git("status", "--porcelain", cwd=clone) == "", "a full run changed committed files"
    figures = json.loads((notebooks / "results" / "local" / f"{NOTEBOOK}.json").read_text())
    assert "notebook_seconds" in figures, "the run reached its last cell and recorded there"
