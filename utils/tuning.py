"""Training and tuning helpers (week 3): a CNN with the knobs we turn, step-level training records,
the learning-rate range test, schedules, searches, data splits, seed summaries and throughput.

The notebook teaches each idea; this module keeps the reusable form. Everything works on a CPU and
on a GPU, and every random choice takes an explicit seed.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from utils.env import get_device
from utils.models import conv_output_size

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


# --------------------------------------------------------------------------------------------------
# A CNN with the knobs of week 3
# --------------------------------------------------------------------------------------------------
class TunableCNN(nn.Module):
    """Conv blocks (conv, [batch norm], ReLU, max-pool) and a classifier with one hidden layer.

    The knobs week 3 turns: widths, kernel size, batch normalisation, dropout. With the defaults
    (``channels=(32, 64)``, 5x5 kernels, no padding) a 28x28 digit goes 28 -> 24 -> 12 -> 8 -> 4.
    ``padding=kernel_size // 2`` keeps each convolution's output the size of its input ("same"), so
    a feature map covers the whole image (what Grad-CAM's upsampling assumes, weeks 8-9).
    ``features`` (the convolutional backbone) and ``classifier`` are separate attributes, so a
    backbone can be frozen and the last layer ``classifier[-1]`` replaced for transfer learning.
    ``channels_last`` stores the weights as NHWC, which makes convolutions on CPUs (oneDNN) and on
    GPU tensor cores faster; the results are the same.

    >>> model = TunableCNN(channels=(16, 32), batch_norm=True, dropout=0.25)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 5,
        padding: int = 0,
        hidden: int = 128,
        batch_norm: bool = True,
        dropout: float = 0.0,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative int, got {padding!r}")
        layers: list[nn.Module] = []
        size, width = image_size, in_channels
        for out in channels:
            layers.append(nn.Conv2d(width, out, kernel_size, padding=padding, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            if size + 2 * padding < kernel_size + 1:
                raise ValueError(
                    f"{len(channels)} blocks of {kernel_size}x{kernel_size} convolutions and 2x2 pooling "
                    f"do not fit a {image_size}x{image_size} image"
                )
            size = conv_output_size(size, kernel_size, padding=padding) // 2
            width = out
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(width * size * size, hidden, bias=not batch_norm))
        if batch_norm:
            head.append(nn.BatchNorm1d(hidden))
        head.append(nn.ReLU(inplace=True))
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_classes))
        self.classifier = nn.Sequential(*head)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x))


# --------------------------------------------------------------------------------------------------
# Step-level training records and the learning-rate range test
# --------------------------------------------------------------------------------------------------
def _cycle(loader: Batches) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the loader yielded no batches")


def train_steps(
    model: nn.Module,
    loader: Batches,
    optimizer: torch.optim.Optimizer,
    steps: int,
    loss_fn: LossFn = F.cross_entropy,
    scheduler: Any | None = None,
    device: torch.device | None = None,
) -> pd.DataFrame:
    """Train for ``steps`` optimizer steps (cycling over ``loader``) and record every step.

    Returns a DataFrame with columns ``step``, ``loss`` (of the batch, before the update) and ``lr``.
    ``scheduler`` is stepped after every batch. A NaN or infinite loss is recorded and ends the run,
    so a diverging learning rate shows up as a short history whose last loss is not finite.
    Overfitting one batch is ``train_steps(model, [(x, y)], optimizer, 200)``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    device = device or get_device()
    model.to(device).train()
    rows = []
    for step, (inputs, targets) in zip(range(1, steps + 1), _cycle(loader), strict=False):
        inputs, targets = inputs.to(device), targets.to(device)
        lr = optimizer.param_groups[0]["lr"]
        loss = loss_fn(model(inputs), targets)
        rows.append({"step": step, "loss": loss.item(), "lr": lr})
        if not torch.isfinite(loss):
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return pd.DataFrame(rows, columns=["step", "loss", "lr"])


def lr_range_test(
    model: nn.Module,
    loader: Batches,
    optimizer: torch.optim.Optimizer,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    steps: int = 100,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
    loss_fn: LossFn = F.cross_entropy,
    device: torch.device | None = None,
) -> pd.DataFrame:
    """Leslie Smith's learning-rate range test: raise the learning rate exponentially, batch by batch.

    The learning rate goes from ``start_lr`` to ``end_lr`` over ``steps`` batches; the run stops
    early once the smoothed loss exceeds ``diverge_factor`` times its minimum (or is not finite).
    ``model`` and ``optimizer`` are put back as they were afterwards, so real training can follow.

    Returns a DataFrame with columns ``lr``, ``loss`` and ``smoothed_loss`` (an exponential moving
    average with factor ``beta``, bias-corrected as in Adam). Pick a learning rate with
    :func:`suggest_lr`: where the smoothed loss falls fastest, well below where it blows up.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"expected 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    device = device or get_device()
    model.to(device)
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    factor = (end_lr / start_lr) ** (1 / (steps - 1))
    model.train()
    rows, average, best = [], 0.0, math.inf
    try:
        for step, (inputs, targets) in zip(range(steps), _cycle(loader), strict=False):
            lr = start_lr * factor**step
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = inputs.to(device), targets.to(device)
            loss = loss_fn(model(inputs), targets)
            value = loss.item()
            if not math.isfinite(value):
                break
            average = beta * average + (1 - beta) * value
            smoothed = average / (1 - beta ** (step + 1))
            rows.append({"lr": lr, "loss": value, "smoothed_loss": smoothed})
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
    return pd.DataFrame(rows, columns=["lr", "loss", "smoothed_loss"])


