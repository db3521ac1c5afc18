"""Experiments (week 3): hyperparameter searches, data splits (hold-out, k-fold, few-shot), summaries
of runs over seeds, and data-pipeline throughput. Every random choice takes an explicit seed."""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch


@dataclass(frozen=True)
class LogUniform:
    """A search-space entry: a float drawn log-uniformly from ``[low, high]`` (for learning rates)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not 0 < self.low < self.high:
            raise ValueError(f"LogUniform needs 0 < low < high, got low={self.low}, high={self.high}")

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))


def _check_space(space: dict[str, Any]) -> None:
    if not isinstance(space, dict) or not space:
        raise ValueError(f"expected a non-empty dict of hyperparameter name -> values, got {space!r}")
    for name, values in space.items():
        if not isinstance(values, (list, tuple, LogUniform)) or (isinstance(values, (list, tuple)) and not values):
            raise TypeError(f"{name!r} must be a non-empty list of choices or a LogUniform, got {values!r}")


def grid_configs(space: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the listed values (a grid search).

    >>> grid_configs({"lr": [0.1, 0.01], "batch_size": [64]})
    [{'lr': 0.1, 'batch_size': 64}, {'lr': 0.01, 'batch_size': 64}]
    """
    _check_space(space)
    if any(isinstance(v, LogUniform) for v in space.values()):
        raise TypeError("a grid needs lists of values; LogUniform ranges are for random_configs")
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*space.values())]


def random_configs(space: dict[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` random configurations: a list entry is a uniform choice, a :class:`LogUniform` a log-uniform float."""
    _check_space(space)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = random.Random(seed)
    return [
        {
            name: values.sample(rng) if isinstance(values, LogUniform) else rng.choice(list(values))
            for name, values in space.items()
        }
        for _ in range(n)
    ]


def _check_size(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"the number of examples must be an int >= 2, got {n!r}")


def train_val_split(n: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``range(n)`` with ``seed`` and cut off ``val_size`` indices for validation."""
    _check_size(n)
    if not isinstance(val_size, int) or not 0 < val_size < n:
        raise ValueError(f"val_size must be an int in [1, {n - 1}], got {val_size!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], order[:val_size]


def kfold_indices(n: int, k: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Split ``range(n)`` (shuffled with ``seed``) into ``k`` folds; return ``(train, validation)`` per fold.

    Every index is in exactly one validation fold; fold sizes differ by at most one.
    """
    _check_size(n)
    if not isinstance(k, int) or not 2 <= k <= n:
        raise ValueError(f"k must be an int in [2, {n}], got {k!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = torch.tensor_split(order, k)
    return [(torch.cat([f for j, f in enumerate(folds) if j != i]), fold) for i, fold in enumerate(folds)]


def few_shot_split(labels: torch.Tensor, shots: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``shots`` random examples of every class for training; the rest is the evaluation set.

    Returns ``(train_indices, rest_indices)``; each class must have more than ``shots`` examples.
    """
    if not isinstance(labels, torch.Tensor) or labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"labels must be a 1-D integer tensor, got {getattr(labels, 'dtype', type(labels))}")
    if not isinstance(shots, int) or shots < 1:
        raise ValueError(f"shots must be a positive int, got {shots!r}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        if len(members) <= shots:
            raise ValueError(f"class {int(label)} has {len(members)} examples, not more than shots={shots}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:shots]])
    train = torch.cat(chosen).sort().values
    rest = torch.ones(len(labels), dtype=torch.bool)
    rest[train] = False
    return train, rest.nonzero().flatten()


def summarize_runs(
    runs: pd.DataFrame, by: str | list[str], metric: str, scale: float = 1.0, digits: int = 2
) -> pd.DataFrame:
    """Mean, standard deviation and count of ``metric`` per group of ``by``, plus a ``mean ± std`` text.

    ``runs`` has one row per run (e.g. one per seed). ``scale=100`` shows accuracies in percent.
    The standard deviation is the sample one (``ddof=1``); it is 0 for a single run.
    """
    if not isinstance(runs, pd.DataFrame):
        raise TypeError(f"runs must be a pandas DataFrame, got {type(runs).__name__}")
    keys = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*keys, metric] if c not in runs.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the runs table (columns: {list(runs.columns)})")
    grouped = runs.groupby(keys, sort=False)[metric]
    table = pd.DataFrame(
        {"mean": grouped.mean() * scale, "std": grouped.std(ddof=1).fillna(0.0) * scale, "runs": grouped.size()}
    )
    table["mean ± std"] = [f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(table["mean"], table["std"], strict=True)]
    return table


def images_per_second(batches: Iterable[Any], max_images: int | None = None, warmup_batches: int = 1) -> float:
    """How many images per second an iterable of batches delivers (the first element of each batch).

    The first ``warmup_batches`` batches are not timed (they pay for starting workers and caches).
    Iteration stops after ``max_images`` timed images, if given.
    """
    if not isinstance(warmup_batches, int) or warmup_batches < 0:
        raise ValueError(f"warmup_batches must be an int >= 0, got {warmup_batches!r}")
    count = 0
    start = time.perf_counter() if warmup_batches == 0 else None
    for index, batch in enumerate(batches):
        if index < warmup_batches:
            if index == warmup_batches - 1:
                start = time.perf_counter()  # the clock starts once the warm-up batches are out
            continue
        count += len(batch[0])
        if max_images is not None and count >= max_images:
            break
    if start is None or count == 0:
        raise ValueError(f"the iterable yielded no batch after the {warmup_batches} warm-up batch(es)")
    return count / (time.perf_counter() - start)
