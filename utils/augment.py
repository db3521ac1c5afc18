"""Augmentations that act on a whole batch of image tensors at once (fast on a CPU)."""

from __future__ import annotations

import math

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
