"""The training engine of the course: ``train_one_epoch``, ``evaluate`` and ``fit`` on top of them,
checkpoints with exact resume, and the step-level tools of week 3 (``train_steps``, the learning-rate
range test, schedules).

Shaped after torchvision's ``references/detection/engine.py``: each function reads top to bottom, a
non-finite loss stops the run with a message, evaluation runs under ``torch.inference_mode()``,
and mixed precision is an argument rather than a second copy of the loop.
"""

from __future__ import annotations

import copy
import math
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.env import get_device

LossFn = Callable[[Any, torch.Tensor], torch.Tensor]  # (outputs, targets) -> loss; outputs may be a tuple
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class SizedBatches(Protocol):
    """Batches that also say how many there are, as a ``DataLoader`` or a ``TensorLoader`` does (``len``)."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]: ...

    def __len__(self) -> int: ...


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite: training has diverged."""


def _is_classification(outputs: Any, targets: torch.Tensor) -> bool:
    # outputs can be a tuple (a VAE's reconstruction, mu, logvar): then there is no accuracy
    return (
        isinstance(outputs, torch.Tensor)
        and outputs.ndim == 2
        and targets.ndim == 1
        and not targets.is_floating_point()
    )


class _RunningMeans:
    """Sums of loss and correct predictions over an epoch, weighted by batch size."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0
        self.classification = True

    def update(self, loss: torch.Tensor, outputs: Any, targets: torch.Tensor) -> None:
        n = len(targets)
        self.loss_sum += loss.item() * n
        self.count += n
        if _is_classification(outputs, targets):
            self.correct += (outputs.detach().argmax(dim=1) == targets).sum().item()
        else:
            self.classification = False

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("the loader yielded no batches")
        metrics = {"loss": self.loss_sum / self.count}
        if self.classification:
            metrics["accuracy"] = self.correct / self.count
        return metrics


def optimizer_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None = None, where: str = ""
) -> None:
    """One update from ``loss``: every training loop of the course goes through here.

    A NaN or infinite loss raises :class:`NonFiniteLossError` (``where`` says at which step);
    otherwise the gradients are zeroed, computed and applied, scaled by ``scaler`` when float16
    mixed precision is on (an enabled ``torch.amp.GradScaler``, CUDA only).
    """
    if not torch.isfinite(loss):
        raise NonFiniteLossError(
            f"the loss became {loss.item()}{where}: training diverged; "
            "try a smaller learning rate, or check the inputs for NaN values"
        )
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def train_one_epoch(
    model: nn.Module,
    loader: Batches,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn = nn.functional.cross_entropy,
    device: torch.device | None = None,
    epoch: int = 1,
    batch_scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    progress_bar: tqdm | None = None,
) -> dict[str, float]:
    """Train ``model`` for one pass over ``loader``; return the mean loss (and accuracy).

    ``batch_scheduler`` is stepped after every batch (e.g. ``OneCycleLR``). A ``scaler`` turns on
    float16 mixed precision (CUDA only). A NaN or infinite loss raises :class:`NonFiniteLossError`.
    """
    device = device or get_device()
    use_amp = scaler is not None and scaler.is_enabled()
    model.train()
    running = _RunningMeans()
    for batch_index, (inputs, targets) in enumerate(loader, start=1):
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        optimizer_step(loss, optimizer, scaler, where=f" at epoch {epoch}, batch {batch_index}")
        if batch_scheduler is not None:
            batch_scheduler.step()
        running.update(loss.detach(), outputs, targets)
        if progress_bar is not None:
            progress_bar.update(1)
    return running.result()


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Batches,
    loss_fn: LossFn = nn.functional.cross_entropy,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Mean loss (and accuracy, for classification) of ``model`` over ``loader``, without gradients."""
    device = device or get_device()
    model.eval()
    running = _RunningMeans()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        outputs = model(inputs)
        running.update(loss_fn(outputs, targets), outputs, targets)
    return running.result()


