"""The first and last cell of every notebook, and the exercise checker."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from numbers import Number, Real
from typing import Any

import numpy as np
import pandas as pd
import torch

from utils.env import environment_report, seed_everything
from utils.results import clear_results, record, results_table

_started: dict[str, float] = {}

# float32 round-off, so that an answer computed in float32 matches a float64 expected value
_RTOL = 1e-5


def start_notebook(notebook: str, seed: int = 0) -> None:
    """Set-up cell: start the notebook's clock, forget its old results, seed everything, print the environment.

    The old results are those in ``utils.results_dir()`` (a git-ignored folder unless the maintainer's
    ``make notebooks`` is running), so a student's run never deletes a committed file.
    """
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


def check(name: str, answer: Any, expected: Any, atol: float = 1e-6, hint: str | None = None) -> None:
    """Exercise checker: print whether ``answer`` matches ``expected``, and the hint when it does not.

    ``None`` means "not attempted yet". The verdict is judged by :func:`compare`; the expected value
    (the solution) is never printed. Returns None, so a check on a cell's last line shows only its verdict.
    """
    if answer is None:
        print(f"⏳ {name}: not attempted yet; replace the None with your answer.")
        return
    right, reason = compare(answer, expected, atol)
    if right:
        print(f"✅ {name}: correct.")
        return
    print(f"❌ {name}: not yet: {reason}.")
    if hint:
        print(f"   Hint: {hint}")


def compare(answer: Any, expected: Any, atol: float = 1e-6) -> tuple[bool, str]:
    """Judge ``answer`` against ``expected``: ``(True, "")`` or ``(False, a short reason)``.

    - numbers, numpy arrays and tensors (on any device, of any dtype) compare by value within
      ``atol`` (plus a relative 1e-5 for float32 round-off), after their shapes agree; a NaN in the
      answer where a number is expected is wrong;
    - lists and tuples (``torch.Size`` included) compare item by item, a tuple matching a list;
    - dicts need the same keys, then compare value by value;
    - strings compare ignoring case and surrounding or repeated spaces; booleans must be booleans;
    - anything else compares with ``==``.

    The reason never contains the expected value, only a hint such as an array's expected shape.
    """
    if not isinstance(atol, Number) or isinstance(atol, bool) or not atol >= 0:
        raise ValueError(f"atol must be a number >= 0, got {atol!r}")
    return _compare(answer, expected, float(atol))


def _compare(answer: Any, expected: Any, atol: float) -> tuple[bool, str]:
    if _is_array(answer) or _is_array(expected) or (_is_number(expected) and _is_number(answer)):
        expected_t = _expected_numbers(expected)
        if expected_t is not None:
            return _compare_arrays(answer, expected_t, atol)
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            return False, f"expected True or False, got {_kind(answer)}"
        return (True, "") if bool(answer) == bool(expected) else (False, "the truth value differs")
    if _is_number(expected):
        return False, f"expected a number, got {_kind(answer)}"
    if isinstance(expected, str):
        if not isinstance(answer, str):
            return False, f"expected text (a str), got {_kind(answer)}"
        return (True, "") if _normal_text(answer) == _normal_text(expected) else (False, "the text differs")
    if isinstance(expected, (list, tuple)):
        return _compare_sequences(answer, expected, atol)
    if isinstance(expected, Mapping):
        return _compare_mappings(answer, expected, atol)
    try:
        right = bool(answer == expected)
    except (TypeError, ValueError, RuntimeError):
        return False, f"{_kind(answer)} cannot be compared with {_kind(expected)}"
    return (True, "") if right else (False, "the answer differs")


def _is_array(value: Any) -> bool:
    """A tensor, or a numpy array of numbers or booleans."""
    return isinstance(value, torch.Tensor) or (isinstance(value, np.ndarray) and value.dtype.kind in "biufc")


def _is_number(value: Any) -> bool:
    """An int, float or numpy number; booleans are not numbers here."""
    return isinstance(value, (Number, np.number)) and not isinstance(value, (bool, np.bool_))


def _kind(value: Any) -> str:
    """What a value is, for a message: 'a list of 3 items', 'a str', 'a tensor of shape (2, 3)'."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {_items(len(value))}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _normal_text(text: str) -> str:
    return " ".join(text.split()).casefold()


