"""The detector of week 4: a small CenterNet-style one-stage network."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class TinyCenterNet(nn.Module):
    """A small CenterNet-style one-stage detector for 1-channel images; output stride 4.

    Backbone: conv-BN-ReLU blocks down to stride 8; the stride-8 features, projected by a 1x1
    convolution and upsampled, are added to the stride-4 features (a skip connection, as in a
    feature pyramid). One shared 3x3 head, then one 1x1 convolution gives the output tensor
    ``(N, C + 4, H/4, W/4)``: channels ``0..C-1`` the class heatmaps (logits), ``C..C+1`` the centre
    offsets inside a cell, ``C+2..C+3`` the log width and height in cells.
    """

    stride = 4

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 1):
        super().__init__()
        self.num_classes = num_classes
        w = width
        self.stem = nn.Sequential(_conv_bn_relu(in_channels, w // 2, 2), _conv_bn_relu(w // 2, w))  # stride 2
        self.down4 = nn.Sequential(_conv_bn_relu(w, 2 * w, 2), _conv_bn_relu(2 * w, 2 * w))  # stride 4
        self.down8 = nn.Sequential(
            _conv_bn_relu(2 * w, 4 * w, 2), _conv_bn_relu(4 * w, 4 * w), _conv_bn_relu(4 * w, 4 * w)
        )  # stride 8: each output sees about 60 pixels, more than the largest digit
        self.lateral = nn.Conv2d(4 * w, 2 * w, 1)
        self.fuse = _conv_bn_relu(2 * w, 2 * w)
        self.head = nn.Sequential(_conv_bn_relu(2 * w, 2 * w), nn.Conv2d(2 * w, num_classes + 4, 1))
        output_bias = self.head[-1].bias
        assert isinstance(output_bias, torch.Tensor)  # the Conv2d just above, built with a bias
        with torch.no_grad():  # start every heatmap at p = 0.01: the focal loss is not swamped by background
            output_bias[:num_classes] = -math.log((1 - 0.01) / 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] % 8 or x.shape[-2] % 8:
            raise ValueError(f"expected images (N, C, H, W) with H and W multiples of 8, got {tuple(x.shape)}")
        s4 = self.down4(self.stem(x))
        s8 = self.down8(s4)
        f = self.fuse(s4 + F.interpolate(self.lateral(s8), scale_factor=2.0, mode="nearest"))
        return self.head(f)
