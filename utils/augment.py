"""Augmentations that act on a whole batch of image tensors at once (fast on a CPU)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_translate(
    images: torch.Tensor, max_pixels: float = 2.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each image of a batch ``(N, C, H, W)`` by its own random offset of up to ``max_pixels``.

    Offsets are drawn uniformly in ``[-max_pixels, max_pixels]`` along x and y; pixels that come in
    from outside repeat the border (black for MNIST). Use as ``TensorLoader(..., transform=random_translate)``.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"expected a float batch of shape (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    if max_pixels < 0:
        raise ValueError(f"max_pixels must be >= 0, got {max_pixels}")
    n, _, height, width = images.shape
    offsets = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_pixels
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    # affine_grid works in [-1, 1] coordinates: one pixel is 2/width (x) or 2/height (y)
    theta[:, 0, 2] = offsets[:, 0] * 2 / width
    theta[:, 1, 2] = offsets[:, 1] * 2 / height
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="border")
