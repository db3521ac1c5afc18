"""Each notebook's key figures, stored as ``<results folder>/<notebook>.json``.

The JSON is a flat object, key to number. Who writes where (:func:`results_dir`):

- the maintainer's full run, ``make notebooks`` (``tools/run_notebooks.py``), sets
  ``COURSE_RESULTS_DIR`` to ``notebooks/results/``: the committed figures, from which the README's
  "Expected results" table and the notebooks' run times are generated;
- a student's full run (``make lab``, Colab) writes to ``notebooks/results/local/`` (git-ignored),
  so a clone stays clean;
- a fast run (``COURSE_FAST=1``, the tests) writes to ``notebooks/results/fast/`` (git-ignored);
- ``COURSE_RESULTS_DIR``, when set, overrides all of these.

Readers of the course's recorded figures (week 13, ``tools/build_docs.py``) read
:func:`course_results_dir`, whoever is running.
"""

from __future__ import annotations

import json
import math
import os
import re
from numbers import Real
from pathlib import Path

import pandas as pd

from utils.env import FAST

RESULTS_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "results"
"""The committed figures of the maintainer's full runs."""
_NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def course_results_dir() -> Path:
    """The committed figures of the maintainer's full runs (``notebooks/results/``), for reading."""
    return RESULTS_DIR


def results_dir() -> Path:
    """Where this run writes: ``$COURSE_RESULTS_DIR``, else ``notebooks/results/fast`` or ``.../local``.

    ``make notebooks`` sets ``COURSE_RESULTS_DIR`` to :func:`course_results_dir`; any other run
    writes to a git-ignored folder: ``fast/`` in fast mode, ``local/`` in full mode.
    """
    override = os.environ.get("COURSE_RESULTS_DIR")
    if override:
        return Path(override)
    return RESULTS_DIR / ("fast" if FAST else "local")


def _results_file(notebook: str, directory: Path | None = None) -> Path:
    if not isinstance(notebook, str) or not _NOTEBOOK_NAME.match(notebook) or notebook.endswith(".ipynb"):
        raise ValueError(f"notebook must be a notebook's stem such as 'week02_cnn_foundations', got {notebook!r}")
    return (directory or results_dir()) / f"{notebook}.json"


def load_results(notebook: str, directory: Path | None = None) -> dict[str, float]:
    """The figures recorded by ``notebook`` so far (an empty dict if none)."""
    path = _results_file(notebook, directory)
    return json.loads(path.read_text()) if path.exists() else {}


def clear_results(notebook: str, directory: Path | None = None) -> None:
    """Forget what ``notebook`` recorded before: a fresh run starts with an empty results file."""
    _results_file(notebook, directory).unlink(missing_ok=True)


def record(notebook: str, key: str, value: float) -> float:
    """Store one key figure of a notebook (e.g. a test accuracy) and return the value.

    >>> record("week02_cnn_foundations", "lenet5_test_accuracy", 0.9921)
    0.9921
    """
    if not isinstance(key, str) or not key.strip():
        raise ValueError(f"key must be a non-empty string, got {key!r}")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"value of {key!r} must be a real number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"value of {key!r} must be finite, got {value}")
    path = _results_file(notebook)
    results = load_results(notebook)
    results[key] = int(value) if isinstance(value, int) else float(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    return value


def results_table(directory: Path | None = None, notebook: str | None = None) -> pd.DataFrame:
    """All recorded figures as a table with columns ``notebook``, ``key``, ``value``."""
    directory = directory or results_dir()
    paths = [_results_file(notebook, directory)] if notebook else sorted(directory.glob("*.json"))
    rows = [
        {"notebook": path.stem, "key": key, "value": value}
        for path in paths
        if path.exists()
        for key, value in json.loads(path.read_text()).items()
    ]
    return pd.DataFrame(rows, columns=["notebook", "key", "value"])


def time_goal(notebook: str, key: str, seconds: float, goal_seconds: float, label: str | None = None) -> bool:
    """Record a duration and its goal, print the one against the other, and return whether the goal was met.

    Stores ``key`` (rounded to 0.1 s) and ``key + "_goal"``; ``tools/run_notebooks.py`` reports the
    goals exceeded. Being slow is never an error: a slower machine gets the same results, later.

    >>> time_goal("week02_cnn_foundations", "lenet5_train_seconds", 211.4, 300, label="LeNet-5 training")
    LeNet-5 training: 211 s, goal ≤ 300 s
    True
    """
    for name, value in (("seconds", seconds), ("goal_seconds", goal_seconds)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value}")
    if isinstance(key, str) and key.endswith("_goal"):
        raise ValueError(f"key names the duration, not its goal: got {key!r}")
    seconds = record(notebook, key, round(float(seconds), 1))
    record(notebook, f"{key}_goal", goal_seconds)
    met = seconds <= goal_seconds  # judged on the recorded figure, as tools/run_notebooks.py judges it
    over = "" if met else " — over the goal on this machine; the results still hold"
    print(f"{label or key}: {format_seconds(seconds)}, goal ≤ {format_seconds(goal_seconds)}{over}")
    return met


def format_seconds(seconds: float) -> str:
    """A duration as the course prints it: ``"211 s"``, or ``"4.2 s"`` under ten seconds."""
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
