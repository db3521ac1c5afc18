"""The first and last cell of every notebook, and the exercise checker."""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import torch

from utils.env import environment_report, seed_everything
from utils.results import clear_results, record, results_table

_started: dict[str, float] = {}


def start_notebook(notebook: str, seed: int = 0) -> None:
    """Set-up cell: start the notebook's clock, forget its old results, seed everything, print the environment."""
    clear_results(notebook)  # also validates the name
    seed_everything(seed)
    _started[notebook] = time.perf_counter()
    print(environment_report())


def finish_notebook(notebook: str) -> pd.DataFrame:
    """Last cell: record the notebook's run time as ``notebook_seconds`` and return its results table."""
    if notebook not in _started:
        raise RuntimeError(f"start_notebook({notebook!r}) was not called in this session: run the setup cell first")
    record(notebook, "notebook_seconds", round(time.perf_counter() - _started[notebook], 1))
    return results_table(notebook=notebook).drop(columns="notebook").set_index("key")


def check(name: str, answer: Any, expected: Any, atol: float = 1e-6) -> bool:
    """Exercise checker: print whether ``answer`` matches ``expected`` and return True if it does.

    Numbers and tensors are compared with tolerance ``atol``; ``None`` means "not attempted yet".
    """
    if answer is None:
        print(f"⏳ {name}: not attempted yet; replace the None with your answer.")
        return False
    try:
        if isinstance(expected, torch.Tensor) or isinstance(answer, torch.Tensor):
            answer_t, expected_t = torch.as_tensor(answer).float(), torch.as_tensor(expected).float()
            right = answer_t.shape == expected_t.shape and torch.allclose(answer_t, expected_t, atol=atol)
        elif isinstance(expected, float):
            right = math.isclose(float(answer), expected, abs_tol=atol)
        else:
            right = answer == expected
    except (TypeError, ValueError, RuntimeError):
        right = False
    if right:
        print(f"✅ {name}: correct.")
    else:
        shown = answer if not isinstance(answer, torch.Tensor) else f"a tensor of shape {tuple(answer.shape)}"
        print(f"❌ {name}: not yet. Your answer: {shown}. Look at the hint and try again.")
    return bool(right)