def save_checkpoint(path: Path | str, **state: Any) -> None:
    """Save a training state (model and optimizer state dicts, epoch, history, ...) to ``path``.

    Keep to tensors and plain data (numbers, strings, lists, dicts): :func:`load_checkpoint` refuses
    anything else, because unpickling other objects can run code.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (or by ``fit``) onto the CPU.

    Only tensors and plain data are loaded (``weights_only=True``), so a shared checkpoint cannot run
    code: a file holding other objects raises ``pickle.UnpicklingError``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return _load_weights_only(path)


def _load_weights_only(path: Path) -> Any:
    """``torch.load`` onto the CPU with ``weights_only=True``, saying in our words why a file is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise pickle.UnpicklingError(
            f"{path} is not loaded, for safety: it holds objects other than tensors and plain data "
            "(numbers, strings, lists, dicts), and unpickling them could run code"
        ) from error


def _random_states(loader: Any) -> dict[str, Any]:
    """The CPU, CUDA (when available) and loader random states, as ByteTensors."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if isinstance(getattr(loader, "generator", None), torch.Generator):
        states["loader"] = loader.generator.get_state()
    return states


def _restore_random_states(loader: Any, states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        # a checkpoint from a machine with more GPUs restores the devices this one has
        torch.cuda.set_rng_state_all(states["cuda"][: torch.cuda.device_count()])
    if "loader" in states and isinstance(getattr(loader, "generator", None), torch.Generator):
        loader.generator.set_state(states["loader"])


def _restore_scaler(scaler: torch.amp.GradScaler, state: dict[str, Any]) -> None:
    """Load a GradScaler state, unless it is empty (saved with AMP off, e.g. on the CPU): then keep ``scaler``."""
    if state:
        scaler.load_state_dict(state)


@dataclass
class _Progress:
    """What ``fit`` carries from epoch to epoch besides the weights: the history and early stopping's record."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_loss: float = math.inf
    best_state: dict[str, torch.Tensor] | None = None
    epochs_without_improvement: int = 0
    stopped_early: bool = False

    def record(self, monitored: float, model: nn.Module, best_path: Path | None) -> None:
        """Count an epoch's monitored loss; keep (and save to ``best_path``) the weights when it is the best."""
        if monitored < self.best_loss:
            self.best_loss, self.epochs_without_improvement = monitored, 0
            self.best_state = copy.deepcopy(model.state_dict())
            if best_path is not None:
                torch.save(self.best_state, best_path)
        else:
            self.epochs_without_improvement += 1


def _best_path(checkpoint_path: Path | str) -> Path:
    return Path(checkpoint_path).with_suffix(".best.pt")


def _save_training_state(
    path: Path | str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None,
    scaler: torch.amp.GradScaler,
    progress: _Progress,
    loader: Any,
) -> None:
    """Everything ``fit(resume=True)`` needs to go on as if never stopped; the best weights are in their own file."""
    save_checkpoint(
        path,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict() if scheduler is not None else None,
        scaler=scaler.state_dict(),
        history=progress.history,
        best_loss=progress.best_loss,
        epochs_without_improvement=progress.epochs_without_improvement,
        stopped_early=progress.stopped_early,
        random_states=_random_states(loader),
    )


def _restore_training_state(
    path: Path | str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None,
    scaler: torch.amp.GradScaler,
    loader: Any,
) -> _Progress:
    """Load what :func:`_save_training_state` wrote back into the objects of a fresh run; return the progress."""
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    _restore_scaler(scaler, state["scaler"])
    _restore_random_states(loader, state["random_states"])
    best_path = _best_path(path)
    return _Progress(
        history=state["history"],
        best_loss=state["best_loss"],
        best_state=_load_weights_only(best_path) if best_path.exists() else None,
        epochs_without_improvement=state["epochs_without_improvement"],
        stopped_early=state.get("stopped_early", False),  # absent from checkpoints of older versions
    )


