"""What CNN features hold about style (week 9): Gram matrices (Gatys et al., 2015, 2016), texture
synthesis by matching them, and the style transfer that adds a content term.

:func:`synthesize` optimises the *pixels* of an image so that its Gram matrices in a feature network
match a target's (and, with ``content``, its features match a content image's). Offline the feature
network is :class:`RandomFilters`, one layer of random convolution filters (Ustyuzhaninov et al.,
2016); online it can be VGG-19's layers (see the week-9 notebook).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

FeatureFn = Callable[[torch.Tensor], list[torch.Tensor]]


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` feature maps -> ``(N, C, C)`` Gram matrices, ``G_ij = sum_xy F_i F_j / (H W)``:
    which channels fire together, wherever they fire (the position is summed out)."""
    if not isinstance(features, torch.Tensor) or features.ndim != 4:
        raise ValueError(f"features must be (N, C, H, W), got {getattr(features, 'shape', type(features))}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (h * w)


class RandomFilters(nn.Module):
    """One convolution layer of random filters at several sizes, then ReLU (Ustyuzhaninov et al.,
    2016): no training at all. Returns one feature map per filter size (a list, as ``FeatureFn``)."""

    def __init__(self, in_channels: int = 1, sizes: Sequence[int] = (3, 5, 7, 11), per_size: int = 32, seed: int = 0):
        super().__init__()
        if not sizes or any(not isinstance(s, int) or s < 1 or s % 2 == 0 for s in sizes) or per_size < 1:
            raise ValueError(f"sizes must be odd positive ints and per_size >= 1, got {sizes!r}, {per_size!r}")
        generator = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList()
        for size in sizes:
            conv = nn.Conv2d(in_channels, per_size, size, padding=size // 2)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) / (size * in_channels**0.5))
                if conv.bias is not None:
                    conv.bias.zero_()
            conv.requires_grad_(False)
            self.convs.append(conv)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [F.relu(conv(x)) for conv in self.convs]


def synthesize(
    features: FeatureFn,
    style: torch.Tensor,
    steps: int = 200,
    content: torch.Tensor | None = None,
    content_weight: float = 1.0,
    content_layer: int = -1,
    lr: float = 0.05,
    start: torch.Tensor | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Optimise an image (from noise, or ``start``) so that its Gram matrices in ``features`` match
    ``style``'s; with ``content``, add ``content_weight`` times the squared distance of the
    ``content_layer`` features (Gatys et al.'s style transfer). Images ``(1, C, H, W)`` in [0, 1];
    Adam on the pixels, clipped to [0, 1]. Returns the image and the history ``step, loss, seconds``."""
    if style.ndim != 4 or len(style) != 1:
        raise ValueError(f"style must be one image (1, C, H, W), got {tuple(style.shape)}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    shape = content.shape if content is not None else style.shape
    generator = torch.Generator().manual_seed(seed)
    if start is not None:
        image = start.detach().clone()
    else:
        image = (0.5 + 0.1 * torch.randn(shape, generator=generator)).to(style.device)
    image.requires_grad_(True)
    with torch.no_grad():
        style_grams = [gram_matrix(f) for f in features(style)]
        content_target = features(content)[content_layer] if content is not None else None
    optimizer = torch.optim.Adam([image], lr=lr)
    rows, begin = [], time.perf_counter()
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        maps = features(image)
        loss = torch.zeros((), device=image.device)
        for f, g in zip(maps, style_grams, strict=True):
            loss = loss + F.mse_loss(gram_matrix(f), g) / g.pow(2).mean().clamp_min(1e-12)
        if content_target is not None:
            scale = content_target.pow(2).mean()
            loss = loss + content_weight * F.mse_loss(maps[content_layer], content_target) / scale
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
        rows.append({"step": step, "loss": loss.item(), "seconds": time.perf_counter() - begin})
    return image.detach(), pd.DataFrame(rows)
