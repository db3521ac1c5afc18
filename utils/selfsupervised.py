"""Self-supervised contrastive learning (week 9): SimCLR (Chen et al., 2020) on digits without labels,
then what the learned representation is worth with few labels (a linear probe, k nearest neighbours).

Two random views of every image go through the same network; the NT-Xent loss pulls the two views
of one image together and pushes the other ``2N - 2`` images of the batch away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.augment import random_affine
from utils.env import model_device
from utils.training import optimizer_step


def nt_xent_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross-entropy of two views ``(N, D)``, ``z1[i]`` with ``z2[i]``.

    The ``2N`` vectors are normalised; for each, the positive is its other view and the ``2N - 2``
    others are negatives: ``-log exp(s_ip / tau) / sum_(k != i) exp(s_ik / tau)``, averaged over all 2N.
    """
    if not isinstance(z1, torch.Tensor) or not isinstance(z2, torch.Tensor):
        raise TypeError("z1 and z2 must be tensors")
    if z1.ndim != 2 or z1.shape != z2.shape or len(z1) < 2:
        raise ValueError(f"z1 and z2 must both be (N >= 2, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = z @ z.T / temperature
    similarity.fill_diagonal_(float("-inf"))  # a vector is not its own negative
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, positives)


def simclr_views(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One random view of each digit: a strong affine (rotation, zoom, shift), random erasing of a
    patch, and a random contrast; the digit's identity survives, its pixels do not."""
    view = random_affine(images, degrees=20.0, scale=0.25, max_pixels=4.0, generator=generator)
    n, _, h, w = images.shape
    size = 10
    top = torch.randint(0, h - size + 1, (n,), generator=generator)
    left = torch.randint(0, w - size + 1, (n,), generator=generator)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    patch = (rows >= top.view(-1, 1, 1)) & (rows < top.view(-1, 1, 1) + size)
    patch = patch & (cols >= left.view(-1, 1, 1)) & (cols < left.view(-1, 1, 1) + size)
    erase = (torch.rand(n, generator=generator) < 0.5).view(-1, 1, 1) & patch
    view = view.masked_fill(erase.unsqueeze(1).to(view.device), 0.0)
    contrast = (0.6 + 0.4 * torch.rand(n, 1, 1, 1, generator=generator)).to(view.device)
    return view * contrast


def train_simclr(
    model: nn.Module,
    images: torch.Tensor,
    seconds: float,
    batch_size: int = 256,
    lr: float = 2e-3,
    temperature: float = 0.5,
    views: Callable[[torch.Tensor, torch.Generator | None], torch.Tensor] = simclr_views,
    max_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Train ``model`` (images -> projections) with NT-Xent on unlabelled ``images`` in [0, 1] for a
    wall-clock budget of ``seconds`` (or ``max_steps``). Adam with a cosine decay over the budget.
    Returns the per-step history ``step, loss, seconds``."""
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float batch (N, 1, H, W), got {tuple(images.shape)}")
    if seconds <= 0 and max_steps is None:
        raise ValueError("give a positive time budget in seconds, or max_steps")
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-6)
    rows = []
    start = time.perf_counter()
    bar = tqdm(total=max_steps, desc="SimCLR", disable=not progress)
    model.train()
    step = 0
    while max_steps is None or step < max_steps:
        elapsed = time.perf_counter() - start
        if max_steps is None and elapsed >= seconds:
            break
        progress_share = step / max_steps if max_steps else elapsed / seconds
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * min(1.0, progress_share))).item())
        batch = images[torch.randint(0, len(images), (batch_size,), generator=generator)]
        z1 = model(views(batch, generator).to(device))
        z2 = model(views(batch, generator).to(device))
        loss = nt_xent_loss(z1, z2, temperature)
        optimizer_step(loss, optimizer, where=" (the NT-Xent loss)")
        step += 1
        rows.append({"step": step, "loss": loss.item(), "seconds": time.perf_counter() - start})
        bar.update(1)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def embed(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """``model.embed`` (or ``model``) of ``images`` in batches, in evaluation mode, on the CPU."""
    model.eval()
    device = model_device(model)
    fn = getattr(model, "embed", model)
    return torch.cat([fn(images[i : i + batch_size].to(device)).cpu() for i in range(0, len(images), batch_size)])


def knn_predict(
    train_features: torch.Tensor, train_labels: torch.Tensor, features: torch.Tensor, k: int = 5
) -> torch.Tensor:
    """Majority vote of the ``k`` nearest training vectors by cosine similarity (ties: the nearest's class)."""
    if train_features.ndim != 2 or features.ndim != 2 or train_features.shape[1] != features.shape[1]:
        raise ValueError(
            f"features must be (N, D) with the same D, got {tuple(train_features.shape)} and {tuple(features.shape)}"
        )
    if len(train_labels) != len(train_features):
        raise ValueError("one label per training vector")
    if not isinstance(k, int) or not 1 <= k <= len(train_features):
        raise ValueError(f"k must be an int in [1, {len(train_features)}], got {k!r}")
    similarity = F.normalize(features, dim=1) @ F.normalize(train_features, dim=1).T
    nearest = similarity.topk(k, dim=1).indices
    votes = F.one_hot(train_labels[nearest], int(train_labels.max()) + 1).float()
    votes = votes * torch.linspace(1.0, 0.99, k).view(1, k, 1)  # break ties in favour of the nearer
    return votes.sum(1).argmax(1)


def linear_probe(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    val_features: torch.Tensor,
    val_labels: torch.Tensor,
    weight_decays: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
    epochs: int = 300,
    num_classes: int = 10,
) -> tuple[nn.Linear, pd.DataFrame]:
    """A logistic regression on frozen features, its weight decay chosen by validation accuracy.

    Features are standardised with the training set's mean and spread (kept in the returned layer's
    bias and weights). Full-batch Adam for ``epochs`` steps per candidate. Returns the best layer and
    the table ``weight_decay, val_accuracy``.
    """
    if len(train_features) != len(train_labels) or len(val_features) != len(val_labels):
        raise ValueError("one label per feature vector")
    if len(train_features) < 1 or not weight_decays:
        raise ValueError("need training features and at least one weight decay")
    mean = train_features.mean(0)
    std = train_features.std(0, unbiased=False).clamp_min(1e-6) if len(train_features) > 1 else torch.ones_like(mean)
    xs, xv = (train_features - mean) / std, (val_features - mean) / std
    rows, best = [], None
    for decay in weight_decays:
        torch.manual_seed(0)
        layer = nn.Linear(xs.shape[1], num_classes)
        optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2, weight_decay=decay)
        for _ in range(epochs):
            optimizer.zero_grad()
            F.cross_entropy(layer(xs), train_labels).backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = float((layer(xv).argmax(1) == val_labels).float().mean())
        rows.append({"weight_decay": decay, "val_accuracy": accuracy})
        if best is None or accuracy > best[0]:
            best = (accuracy, layer)
    assert best is not None
    layer = best[1]
    with torch.no_grad():  # fold the standardisation into the layer: it then reads raw features
        folded = nn.Linear(xs.shape[1], num_classes)
        folded.weight.copy_(layer.weight / std)
        folded.bias.copy_(layer.bias - (layer.weight * mean / std).sum(1))
    return folded, pd.DataFrame(rows)
