"""Predictions and classification metrics (computed with torchmetrics where it fits)."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn
from torchmetrics.functional.classification import (
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

from utils.env import get_device


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


@torch.inference_mode()
def predict(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = 1024, device: torch.device | None = None
) -> torch.Tensor:
    """Return the model's outputs (logits) for ``inputs``, computed in batches, on the CPU."""
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
    if device is None:
        first_parameter = next(model.parameters(), None)
        device = first_parameter.device if first_parameter is not None else get_device()
    model.eval()
    outputs = [model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)]
    return torch.cat(outputs)


def accuracy(outputs_or_predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of correct predictions, from class ids ``(N,)`` or from logits ``(N, C)``."""
    predictions = outputs_or_predictions
    if isinstance(predictions, torch.Tensor) and predictions.ndim == 2:
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
    kwargs = {"num_classes": num_classes, "average": "none"}
    return pd.DataFrame(
        {
            "class": class_names if class_names is not None else list(range(num_classes)),
            "precision": multiclass_precision(predictions, targets, **kwargs).numpy(),
            "recall": multiclass_recall(predictions, targets, **kwargs).numpy(),
            "f1": multiclass_f1_score(predictions, targets, **kwargs).numpy(),
            "support": torch.bincount(targets, minlength=num_classes).numpy(),
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
        for c, i in zip(counts[:top], flat[:top])
        if c > 0
    ]
    return pd.DataFrame(rows, columns=["true", "predicted", "count"])
