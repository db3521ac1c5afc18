"""Metric learning, retrieval and verification (week 9): the recipe of face recognition
(FaceNet, Schroff et al., 2015; ArcFace, Deng et al., 2019) applied to digits.

An embedding network maps each image to a unit vector; a loss makes vectors of the same identity
(here: the same digit class) close and of different identities far. Then *retrieval* ranks a gallery
by distance to a query (Recall@k), and *verification* says "same" when two vectors are closer than
a threshold chosen on validation pairs (an ROC curve).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.env import model_device
from utils.training import optimizer_step


def _check_embeddings(embeddings: torch.Tensor, labels: torch.Tensor, name: str = "embeddings") -> None:
    if not isinstance(embeddings, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} and labels must be tensors")
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise ValueError(
            f"{name} must be (N, D) with one label each, got {tuple(embeddings.shape)}, {tuple(labels.shape)}"
        )


def batch_hard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float = 0.2) -> torch.Tensor:
    """Triplet loss with batch-hard mining (Hermans et al., 2017): for each anchor, its farthest
    positive and its nearest negative in the batch, ``max(0, d(a, p) - d(a, n) + margin)``, averaged.
    Distances are Euclidean between the rows of ``embeddings``; anchors with no positive or no negative
    in the batch are skipped."""
    _check_embeddings(embeddings, labels)
    distances = torch.cdist(embeddings, embeddings)
    same = labels.view(-1, 1) == labels.view(1, -1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    positive = same & ~eye
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(1)
    hardest_negative = distances.masked_fill(same, float("inf")).amin(1)
    valid = positive.any(1) & (~same).any(1)
    if not bool(valid.any()):
        raise ValueError("the batch needs at least one anchor with a positive and a negative")
    return F.relu(hardest_positive[valid] - hardest_negative[valid] + margin).mean()


class ArcFaceHead(nn.Module):
    """ArcFace's additive angular margin (Deng et al., 2019): one unit vector ``W_c`` per identity;
    the logit of the true class is ``s cos(theta + m)``, the others ``s cos(theta)``, where theta is the
    angle between the (normalised) embedding and ``W_c``. Cross-entropy on these logits."""

    def __init__(self, dim: int, num_classes: int, scale: float = 16.0, margin: float = 0.3) -> None:
        super().__init__()
        if scale <= 0 or not 0 <= margin < math.pi / 2:
            raise ValueError(f"scale must be > 0 and margin in [0, pi/2), got {scale}, {margin}")
        self.weight = nn.Parameter(torch.randn(num_classes, dim) * 0.01)
        self.scale, self.margin = scale, margin

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The ArcFace loss of a batch (a scalar)."""
        _check_embeddings(embeddings, labels)
        cosine = F.normalize(embeddings, dim=1) @ F.normalize(self.weight, dim=1).T
        theta = torch.acos(cosine.clamp(-1 + 1e-6, 1 - 1e-6))
        true = F.one_hot(labels, self.weight.shape[0]).bool()
        logits = torch.where(true, torch.cos(theta + self.margin), cosine) * self.scale
        return F.cross_entropy(logits, labels)


