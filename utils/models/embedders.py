"""Networks that map a digit to a vector (week 9): the encoder shared by SimCLR and metric learning,
and the time-conditioned U-Net of the diffusion model.

``EmbeddingNet`` is a small CNN (week 2's conv blocks) whose output is a vector, not class scores: a
*representation* that a linear probe, a k-NN search or a distance threshold reads. ``TimeUNet`` is
week 5's ``SmallUNet`` built from the same ``conv_block`` s, with the diffusion step ``t`` added to
every block as a learned embedding of its sinusoidal code (Ho et al., 2020).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.models.segmenters import _check_channels, _check_input, conv_block


def _check_digits(model: nn.Module, x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != 1 or not x.is_floating_point():
        raise ValueError(
            f"{type(model).__name__} expects float images (N, 1, H, W), got {getattr(x, 'shape', type(x))}"
        )


class EmbeddingNet(nn.Module):
    """Conv blocks (3x3 conv, batch norm, ReLU, then 2x2 max-pool), global average pooling and a
    linear layer to ``dim`` numbers. ``normalize=True`` puts the vector on the unit sphere (cosine
    geometry, what NT-Xent, triplet and ArcFace losses compare).

    With ``projection > 0`` a second small MLP (SimCLR's projection head) maps the representation to
    ``projection`` numbers for the contrastive loss; :meth:`embed` always returns the representation
    before it, which is what transfers (Chen et al., 2020).

    >>> EmbeddingNet(dim=64)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 64])
    """

    def __init__(
        self, channels: Sequence[int] = (32, 64, 128), dim: int = 64, projection: int = 0, normalize: bool = False
    ) -> None:
        super().__init__()
        self.channels = _check_channels(channels)
        if not isinstance(dim, int) or dim < 1 or not isinstance(projection, int) or projection < 0:
            raise ValueError(f"dim must be a positive int and projection an int >= 0, got {dim!r}, {projection!r}")
        widths = [1, *self.channels]
        self.features = nn.Sequential(
            *(nn.Sequential(conv_block(a, b, convs=1), nn.MaxPool2d(2)) for a, b in itertools.pairwise(widths))
        )
        self.fc = nn.Linear(self.channels[-1], dim)
        self.dim = dim
        self.normalize = normalize
        self.head = None
        if projection:
            self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, projection))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``(N, dim)`` (unit length if ``normalize``), without the projection head."""
        _check_digits(self, x)
        h = self.fc(self.features(x).mean(dim=(2, 3)))
        return F.normalize(h, dim=1) if self.normalize else h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        return h if self.head is None else self.head(h)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal code of integer steps ``t`` ``(N,)`` as ``(N, dim)`` (the Transformer's positions)."""
    if t.ndim != 1:
        raise ValueError(f"t must be a 1-D tensor of steps, got shape {tuple(t.shape)}")
    if not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float().unsqueeze(1) * frequencies.unsqueeze(0)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class _TimeBlock(nn.Module):
    """``conv_block`` with the time embedding added (one number per channel) after its first conv."""

    def __init__(self, in_channels: int, out_channels: int, time_dim: int) -> None:
        super().__init__()
        first, second = conv_block(in_channels, out_channels, convs=1), conv_block(out_channels, out_channels, convs=1)
        self.first, self.second = first, second
        self.time = nn.Linear(time_dim, out_channels)

    def forward(self, x: torch.Tensor, t_embedding: torch.Tensor) -> torch.Tensor:
        h = self.first(x) + self.time(t_embedding)[:, :, None, None]
        return self.second(h)


class TimeUNet(nn.Module):
    """Week 5's U-Net (encoder, 2x2 transposed-conv decoder, skip connections) for diffusion: input a
    noisy image and its step ``t``, output a tensor of the image's shape (the predicted noise).

    The step is coded with :func:`timestep_embedding`, passed through a small MLP, and added to every
    block. Levels of ``channels`` halve the size: 28x28 digits take two or three levels.

    >>> TimeUNet((32, 64))(torch.zeros(2, 1, 28, 28), torch.tensor([0, 999])).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, channels: Sequence[int] = (32, 64, 128), in_channels: int = 1, time_dim: int = 64) -> None:
        super().__init__()
        self.channels = _check_channels(channels)
        self.time_dim = time_dim
        self.time_mlp = nn.Sequential(nn.Linear(time_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        widths = [in_channels, *self.channels]
        self.down = nn.ModuleList(_TimeBlock(a, b, time_dim) for a, b in itertools.pairwise(widths))
        pairs = list(zip(reversed(self.channels[1:]), reversed(self.channels[:-1]), strict=True))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(lo, hi, kernel_size=2, stride=2) for lo, hi in pairs)
        self.up_blocks = nn.ModuleList(_TimeBlock(2 * hi, hi, time_dim) for _, hi in pairs)
        self.head = nn.Conv2d(self.channels[0], in_channels, kernel_size=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, len(self.channels))
        if t.shape != (len(x),):
            raise ValueError(f"t must hold one step per image, shape ({len(x)},), got {tuple(t.shape)}")
        emb = self.time_mlp(timestep_embedding(t, self.time_dim))
        skips = []
        for level, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if level else x, emb)
            skips.append(x)
        x = skips.pop()
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1), emb)
        return self.head(x)