class _NotNumbers(Exception):
    """A value that cannot be read as numbers; the message says why."""


def _as_cpu_tensor(value: Any) -> torch.Tensor:
    """``value`` as a CPU tensor of float64 (complex128 if complex); raises _NotNumbers if it holds no numbers."""
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            raise _NotNumbers(
                "it is a tensor on the 'meta' device, which holds no values: compute it on the CPU or GPU"
            )
        tensor = value.detach().cpu()
    elif isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in "biufc":
        array = np.asarray(value)
        tensor = torch.from_numpy(array.astype(np.complex128 if array.dtype.kind == "c" else np.float64))
    elif isinstance(value, (list, tuple)):
        items = [_as_cpu_tensor(item) for item in value]
        if len({item.shape for item in items}) > 1:
            raise _NotNumbers("its items have different shapes")
        tensor = torch.stack(items) if items else torch.zeros(0)
    elif isinstance(value, complex):
        tensor = torch.tensor(value)
    elif isinstance(value, (Real, Decimal)):  # int, float, bool, Fraction, Decimal
        tensor = torch.tensor(float(value))
    else:
        raise _NotNumbers(f"it is {_kind(value)}, not numbers")
    return tensor.to(torch.complex128 if tensor.is_complex() else torch.float64)


def _expected_numbers(expected: Any) -> torch.Tensor | None:
    """The expected value as a CPU tensor, or None when it holds other things than numbers (e.g. text)."""
    try:
        return _as_cpu_tensor(expected)
    except _NotNumbers as error:
        if isinstance(expected, torch.Tensor):
            raise ValueError(f"check's expected tensor must hold values, but {error}") from None
        return None


def _compare_arrays(answer: Any, expected: torch.Tensor, atol: float) -> tuple[bool, str]:
    try:
        answer_t = _as_cpu_tensor(answer)
    except _NotNumbers as error:
        return False, f"expected {'a number' if expected.dim() == 0 else 'an array of numbers'}, but {error}"
    if answer_t.shape != expected.shape:
        return False, f"the shape should be {tuple(expected.shape)}, yours is {tuple(answer_t.shape)}"
    if bool((answer_t.isnan() & ~expected.isnan()).any()):
        return False, "your answer contains NaN where a number is expected"
    close = torch.isclose(answer_t, expected, rtol=_RTOL, atol=atol, equal_nan=True)
    if bool(close.all()):
        return True, ""
    if expected.numel() == 1:
        return False, "the value differs"
    wrong = int((~close).sum())
    return False, f"{wrong} of {expected.numel()} values {'is' if wrong == 1 else 'are'} wrong"


def _compare_sequences(answer: Any, expected: list | tuple, atol: float) -> tuple[bool, str]:
    if isinstance(answer, np.ndarray):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)):
        return False, f"expected a list or tuple of {_items(len(expected))}, got {_kind(answer)}"
    if len(answer) != len(expected):
        return False, f"expected {_items(len(expected))}, got {len(answer)}"
    for index, (item, expected_item) in enumerate(zip(answer, expected, strict=True)):
        right, reason = _compare(item, expected_item, atol)
        if not right:
            return False, f"item [{index}]: {reason}"
    return True, ""


def _compare_mappings(answer: Any, expected: Mapping, atol: float) -> tuple[bool, str]:
    if not isinstance(answer, Mapping):
        return False, f"expected a dict of {len(expected)} entries, got {_kind(answer)}"
    missing = [key for key in expected if key not in answer]
    extra = [key for key in answer if key not in expected]
    if missing or extra:
        parts = ([f"{len(missing)} key(s) missing"] if missing else []) + (
            [f"unexpected key(s) {extra}"] if extra else []
        )
        return False, "; ".join(parts)
    for key, expected_value in expected.items():
        right, reason = _compare(answer[key], expected_value, atol)
        if not right:
            return False, f"[{key!r}]: {reason}"
    return True, ""
