"""Classifiers: the MLP and the small CNNs of weeks 1-3, and the arithmetic of convolution layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Spatial output size of a convolution or pooling layer along one dimension.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``, the formula in the
    ``torch.nn.Conv2d`` documentation.

    >>> conv_output_size(28, kernel_size=5, padding=2)
    28
    """
    for name, value, minimum in [
        ("size", size, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("dilation", dilation, 1),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    span = dilation * (kernel_size - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"the kernel spans {span} pixels but the padded input has only {size + 2 * padding}")
    return (size + 2 * padding - span) // stride + 1


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a model."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class MLP(nn.Module):
    """A multilayer perceptron for 28x28 images: flatten, hidden ReLU layers, 10 logits."""

    def __init__(self, in_features: int = 28 * 28, hidden: tuple[int, ...] = (256, 128), num_classes: int = 10):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two conv-ReLU-pool blocks and a linear classifier: the first CNN of the course (week 1)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14 -> 7
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(c2 * 7 * 7, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for 28x28 digits, with ReLU and max pooling as used today.

    The 1998 network used scaled tanh and average ("subsampling") pooling on 32x32 inputs; padding
    the first convolution by 2 gives the same 28x28 feature map on MNIST's 28x28 digits.
    Layer sizes are the paper's: C1 6@28x28, S2 6@14x14, C3 16@10x10, S4 16@5x5, F5 120, F6 84, 10.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # C1, S2
            nn.Conv2d(6, 16, kernel_size=5),
            nn.ReLU(),
            nn.MaxPool2d(2),  # C3, S4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),  # C5 (a full connection on 5x5 maps)
            nn.Linear(120, 84),
            nn.ReLU(),  # F6
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"LeNet5 expects images of shape (N, 1, 28, 28), got {tuple(x.shape)}")
        return self.classifier(self.features(x))


class TunableCNN(nn.Module):
    """Conv blocks (conv, [batch norm], ReLU, max-pool) and a classifier with one hidden layer.

    The knobs week 3 turns: widths, kernel size, batch normalisation, dropout. With the defaults
    (``channels=(32, 64)``, 5x5 kernels, no padding) a 28x28 digit goes 28 -> 24 -> 12 -> 8 -> 4.
    ``padding=kernel_size // 2`` keeps each convolution's output the size of its input ("same"), so
    a feature map covers the whole image (what Grad-CAM's upsampling assumes, weeks 8-9).
    ``features`` (the convolutional backbone) and ``classifier`` are separate attributes, so a
    backbone can be frozen and the last layer ``classifier[-1]`` replaced for transfer learning.
    ``channels_last`` stores the weights as NHWC, which makes convolutions on CPUs (oneDNN) and on
    GPU tensor cores faster; the results are the same.

    >>> model = TunableCNN(channels=(16, 32), batch_norm=True, dropout=0.25)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 5,
        padding: int = 0,
        hidden: int = 128,
        batch_norm: bool = True,
        dropout: float = 0.0,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if not channels or any(not isinstance(c, int) or c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"padding must be a non-negative int, got {padding!r}")
        layers: list[nn.Module] = []
        size, width = image_size, in_channels
        for out in channels:
            layers.append(nn.Conv2d(width, out, kernel_size, padding=padding, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            if size + 2 * padding < kernel_size + 1:
                raise ValueError(
                    f"{len(channels)} blocks of {kernel_size}x{kernel_size} convolutions and 2x2 pooling "
                    f"do not fit a {image_size}x{image_size} image"
                )
            size = conv_output_size(size, kernel_size, padding=padding) // 2
            width = out
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(width * size * size, hidden, bias=not batch_norm))
        if batch_norm:
            head.append(nn.BatchNorm1d(hidden))
        head.append(nn.ReLU(inplace=True))
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_classes))
        self.classifier = nn.Sequential(*head)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x))
