"""The segmentation networks of week 5: an FCN (no skips) and a U-Net (skips), sharing one encoder."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.scenes import NUM_SEMANTIC_CLASSES


def conv_block(in_channels: int, out_channels: int, convs: int = 2) -> nn.Sequential:
    """``convs`` times (3x3 convolution, batch norm, ReLU), keeping the spatial size."""
    layers: list[nn.Module] = []
    for k in range(convs):
        layers += [
            nn.Conv2d(in_channels if k == 0 else out_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class _Encoder(nn.Module):
    """Conv blocks separated by 2x2 max pooling: level i works at 1/2^i of the input size."""

    def __init__(self, in_channels: int, channels: Sequence[int]) -> None:
        super().__init__()
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(conv_block(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for level, block in enumerate(self.blocks):
            x = block(F.max_pool2d(x, 2) if level else x)
            features.append(x)
        return features


def _check_channels(channels: Sequence[int]) -> tuple[int, ...]:
    channels = tuple(channels)
    if len(channels) < 2 or not all(isinstance(c, int) and c > 0 for c in channels):
        raise ValueError(f"channels must list at least two positive ints (one per level), got {channels!r}")
    return channels


def _check_input(model: nn.Module, x: torch.Tensor, levels: int) -> None:
    factor = 2 ** (levels - 1)
    if x.ndim != 4 or x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(
            f"{type(model).__name__} expects images (N, C, H, W) with H and W divisible by {factor}, "
            f"got {tuple(x.shape)}"
        )


class SmallFCN(nn.Module):
    """A small fully convolutional network like FCN-32s (Long et al., 2015): no skips, no learned decoder.

    The FCN paper's best model, FCN-8s, adds the class scores of two finer pooling layers (skip
    connections by addition); this one leaves them out, to show what skips and a decoder buy.

    The encoder's coarsest features (1/2^(L-1) of the input size) get a 1x1 convolution that scores
    the classes, and bilinear upsampling brings the scores back to the input size, as the FCN
    paper's final layer does. Whatever the pooling threw away cannot come back: blocky masks.
    """

    def __init__(
        self, channels: Sequence[int] = (16, 32, 64, 128), num_classes: int = NUM_SEMANTIC_CLASSES, in_channels: int = 1
    ) -> None:
        super().__init__()
        self.channels = _check_channels(channels)
        self.encoder = _Encoder(in_channels, self.channels)
        self.coarse_head = nn.Conv2d(self.channels[-1], num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, len(self.channels))
        coarse = self.coarse_head(self.encoder(x)[-1])
        return F.interpolate(coarse, size=x.shape[-2:], mode="bilinear", align_corners=False)


class SmallUNet(nn.Module):
    """A small U-Net (Ronneberger et al., 2015): the FCN's encoder plus a decoder with skip connections.

    At each decoder level the upsampled coarse features (2x2 transposed convolution) are
    concatenated with the encoder's features of the same size, which still know exactly where each
    stroke is. With ``coarse_scores=True`` the FCN's upsampled coarse class scores are added to the
    decoder's fine scores (score fusion, as in FCN-8s): a short path from the loss to the deepest
    features, which learn *which digit* much sooner that way.
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 64, 128),
        num_classes: int = NUM_SEMANTIC_CLASSES,
        in_channels: int = 1,
        coarse_scores: bool = True,
    ) -> None:
        super().__init__()
        self.channels = _check_channels(channels)
        self.encoder = _Encoder(in_channels, self.channels)
        pairs = list(zip(reversed(self.channels[1:]), reversed(self.channels[:-1]), strict=True))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(lo, hi, kernel_size=2, stride=2) for lo, hi in pairs)
        self.decoder = nn.ModuleList(conv_block(2 * hi, hi) for _, hi in pairs)
        self.head = nn.Conv2d(self.channels[0], num_classes, kernel_size=1)
        self.coarse_head = nn.Conv2d(self.channels[-1], num_classes, kernel_size=1) if coarse_scores else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, len(self.channels))
        size = x.shape[-2:]
        *skips, x = self.encoder(x)
        coarse = self.coarse_head(x) if self.coarse_head is not None else None
        for up, block, skip in zip(self.ups, self.decoder, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))  # skip connection: concatenate same-size features
        scores = self.head(x)
        if coarse is not None:
            scores = scores + F.interpolate(coarse, size=size, mode="bilinear", align_corners=False)
        return scores
