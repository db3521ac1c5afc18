"""Predictions and classification metrics (computed with torchmetrics where it fits)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from typing import Any, overload

import pandas as pd
import torch
from torch import nn
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from utils.env import model_device


def _check_labels(name: str, labels: torch.Tensor, num_classes: int | None = None) -> None:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.ndim != 1 or labels.is_floating_point():
        raise ValueError(f"{name} must be a 1-D integer tensor of class ids, got {labels.dtype} {tuple(labels.shape)}")
    if num_classes is not None and len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes - 1}], got values {labels.min()}..{labels.max()}")


def _check_pair(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None) -> None:
    _check_labels("predictions", predictions, num_classes)
    _check_labels("targets", targets, num_classes)
    if len(predictions) != len(targets):
        raise ValueError(f"predictions and targets differ in length: {len(predictions)} vs {len(targets)}")


@overload
def predict(
    model: nn.Module,
    inputs: torch.Tensor | Iterable,
    batch_size: int = ...,
    device: torch.device | None = ...,
    postprocess: Callable[[torch.Tensor], torch.Tensor] | None = ...,
) -> torch.Tensor: ...


@overload
def predict(
    model: nn.Module,
    inputs: torch.Tensor | Iterable,
    batch_size: int = ...,
    device: torch.device | None = ...,
    *,
    postprocess: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
) -> tuple[torch.Tensor, ...]: ...


@torch.inference_mode()
def predict(
    model: nn.Module,
    inputs: torch.Tensor | Iterable,
    batch_size: int = 1024,
    device: torch.device | None = None,
    postprocess: Callable[[torch.Tensor], torch.Tensor | tuple[torch.Tensor, ...]] | None = None,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """The model's outputs for ``inputs``, computed in batches on the model's device (or ``device``),
    returned on the CPU: the one batched predictor of the course. ``inputs`` is a tensor (cut into
    batches of ``batch_size``) or a ``DataLoader`` (its batches, the images of ``(images, labels)``).

    ``postprocess`` turns each batch's outputs into what is kept (e.g. class ids from logits), on the
    device, before the batches are joined; it may return a tuple of tensors, and ``predict`` then
    returns a tuple. Outputs that hold NaN or infinity raise ``ValueError``: a diverged model gets no
    plausible-looking scores.
    """
    if isinstance(inputs, torch.Tensor):
        batches: Iterable = (inputs[start : start + batch_size] for start in range(0, len(inputs), batch_size))
    elif isinstance(inputs, Iterable) and not isinstance(inputs, (str, bytes)):
        batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in inputs)  # (images, labels)
    else:
        raise TypeError(f"inputs must be a torch.Tensor or a DataLoader of batches, got {type(inputs).__name__}")
    if isinstance(inputs, Sized) and len(inputs) == 0:
        raise ValueError("inputs is empty: nothing to predict")
    device = device or model_device(model)
    model.eval()
    kept: list[tuple[torch.Tensor, ...]] = []
    for batch in batches:
        if not isinstance(batch, torch.Tensor):
            raise TypeError(f"inputs must give batches of tensors, got a {type(batch).__name__}")
        outputs = model(batch.to(device, non_blocking=True))
        _check_finite("the model's outputs", outputs)
        result = postprocess(outputs) if postprocess is not None else outputs
        kept.append(tuple(r.cpu() for r in result) if isinstance(result, tuple) else (result.cpu(),))
    if not kept:
        raise ValueError("inputs gave no batch: nothing to predict")
    joined = tuple(torch.cat(parts) for parts in zip(*kept, strict=True))
    return joined if postprocess is not None and isinstance(result, tuple) else joined[0]


def _check_finite(name: str, values: torch.Tensor) -> None:
    if values.is_floating_point() and not torch.isfinite(values).all():
        bad = int((~torch.isfinite(values)).sum())
        raise ValueError(
            f"{name} hold {bad} NaN or infinite value(s): the model has diverged or its inputs hold NaN; "
            "retrain with a smaller learning rate, or check the inputs"
        )


def accuracy(outputs_or_predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of correct predictions, from class ids ``(N,)`` or from logits ``(N, C)``."""
    predictions = outputs_or_predictions
    if isinstance(predictions, torch.Tensor) and predictions.ndim == 2:
        _check_finite("the logits", predictions)
        predictions = predictions.argmax(dim=1)
    _check_pair(predictions, targets)
    if len(targets) == 0:
        raise ValueError("accuracy of zero examples is undefined")
    return (predictions == targets).float().mean().item()


def confusion_matrix(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``(num_classes, num_classes)``: row = true class, column = predicted class."""
    _check_pair(predictions, targets, num_classes)
    return multiclass_confusion_matrix(predictions, targets, num_classes=num_classes)


def classification_report(
    predictions: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    class_names: list[str] | None = None,
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support as a DataFrame (one row per class)."""
    _check_pair(predictions, targets, num_classes)
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"expected {num_classes} class names, got {len(class_names)}")
    kwargs: dict[str, Any] = {"num_classes": num_classes, "average": "none"}
    return pd.DataFrame(
        {
            "class": class_names if class_names is not None else list(range(num_classes)),
            "precision": multiclass_precision(predictions, targets, **kwargs).cpu().numpy(),
            "recall": multiclass_recall(predictions, targets, **kwargs).cpu().numpy(),
            "f1": multiclass_f1_score(predictions, targets, **kwargs).cpu().numpy(),
            "support": torch.bincount(targets, minlength=num_classes).cpu().numpy(),
        }
    ).set_index("class")


