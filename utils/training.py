"""The training loop of the course: ``train_one_epoch``, ``evaluate`` and ``fit`` on top of them.

Shaped after torchvision's ``references/detection/engine.py``: each function reads top to bottom, a
non-finite loss stops the run with a message, evaluation runs under ``torch.inference_mode()``,
and mixed precision is an argument rather than a second copy of the loop.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from utils.env import get_device

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite: training has diverged."""


def _is_classification(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    return outputs.ndim == 2 and targets.ndim == 1 and not targets.is_floating_point()


class _RunningMeans:
    """Sums of loss and correct predictions over an epoch, weighted by batch size."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.correct = 0
        self.count = 0
        self.classification = True

    def update(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        n = len(targets)
        self.loss_sum += loss.item() * n
        self.count += n
        if _is_classification(outputs, targets):
            self.correct += (outputs.argmax(dim=1) == targets).sum().item()
        else:
            self.classification = False

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("the loader yielded no batches")
        metrics = {"loss": self.loss_sum / self.count}
        if self.classification:
            metrics["accuracy"] = self.correct / self.count
        return metrics


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
        if not torch.isfinite(loss):
            raise NonFiniteLossError(
                f"the loss became {loss.item()} at epoch {epoch}, batch {batch_index}: training diverged; "
                "try a smaller learning rate, or check the inputs for NaN values"
            )
        optimizer.zero_grad(set_to_none=True)
        if use_amp:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        running.update(loss.detach(), outputs.detach(), targets)
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
    """Save a training state (model and optimizer state dicts, epoch, history, ...) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (or by ``fit``) onto the CPU."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return torch.load(path, map_location="cpu", weights_only=False)


def _random_states(loader: Any) -> dict[str, Any]:
    states = {"torch": torch.get_rng_state()}
    if isinstance(getattr(loader, "generator", None), torch.Generator):
        states["loader"] = loader.generator.get_state()
    return states


def _restore_random_states(loader: Any, states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "loader" in states and isinstance(getattr(loader, "generator", None), torch.Generator):
        loader.generator.set_state(states["loader"])


def fit(
    model: nn.Module,
    train_loader: Batches,
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
        resume: continue from ``checkpoint_path`` if it exists (same result as never stopping).
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

    rows: list[dict[str, float]] = []
    best_loss, best_state, epochs_without_improvement = math.inf, None, 0
    if resume and Path(checkpoint_path).exists():
        state = load_checkpoint(checkpoint_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        rows, best_loss = state["history"], state["best_loss"]
        epochs_without_improvement = state["epochs_without_improvement"]
        _restore_random_states(train_loader, state["random_states"])
        best_path = Path(checkpoint_path).with_suffix(".best.pt")
        best_state = torch.load(best_path, map_location="cpu") if best_path.exists() else None
    first_epoch = len(rows) + 1

    bar = tqdm(total=(epochs - first_epoch + 1) * len(train_loader), desc=description, disable=not progress)
    for epoch in range(first_epoch, epochs + 1):
        start = time.perf_counter()
        train = train_one_epoch(model, train_loader, optimizer, loss_fn, device, epoch, batch_scheduler, scaler, bar)
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in train.items()}}
        if val_loader is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, val_loader, loss_fn, device).items()})
        row["lr"] = optimizer.param_groups[0]["lr"]
        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step()
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k.startswith(("train_", "val_"))})

        monitored = row.get("val_loss", row["train_loss"])
        if monitored < best_loss:
            best_loss, epochs_without_improvement = monitored, 0
            best_state = copy.deepcopy(model.state_dict())
            if checkpoint_path is not None:
                torch.save(best_state, Path(checkpoint_path).with_suffix(".best.pt"))
        else:
            epochs_without_improvement += 1
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                model=model.state_dict(),
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict() if scheduler is not None else None,
                scaler=scaler.state_dict(),
                history=rows,
                best_loss=best_loss,
                epochs_without_improvement=epochs_without_improvement,
                random_states=_random_states(train_loader),
            )
        if early_stopping_patience is not None and epochs_without_improvement >= early_stopping_patience:
            if best_state is not None:
                model.load_state_dict(best_state)
            break
    bar.close()
    return pd.DataFrame(rows)
