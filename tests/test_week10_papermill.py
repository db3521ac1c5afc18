"""Week 10 runs on a group's own folder through papermill's parameters, and runs the same twice.

The notebook is executed (in fast mode, with small images) on a small generated folder given as
``-p IMAGE_FOLDER``, as a group would run it from the command line; the run must write
``predictions.csv`` for ``PREDICT_FOLDER`` and record its figures. A second run with the same seed,
into a fresh output folder, must record the same figures, apart from times.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "week10_final_project_starter.ipynb"

pytest.importorskip("papermill")


def run_week10(tmp_path: Path, sample: dict[str, Path], name: str) -> tuple[Path, dict[str, float]]:
    import papermill

    output_dir, results = tmp_path / f"{name}_outputs", tmp_path / f"{name}_results"
    parameters = {
        "IMAGE_FOLDER": str(sample["images"]),
        "PREDICT_FOLDER": str(sample["unlabelled"]),
        "OUTPUT_DIR": str(output_dir),
        "IMAGE_SIZE": 48,
        "EPOCHS": 1,
        "BATCH_SIZE": 16,
        "NUM_WORKERS": 2,
    }
    environment = {"COURSE_FAST": "1", "COURSE_RESULTS_DIR": str(results)}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # the kernel inherits them
    try:
        papermill.execute_notebook(
            str(NOTEBOOK),
            str(tmp_path / f"{name}.ipynb"),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(ROOT / "notebooks"),
            progress_bar=False,
        )
    finally:
        for key, value in saved.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)
    return output_dir, json.loads((results / "week10_final_project_starter.json").read_text())


@pytest.fixture(scope="module")
def small_project(tmp_path_factory) -> dict[str, Path]:
    sys.path.insert(0, str(ROOT))
    import utils

    return utils.project.write_sample_project(tmp_path_factory.mktemp("project") / "sample", seed=1, scale=0.2)


def test_papermill_parameters_run_the_notebook_on_a_given_folder_reproducibly(tmp_path, small_project):
    output_dir, figures = run_week10(tmp_path, small_project, "first")
    predictions = pd.read_csv(output_dir / "predictions.csv")
    assert sorted(predictions["path"]) == sorted(p.name for p in small_project["unlabelled"].iterdir())
    assert set(predictions["predicted"]) <= {"digit", "face", "scene"}
    assert (output_dir / "split.csv").exists() and (output_dir / "report" / "report.md").exists()
    assert any(key.startswith("finetune_test_accuracy") for key in figures)

    _, again = run_week10(tmp_path, small_project, "second")
    timeless = {key: value for key, value in figures.items() if "seconds" not in key}
    assert {key: value for key, value in again.items() if "seconds" not in key} == timeless