def suggest_lr(range_test: pd.DataFrame, method: str = "steepest") -> float:
    """A learning rate read off a :func:`lr_range_test` result.

    ``"steepest"``: where the loss falls fastest per decade of learning rate, before its minimum. The
    raw losses are smoothed here with a centred moving average (window: 5% of the points, at least
    3), which, unlike the test's running average, does not lag behind the learning rate.
    ``"min/10"``: a tenth of the learning rate where the test's smoothed loss is lowest.
    """
    if not isinstance(range_test, pd.DataFrame) or not {"lr", "loss", "smoothed_loss"} <= set(range_test.columns):
        raise ValueError("expected the DataFrame returned by lr_range_test (columns lr, loss and smoothed_loss)")
    if len(range_test) < 3:
        raise ValueError(
            f"the range test has only {len(range_test)} points; run it with more steps or a smaller start_lr"
        )
    lrs = range_test["lr"].to_numpy(dtype=float)
    if method == "min/10":
        return float(lrs[int(np.argmin(range_test["smoothed_loss"].to_numpy(dtype=float)))] / 10)
    if method == "steepest":
        window = max(3, len(range_test) // 20)
        centred = range_test["loss"].rolling(window, center=True, min_periods=1).mean().to_numpy(dtype=float)
        stop = max(int(np.argmin(centred)), 2) + 1
        slopes = np.gradient(centred[:stop], np.log10(lrs[:stop]))
        return float(lrs[int(np.argmin(slopes))])
    raise ValueError(f"method must be 'steepest' or 'min/10', got {method!r}")


def lr_schedule(make_scheduler: Callable[[torch.optim.Optimizer], Any], steps: int, base_lr: float = 0.1) -> np.ndarray:
    """The learning rate a scheduler gives at each of ``steps`` steps, without training anything.

    >>> lr_schedule(lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1), 4, base_lr=1.0)
    array([1.  , 1.  , 0.1 , 0.1 ])
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradient: changes nothing, but keeps the scheduler's order check happy
        scheduler.step()
    return np.round(np.array(lrs, dtype=float), 12)


# --------------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------------
def random_affine(
    images: torch.Tensor,
    degrees: float = 10.0,
    scale: float = 0.1,
    max_pixels: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rotate, scale and shift each image of a batch ``(N, C, H, W)`` by its own random amount.

    Angles are uniform in ``[-degrees, degrees]``, zoom factors in ``[1 - scale, 1 + scale]``,
    shifts in ``[-max_pixels, max_pixels]`` along x and y. Border pixels are repeated (black for
    MNIST). Like :func:`utils.random_translate`, it works on a whole batch at once, so it is a
    ``TensorLoader`` transform: ``TensorLoader(..., transform=random_affine)``.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"expected a float batch of shape (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if degrees < 0 or max_pixels < 0 or not 0 <= scale < 1:
        raise ValueError(
            f"expected degrees >= 0, 0 <= scale < 1, max_pixels >= 0; got {degrees}, {scale}, {max_pixels}"
        )
    n, _, height, width = images.shape
    uniform = lambda *shape: torch.rand(*shape, generator=generator) * 2 - 1  # noqa: E731
    shift = uniform(n, 2) * max_pixels  # drawn first, as in random_translate: same seed, same shifts
    angle = uniform(n) * math.radians(degrees)
    zoom = 1 + uniform(n) * scale
    # affine_grid maps output coordinates to input coordinates, so the inverse zoom goes in theta
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / zoom
    theta[:, 0, 1] = -torch.sin(angle) / zoom
    theta[:, 1, 0] = torch.sin(angle) / zoom
    theta[:, 1, 1] = torch.cos(angle) / zoom
    theta[:, 0, 2] = shift[:, 0] * 2 / width
    theta[:, 1, 2] = shift[:, 1] * 2 / height
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="border")


# --------------------------------------------------------------------------------------------------
# Hyperparameter search
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Splits: train/validation, k folds, few shots per class
# --------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------
# Reporting: several seeds, throughput
# --------------------------------------------------------------------------------------------------
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