def most_confused_pairs(matrix: torch.Tensor, top: int = 5) -> pd.DataFrame:
    """The ``top`` off-diagonal cells of a confusion matrix: which true class went to which prediction."""
    if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square 2-D confusion matrix, got {getattr(matrix, 'shape', type(matrix))}")
    off_diagonal = matrix.clone()
    off_diagonal.fill_diagonal_(0)
    counts, flat = off_diagonal.flatten().sort(descending=True)
    n = matrix.shape[0]
    rows = [
        {"true": int(i) // n, "predicted": int(i) % n, "count": int(c)}
        for c, i in zip(counts[:top], flat[:top], strict=True)
        if c > 0
    ]
    return pd.DataFrame(rows, columns=["true", "predicted", "count"])


# --------------------------------------------------------------------------------------------------
# Calibration and the most confident mistakes (week 3)
# --------------------------------------------------------------------------------------------------
def _top_probabilities(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidence (largest softmax probability) and correctness (0/1) of each prediction."""
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or not logits.is_floating_point():
        raise ValueError(
            f"expected float logits of shape (N, C), got {getattr(logits, 'dtype', type(logits))} "
            f"{tuple(getattr(logits, 'shape', ()))}"
        )
    _check_labels("targets", targets, logits.shape[1])
    _check_finite("the logits", logits)
    if len(logits) != len(targets) or len(targets) == 0:
        raise ValueError(f"expected as many logits as targets (at least one), got {len(logits)} and {len(targets)}")
    confidences, predictions = logits.detach().float().softmax(dim=1).max(dim=1)
    return confidences.cpu(), (predictions.cpu() == targets.cpu()).float()


def calibration_bins(logits: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> pd.DataFrame:
    """The reliability diagram's numbers: predictions grouped by confidence into ``n_bins`` equal-width bins.

    ``logits`` are the model's outputs ``(N, C)`` (softmax is applied here). A prediction with
    confidence ``p`` falls in bin ``[lower, upper)`` (the last bin includes 1.0). One row per bin:
    ``lower``, ``upper``, ``count``, ``confidence`` (mean confidence), ``accuracy`` (share correct)
    and ``gap`` (accuracy minus confidence; negative means over-confident). Empty bins have NaN
    means. A perfectly calibrated model has accuracy = confidence in every bin.
    """
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    confidences, correct = _top_probabilities(logits, targets)
    edges = torch.linspace(0, 1, n_bins + 1)
    index = (torch.bucketize(confidences, edges, right=True) - 1).clamp(0, n_bins - 1)
    count = torch.bincount(index, minlength=n_bins).double()
    confidence = torch.bincount(index, weights=confidences.double(), minlength=n_bins) / count
    accuracy_ = torch.bincount(index, weights=correct.double(), minlength=n_bins) / count
    return pd.DataFrame(
        {
            "lower": edges[:-1].double().numpy(),
            "upper": edges[1:].double().numpy(),
            "count": count.long().numpy(),
            "confidence": confidence.numpy(),
            "accuracy": accuracy_.numpy(),
            "gap": (accuracy_ - confidence).numpy(),
        }
    )


def expected_calibration_error(logits: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error (Guo et al., 2017): ``sum_b (n_b / N) * |accuracy_b - confidence_b|``.

    Computed from :func:`calibration_bins`, so it is the weighted mean length of the gaps drawn in
    the reliability diagram. 0 is perfect; it agrees with torchmetrics' ``multiclass_calibration_error``
    (which puts a confidence of exactly 1.0 into a bin of its own).
    """
    bins = calibration_bins(logits, targets, n_bins)
    filled = bins[bins["count"] > 0]
    return float((filled["count"] * filled["gap"].abs()).sum() / filled["count"].sum())


def most_confident_mistakes(logits: torch.Tensor, targets: torch.Tensor, top: int = 10) -> pd.DataFrame:
    """The ``top`` wrong predictions the model was most sure of, most confident first.

    Columns: ``index`` (position in the data), ``true``, ``predicted``, ``confidence`` (softmax
    probability of the predicted class) and ``true_probability``. Empty if there is no mistake.
    """
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    _top_probabilities(logits, targets)  # validates
    probabilities = logits.detach().float().softmax(dim=1).cpu()
    targets = targets.cpu()
    confidences, predictions = probabilities.max(dim=1)
    wrong = (predictions != targets).nonzero().flatten()
    order = wrong[confidences[wrong].argsort(descending=True, stable=True)][:top]
    return pd.DataFrame(
        {
            "index": order.numpy(),
            "true": targets[order].numpy(),
            "predicted": predictions[order].numpy(),
            "confidence": confidences[order].numpy(),
            "true_probability": probabilities[order, targets[order]].numpy(),
        }
    )