def train_embedding(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    loss: str = "triplet",
    seconds: float = 60.0,
    max_steps: int | None = None,
    classes_per_batch: int = 10,
    per_class: int = 16,
    lr: float = 2e-3,
    margin: float = 0.2,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Train an embedding ``model`` (images -> vectors) with ``loss="triplet"`` (batch-hard) or
    ``"arcface"``, on class-balanced batches (``per_class`` images of each of ``classes_per_batch``
    classes, so every anchor has positives). Stops after ``seconds`` (or ``max_steps``). Returns the
    per-step history ``step, loss, seconds``."""
    if loss not in ("triplet", "arcface"):
        raise ValueError(f"loss must be 'triplet' or 'arcface', got {loss!r}")
    _check_embeddings(images.flatten(1), labels, "images")
    if seconds <= 0 and max_steps is None:
        raise ValueError("give a positive time budget in seconds, or max_steps")
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    by_class = [torch.nonzero(labels == c).flatten() for c in classes]
    head = ArcFaceHead(getattr(model, "dim", 64), int(labels.max()) + 1).to(device) if loss == "arcface" else None
    parameters = list(model.parameters()) + (list(head.parameters()) if head is not None else [])
    optimizer = torch.optim.Adam(parameters, lr=lr)
    rows = []
    start = time.perf_counter()
    bar = tqdm(total=max_steps, desc=f"embedding ({loss})", disable=not progress)
    model.train()
    step = 0
    while max_steps is None or step < max_steps:
        if max_steps is None and time.perf_counter() - start >= seconds:
            break
        chosen = torch.randperm(len(classes), generator=generator)[:classes_per_batch]
        index = torch.cat(
            [by_class[c][torch.randint(0, len(by_class[c]), (per_class,), generator=generator)] for c in chosen]
        )
        embeddings = model(images[index].to(device))
        batch_labels = labels[index].to(device)
        if head is None:
            value = batch_hard_triplet_loss(F.normalize(embeddings, dim=1), batch_labels, margin)
        else:
            value = head(embeddings, batch_labels)
        optimizer_step(value, optimizer, where=f" (the {loss} loss)")
        step += 1
        rows.append({"step": step, "loss": value.item(), "seconds": time.perf_counter() - start})
        bar.update(1)
    bar.close()
    model.eval()
    return pd.DataFrame(rows)


def recall_at_k(
    queries: torch.Tensor,
    query_labels: torch.Tensor,
    gallery: torch.Tensor,
    gallery_labels: torch.Tensor,
    ks: Sequence[int] = (1, 5),
    exclude_self: bool = False,
) -> dict[int, float]:
    """Share of queries with at least one item of their own label among the ``k`` nearest gallery
    items (Euclidean distance), for each ``k``. ``exclude_self=True`` when the queries *are* the gallery
    (same order): an item is not its own match."""
    _check_embeddings(queries, query_labels, "queries")
    _check_embeddings(gallery, gallery_labels, "gallery")
    if queries.shape[1] != gallery.shape[1]:
        raise ValueError(f"queries and gallery differ in dimension: {queries.shape[1]} and {gallery.shape[1]}")
    if exclude_self and len(queries) != len(gallery):
        raise ValueError("exclude_self needs the queries to be the gallery")
    largest = max(ks) if ks else 0
    if not ks or any(not isinstance(k, int) or k < 1 for k in ks) or largest > len(gallery) - int(exclude_self):
        raise ValueError(f"each k must be an int in [1, {len(gallery) - int(exclude_self)}], got {list(ks)}")
    distances = torch.cdist(queries, gallery)
    if exclude_self:
        distances.fill_diagonal_(float("inf"))
    nearest = distances.topk(largest, dim=1, largest=False).indices
    hits = gallery_labels[nearest] == query_labels.view(-1, 1)
    return {k: float(hits[:, :k].any(1).float().mean()) for k in ks}


def verification_pairs(
    labels: torch.Tensor, n_pairs: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_pairs`` random pairs of distinct indices, half of the same label and half of different
    labels: returns ``(first, second, same)`` (``same`` a bool tensor)."""
    if labels.ndim != 1 or len(labels.unique()) < 2:
        raise ValueError("labels must be 1-D with at least two different labels")
    if not isinstance(n_pairs, int) or n_pairs < 2:
        raise ValueError(f"n_pairs must be an int >= 2, got {n_pairs!r}")
    firsts: list[int] = []
    seconds: list[int] = []
    sames: list[bool] = []
    want_same = n_pairs // 2
    while len(firsts) < n_pairs:
        a = torch.randint(0, len(labels), (4 * n_pairs,), generator=generator)
        b = torch.randint(0, len(labels), (4 * n_pairs,), generator=generator)
        same = labels[a] == labels[b]
        for wanted, mask in ((True, same & (a != b)), (False, ~same)):
            have = sum(1 for s in sames if s == wanted)
            need = (want_same if wanted else n_pairs - want_same) - have
            if need > 0:
                idx = torch.nonzero(mask).flatten()[:need]
                firsts += a[idx].tolist()
                seconds += b[idx].tolist()
                sames += [wanted] * len(idx)
    return torch.tensor(firsts), torch.tensor(seconds), torch.tensor(sames)


def roc_curve(distances: torch.Tensor, same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """ROC of the rule "same if distance <= threshold": ``(false_positive_rate, true_positive_rate,
    thresholds, auc)``, thresholds in increasing order (one per distinct distance, plus -inf)."""
    if distances.ndim != 1 or same.shape != distances.shape or same.dtype != torch.bool:
        raise ValueError("distances must be 1-D with one bool 'same' per pair")
    if not bool(same.any()) or bool(same.all()):
        raise ValueError("need both same and different pairs")
    order = torch.argsort(distances)
    d, s = distances[order].double(), same[order]
    tp = torch.cumsum(s.double(), 0)
    fp = torch.cumsum((~s).double(), 0)
    last = torch.ones(len(d), dtype=torch.bool)
    last[:-1] = d[1:] != d[:-1]  # the end of each run of equal distances
    tpr = torch.cat([torch.zeros(1, dtype=torch.float64), tp[last] / tp[-1]])
    fpr = torch.cat([torch.zeros(1, dtype=torch.float64), fp[last] / fp[-1]])
    thresholds = torch.cat([torch.tensor([float("-inf")], dtype=torch.float64), d[last]])
    auc = float(torch.trapezoid(tpr, fpr))
    return fpr, tpr, thresholds, auc


def best_threshold(distances: torch.Tensor, same: torch.Tensor) -> tuple[float, float]:
    """The distance threshold with the highest accuracy of "same if distance <= threshold" on these
    (validation) pairs: ``(threshold, accuracy)``; the midpoint between neighbouring distances."""
    fpr, tpr, thresholds, _ = roc_curve(distances, same)
    positives = float(same.sum())
    negatives = len(same) - positives
    accuracy = (tpr * positives + (1 - fpr) * negatives) / len(same)
    i = int(accuracy.argmax())
    values = torch.sort(distances.double()).values
    above = values[values > thresholds[i]]
    threshold = float(thresholds[i]) if not len(above) else float((thresholds[i].clamp_min(values[0]) + above[0]) / 2)
    return threshold, float(accuracy[i])
