"""The course's small networks, and the arithmetic of convolution layers."""

from __future__ import annotations

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
