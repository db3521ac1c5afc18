"""Figures the notebooks share: image grids, training curves, confusion matrices, filters, feature maps.

Every function draws into a new figure (or the ``ax`` it is given) and returns the figure, so a
notebook can add to it or save it. Colours are viridis/tab10: readable for colour-blind students
and on a projector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch


def _as_image(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(C, H, W)`` tensor or ``(H, W[, C])`` array -> ``(H, W)`` or ``(H, W, C)`` array for imshow."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3):
        raise ValueError(f"expected one image (H, W), (C, H, W) or (H, W, C), got shape {array.shape}")
    return array


def show_images(
    images: torch.Tensor | Sequence,
    labels: Sequence | None = None,
    predictions: Sequence | None = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
    size: float = 1.4,
) -> plt.Figure:
    """A grid of images, each captioned with its label and, if given, the prediction.

    A wrong prediction is captioned in red as ``pred (true)``; a right one in black.
    """
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and len(values) != n:
            raise ValueError(f"got {n} images but {len(values)} {name}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    caption_room = 0.3 if labels is not None or predictions is not None else 0.0  # so captions never cover images
    height = (size + caption_room) * nrows + (0.4 if title else 0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)

    def caption_of(c: Any) -> str:
        return class_names[int(c)] if class_names is not None else str(int(c))

    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(_as_image(images[i]), cmap=cmap)
        if predictions is not None:
            right = labels is None or int(predictions[i]) == int(labels[i])
            caption = (
                caption_of(predictions[i])
                if right or labels is None
                else f"{caption_of(predictions[i])} ({caption_of(labels[i])})"
            )
            ax.set_title(caption, fontsize=9, color="black" if right else "red")
        elif labels is not None:
            ax.set_title(caption_of(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(
    history: pd.DataFrame, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None
) -> plt.Figure:
    """Training curves from a ``fit`` history: one panel per metric, train and validation lines."""
    if not isinstance(history, pd.DataFrame) or "epoch" not in history:
        raise ValueError("expected the DataFrame returned by utils.fit (with an 'epoch' column)")
    present = [m for m in metrics if f"train_{m}" in history or f"val_{m}" in history]
    if not present:
        raise ValueError(f"none of {list(metrics)} is in the history columns {list(history.columns)}")
    fig, axes = plt.subplots(1, len(present), figsize=(4.5 * len(present), 3.4), squeeze=False)
    for ax, metric in zip(axes.flat, present, strict=True):
        for split, style in (("train", "-o"), ("val", "-s")):
            column = f"{split}_{metric}"
            if column in history:
                ax.plot(history["epoch"], history[column], style, label="validation" if split == "val" else split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    matrix: torch.Tensor | np.ndarray, class_names: Sequence[str] | None = None, title: str = "Confusion matrix"
) -> plt.Figure:
    """Heat map of a confusion matrix (rows: true class, columns: predicted), counts written in cells."""
    counts = matrix.cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {counts.shape}")
    n = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(0.55 * n + 2, 0.55 * n + 1.5))
    shown = ax.imshow(np.log1p(counts), cmap="viridis")
    for i in range(n):
        for j in range(n):
            bright = np.log1p(counts[i, j]) > 0.6 * np.log1p(counts.max())
            ax.text(
                j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7, color="black" if bright else "white"
            )
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    return fig


def plot_filters(weight: torch.Tensor, ncols: int = 8, title: str = "Convolution filters") -> plt.Figure:
    """Show each filter of a conv layer's weight ``(out, in, kH, kW)``; input channels are averaged."""
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(
            f"expected a conv weight of shape (out, in, kH, kW), got {getattr(weight, 'shape', type(weight))}"
        )
    filters = weight.detach().cpu().mean(dim=1).numpy()
    limit = float(np.abs(filters).max()) or 1.0
    n = len(filters)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            shown = ax.imshow(filters[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"#{i}", fontsize=8)
    fig.suptitle(title)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="weight")
    return fig


def plot_feature_maps(
    maps: torch.Tensor, ncols: int = 8, title: str = "Feature maps", max_maps: int = 32
) -> plt.Figure:
    """Show the channels of one image's feature maps ``(C, H, W)`` (or ``(1, C, H, W)``)."""
    if isinstance(maps, torch.Tensor) and maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if not isinstance(maps, torch.Tensor) or maps.ndim != 3:
        raise ValueError(f"expected feature maps of shape (C, H, W), got {getattr(maps, 'shape', type(maps))}")
    arrays = maps.detach().cpu()[:max_maps].numpy()
    n = len(arrays)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.3 * nrows + 0.5), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(arrays[i], cmap="viridis")
            ax.set_title(f"ch {i}", fontsize=8)
    fig.suptitle(f"{title} ({tuple(arrays.shape[1:])} each)")
    fig.tight_layout()
    return fig


def plot_reliability_diagram(
    bins: pd.DataFrame, ece: float | None = None, title: str = "Reliability diagram"
) -> plt.Figure:
    """Accuracy against confidence per bin (from ``utils.calibration_bins``), with how many predictions each bin holds.

    Blue bars are each bin's accuracy, orange lines its mean confidence, the hatched area the gap
    between them. Bars reaching the diagonal mean a calibrated model; bars below it (accuracy lower
    than confidence), an over-confident one. The lower panel counts predictions per bin on a log
    scale (most land in the last bin for a good model), which says how much each bar can be trusted.
    """
    needed = {"lower", "upper", "count", "confidence", "accuracy"}
    if not isinstance(bins, pd.DataFrame) or not needed <= set(bins.columns):
        raise ValueError(f"expected the DataFrame returned by utils.calibration_bins (columns {sorted(needed)})")
    width = (bins["upper"] - bins["lower"]).to_numpy()
    left = bins["lower"].to_numpy()
    filled = (bins["count"] > 0).to_numpy()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.2]})
    accuracy = bins["accuracy"].to_numpy()[filled]
    confidence = bins["confidence"].to_numpy()[filled]
    top.bar(
        left[filled],
        accuracy,
        width=width[filled],
        align="edge",
        color=plt.cm.viridis(0.35),
        edgecolor="black",
        linewidth=0.6,
        label="accuracy in bin",
    )
    top.bar(
        left[filled],
        confidence - accuracy,
        width=width[filled],
        bottom=accuracy,
        align="edge",
        facecolor="none",
        edgecolor="tab:orange",
        hatch="///",
        linewidth=0.8,
        label="gap to mean confidence",
    )
    top.hlines(confidence, left[filled], left[filled] + width[filled], color="tab:orange", linewidth=2)
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.set_ylabel("accuracy")
    top.set_title(title if ece is None else f"{title}\nECE = {100 * ece:.2f}%")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.bar(
        left, bins["count"].to_numpy(), width=width, align="edge", color="gray", edgecolor="black", linewidth=0.6
    )
    bottom.set_yscale("symlog", linthresh=1)
    bottom.set_xlabel("confidence (largest softmax probability)")
    bottom.set_ylabel("predictions")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_as_jpeg(fig: plt.Figure | None = None, quality: int = 80, dpi: float = 100) -> bytes:
    """Show a figure in the notebook as a JPEG (and close it); return the JPEG bytes.

    Photographs and image grids compress about ten times better as JPEG than as PNG, which keeps the
    stored notebook small; use it instead of ``plt.show()`` for figures made of photos.
    """
    from io import BytesIO

    from IPython.display import Image, display

    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be between 1 and 95, got {quality}")
    fig = plt.gcf() if fig is None else fig
    buffer = BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": quality})
    plt.close(fig)
    data = buffer.getvalue()
    display(Image(data=data, format="jpeg"))
    return data