def fit(
    model: nn.Module,
    train_loader: SizedBatches,
    val_loader: Batches | None = None,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: LossFn = nn.functional.cross_entropy,
    scheduler: Any | None = None,
    scheduler_interval: str = "epoch",
    device: torch.device | None = None,
    early_stopping_patience: int | None = None,
    checkpoint_path: Path | str | None = None,
    resume: bool = False,
    amp: bool = True,
    progress: bool = True,
    description: str = "training",
) -> pd.DataFrame:
    """Train ``model`` for up to ``epochs`` epochs and return its history as a DataFrame.

    One row per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``
    (the accuracies for classification only, the ``val_`` columns only with ``val_loader``), ``lr``
    and ``seconds`` (the epoch's wall-clock time).

    Args:
        optimizer: defaults to Adam with learning rate 1e-3.
        scheduler: a learning-rate scheduler, stepped after every epoch, or after every batch when
            ``scheduler_interval="batch"`` (for ``OneCycleLR``).
        early_stopping_patience: stop when the validation loss has not improved for this many
            epochs, and put the best epoch's weights back into ``model``.
        checkpoint_path: save the whole training state there after every epoch; the best model's
            weights go next to it as ``<name>.best.pt``.
        resume: continue from ``checkpoint_path`` if it exists (same result as never stopping: the
            weights, optimizer, scheduler, random states and early stopping's record are restored;
            a run that stopped early stays stopped and gets its best weights back).
        amp: float16 mixed precision when training on CUDA (ignored on the CPU).

    >>> history = fit(model, train_loader, val_loader, epochs=3)
    >>> history[["epoch", "val_accuracy"]]
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path to resume from")
    device = device or get_device()
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=amp and device.type == "cuda")
    batch_scheduler = scheduler if scheduler_interval == "batch" else None
    best_path = _best_path(checkpoint_path) if checkpoint_path is not None else None

    done = _Progress()
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        done = _restore_training_state(checkpoint_path, model, optimizer, scheduler, scaler, train_loader)
    if done.stopped_early:
        if done.best_state is not None:
            model.load_state_dict(done.best_state)
        return pd.DataFrame(done.history)
    first_epoch = len(done.history) + 1

    bar = tqdm(total=(epochs - first_epoch + 1) * len(train_loader), desc=description, disable=not progress)
    for epoch in range(first_epoch, epochs + 1):
        start = time.perf_counter()
        train = train_one_epoch(model, train_loader, optimizer, loss_fn, device, epoch, batch_scheduler, scaler, bar)
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()}}
        if val_loader is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, val_loader, loss_fn, device).items()})
        row["lr"] = float(optimizer.param_groups[0]["lr"])  # a plain float even when the lr is a tensor
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        row["seconds"] = time.perf_counter() - start
        done.history.append(row)
        bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k.startswith(("train_", "val_"))})

        done.record(row.get("val_loss", row["train_loss"]), model, best_path)
        done.stopped_early = (
            early_stopping_patience is not None and done.epochs_without_improvement >= early_stopping_patience
        )
        if checkpoint_path is not None:
            _save_training_state(checkpoint_path, model, optimizer, scheduler, scaler, done, train_loader)
        if done.stopped_early:
            if done.best_state is not None:
                model.load_state_dict(done.best_state)
            bar.total = bar.n  # the bar ends at 100% of the steps run, and says why it ended early
            bar.set_description(f"{description or 'training'} (stopped early at epoch {epoch} of {epochs})")
            break
    bar.close()
    return pd.DataFrame(done.history)


# --------------------------------------------------------------------------------------------------
# Step-level records and the learning-rate range test (week 3)
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
            break  # recorded: a diverging learning rate is a result here, not an error
        optimizer_step(loss, optimizer)
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
            optimizer_step(loss, optimizer)
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
