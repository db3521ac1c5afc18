"""Each notebook's key figures, stored as ``notebooks/results/<notebook>.json``.

The JSON is a flat object, key to number. Full runs write to ``notebooks/results/`` (committed; the
README's "Expected results" table is generated from it); fast runs (``COURSE_FAST=1``) write to
``notebooks/results/fast/`` (git-ignored) so a test run never overwrites the full-run figures.
``COURSE_RESULTS_DIR`` overrides both.
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
_NOTEBOOK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def results_dir() -> Path:
    """Where results are written: ``$COURSE_RESULTS_DIR``, else ``notebooks/results[/fast]``."""
    override = os.environ.get("COURSE_RESULTS_DIR")
    if override:
        return Path(override)
    return RESULTS_DIR / "fast" if FAST else RESULTS_DIR


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
