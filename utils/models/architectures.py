"""Landmark CNN architectures (weeks 6-7), each idea a block of a few lines, in plain PyTorch.

The blocks (``vgg_block``, ``nin_block``, ``Inception``, ``BasicBlock``, ``Bottleneck``, ``DenseBlock``,
``InvertedResidual``, ``SqueezeExcite``, ``MBConv``, ``ConvNeXtBlock``, ``EncoderBlock``) build two
families of networks:

* full-size ImageNet networks (``alexnet``, ``vgg``, ``googlenet``, ``resnet``, ``densenet``,
  ``mobilenet_v2``, ``efficientnet``, ``convnext``, ``vit``) whose parameter counts equal torchvision's
  builders (the tests assert it), meant to be built on the meta device and counted, not trained;
* small networks for 28x28 digits (``small_net``), a few tens of thousands of parameters each, that
  train in seconds on a CPU, and ``deep_net``: a deep stack of basic blocks with or without skips.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def conv_bn(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    activation: type[nn.Module] | None = nn.ReLU,
    eps: float = 1e-5,
) -> nn.Sequential:
    """Convolution (no bias: the batch norm has one) + batch norm + optional activation, 'same' padding."""
    _check_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride)
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels, eps=eps),
    ]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------------------------------
# The blocks, one idea each
# --------------------------------------------------------------------------------------------------
def vgg_block(in_channels: int, out_channels: int, num_convs: int) -> nn.Sequential:
    """VGG (Simonyan & Zisserman 2014): ``num_convs`` 3x3 convolutions with ReLU, then a 2x2 max pool."""
    _check_positive(in_channels=in_channels, out_channels=out_channels, num_convs=num_convs)
    layers: list[nn.Module] = []
    for i in range(num_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


def nin_block(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0
) -> nn.Sequential:
    """Network in Network (Lin et al. 2013): a convolution followed by two 1x1 convolutions (a per-pixel MLP)."""
    _check_positive(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size, stride=stride)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 1), nn.ReLU(),
    )  # fmt: skip


class Inception(nn.Module):
    """GoogLeNet's block (Szegedy et al. 2014): four parallel branches concatenated along the channels.

    1x1 | 1x1 then 3x3 | 1x1 then a larger kernel | 3x3 max pool then 1x1. The 1x1 convolutions cut
    the channels before the costly kernels. ``big_kernel=3`` is what torchvision's GoogLeNet uses.
    """

    def __init__(
        self,
        in_channels: int,
        c1: int,
        c3_reduce: int,
        c3: int,
        c5_reduce: int,
        c5: int,
        pool_proj: int,
        big_kernel: int = 5,
    ):
        super().__init__()
        _check_positive(in_channels=in_channels, c1=c1, c3_reduce=c3_reduce, c3=c3, c5_reduce=c5_reduce, c5=c5,
                        pool_proj=pool_proj)  # fmt: skip
        e = 1e-3  # torchvision's GoogLeNet uses this batch-norm epsilon
        self.branch1 = conv_bn(in_channels, c1, 1, eps=e)
        self.branch2 = nn.Sequential(conv_bn(in_channels, c3_reduce, 1, eps=e), conv_bn(c3_reduce, c3, 3, eps=e))
        self.branch3 = nn.Sequential(
            conv_bn(in_channels, c5_reduce, 1, eps=e), conv_bn(c5_reduce, c5, big_kernel, eps=e)
        )
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), conv_bn(in_channels, pool_proj, 1, eps=e))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class BasicBlock(nn.Module):
    """ResNet's block (He et al. 2015): two 3x3 conv-BN layers plus the input, ``relu(f(x) + x)``.

    A 1x1 convolution matches the shapes when the stride or the width changes. ``skip=False`` drops
    the shortcut: the "plain" network of the degradation experiment.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, skip: bool = True):
        super().__init__()
        self.f = nn.Sequential(
            conv_bn(in_channels, channels, 3, stride), conv_bn(channels, channels, 3, activation=None)
        )
        self.skip = skip
        self.shortcut: nn.Module = nn.Identity()
        if skip and (stride != 1 or in_channels != channels):
            self.shortcut = conv_bn(in_channels, channels, 1, stride, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.f(x) + self.shortcut(x)) if self.skip else torch.relu(self.f(x))


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1 (reduce), 3x3, 1x1 (expand to ``4 * channels``), plus the input."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, skip: bool = True):
        super().__init__()
        out = channels * self.expansion
        self.f = nn.Sequential(
            conv_bn(in_channels, channels, 1),
            conv_bn(channels, channels, 3, stride),
            conv_bn(channels, out, 1, activation=None),
        )
        self.skip = skip
        self.shortcut: nn.Module = nn.Identity()
        if skip and (stride != 1 or in_channels != out):
            self.shortcut = conv_bn(in_channels, out, 1, stride, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.f(x) + self.shortcut(x)) if self.skip else torch.relu(self.f(x))


class DenseBlock(nn.Module):
    """DenseNet's block (Huang et al. 2016): each layer sees the concatenation of all earlier outputs.

    A layer is BN-ReLU-1x1 conv (to ``bn_size * growth`` channels) then BN-ReLU-3x3 conv (to ``growth``);
    the block's output has ``in_channels + num_layers * growth`` channels.
    """

    def __init__(self, in_channels: int, num_layers: int, growth: int, bn_size: int = 4):
        super().__init__()
        _check_positive(in_channels=in_channels, num_layers=num_layers, growth=growth, bn_size=bn_size)
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(in_channels + i * growth),
                nn.ReLU(),
                nn.Conv2d(in_channels + i * growth, bn_size * growth, 1, bias=False),
                nn.BatchNorm2d(bn_size * growth),
                nn.ReLU(),
                nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False),
            )  # fmt: skip
            for i in range(num_layers)
        )
        self.out_channels = in_channels + num_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features, dim=1)


def transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """DenseNet's transition between dense blocks: BN-ReLU-1x1 conv (fewer channels), 2x2 average pool."""
    _check_positive(in_channels=in_channels, out_channels=out_channels)
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.AvgPool2d(2))  # fmt: skip


class InvertedResidual(nn.Module):
    """MobileNetV2's block (Sandler et al. 2018): expand (1x1), depthwise 3x3, project (1x1, linear).

    Thin at the ends, wide in the middle (the reverse of a bottleneck); the skip joins the thin ends
    when the shapes allow. The depthwise convolution (``groups=channels``) filters each channel alone.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand: int = 6):
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels, stride=stride, expand=expand)
        hidden = in_channels * expand
        layers: list[nn.Module] = [conv_bn(in_channels, hidden, 1, activation=nn.ReLU6)] if expand != 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
                   conv_bn(hidden, out_channels, 1, activation=None)]  # fmt: skip
        self.f = nn.Sequential(*layers)
        self.use_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x) if self.use_skip else self.f(x)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2017): rescale each channel by a gate computed from all channels."""

    def __init__(self, channels: int, squeeze_channels: int):
        super().__init__()
        _check_positive(channels=channels, squeeze_channels=squeeze_channels)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(nn.functional.silu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * gate


class MBConv(nn.Module):
    """EfficientNet's block (Tan & Le 2019): an inverted residual with SiLU and squeeze-and-excitation."""

    def __init__(self, in_channels: int, out_channels: int, expand: int, kernel_size: int = 3, stride: int = 1):
        super().__init__()
        _check_positive(in_channels=in_channels, out_channels=out_channels, expand=expand, kernel_size=kernel_size)
        hidden = in_channels * expand
        layers: list[nn.Module] = [conv_bn(in_channels, hidden, 1, activation=nn.SiLU)] if expand != 1 else []
        layers += [
            conv_bn(hidden, hidden, kernel_size, stride, groups=hidden, activation=nn.SiLU),
            SqueezeExcite(hidden, max(1, in_channels // 4)),
            conv_bn(hidden, out_channels, 1, activation=None),
        ]
        self.f = nn.Sequential(*layers)
        self.use_skip = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x) if self.use_skip else self.f(x)


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an ``(N, C, H, W)`` tensor."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block (Liu et al. 2022): a ResNet block modernised like a transformer's.

    Depthwise 7x7, one layer norm, an inverted MLP (1x1 to 4x wider, GELU, back), a learned
    per-channel scale, plus the input.
    """

    def __init__(self, dim: int, kernel_size: int = 7, layer_scale: float = 1e-6):
        super().__init__()
        _check_positive(dim=dim, kernel_size=kernel_size)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dwconv(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return x + self.gamma * y


class EncoderBlock(nn.Module):
    """A transformer encoder block (Vaswani et al. 2017; ViT, Dosovitskiy et al. 2020), pre-norm:

    ``x + attention(norm(x))``, then ``x + mlp(norm(x))``: every token looks at every other token.
    """

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        _check_positive(dim=dim, heads=heads, mlp_dim=mlp_dim)
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.ln_1(x)
        x = x + self.attention(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class ViT(nn.Module):
    """Vision transformer: cut the image into patches, embed each (one strided conv), add a class token
    and learned position embeddings, run encoder blocks, classify from the class token."""

    def __init__(self, image_size: int, patch_size: int, dim: int, depth: int, heads: int, mlp_dim: int,
                 num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.0):  # fmt: skip
        super().__init__()
        _check_positive(image_size=image_size, patch_size=patch_size, depth=depth, in_channels=in_channels)
        if image_size % patch_size:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})")
        self.image_size = image_size
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        tokens = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*[EncoderBlock(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"expected (N, C, {self.image_size}, {self.image_size}) images, got {tuple(x.shape)}")
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)  # (N, tokens - 1, dim)
        tokens = torch.cat([self.class_token.expand(len(x), -1, -1), patches], dim=1) + self.pos_embedding
        return self.head(self.norm(self.blocks(tokens))[:, 0])


def _classifier_head(channels: int, num_classes: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes))


# --------------------------------------------------------------------------------------------------
# Full-size ImageNet networks (same parameter counts as torchvision's builders)
# --------------------------------------------------------------------------------------------------
def alexnet(num_classes: int = 1000) -> nn.Sequential:
    """AlexNet (Krizhevsky et al. 2012) as torchvision has it: ReLU, large kernels and strides, dropout."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(6), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )  # fmt: skip


VGG_CONFIGS = {"vgg11": (1, 1, 2, 2, 2), "vgg13": (2, 2, 2, 2, 2), "vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}


def vgg(convs_per_block: Sequence[int] = VGG_CONFIGS["vgg16"], num_classes: int = 1000) -> nn.Sequential:
    """VGG: five VGG blocks (64, 128, 256, 512, 512 channels) and AlexNet's classifier on 7x7 features."""
    widths = (64, 128, 256, 512, 512)
    if len(convs_per_block) != len(widths):
        raise ValueError(f"convs_per_block needs {len(widths)} entries, got {len(convs_per_block)}")
    blocks = [vgg_block(3 if i == 0 else widths[i - 1], widths[i], n) for i, n in enumerate(convs_per_block)]
    return nn.Sequential(
        *blocks, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
        nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, num_classes),
    )  # fmt: skip


def googlenet(num_classes: int = 1000) -> nn.Sequential:
    """GoogLeNet without its auxiliary classifiers: nine Inception blocks (torchvision's channel plan)."""
    pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    plan: list[tuple[int, ...] | str] = [(192, 64, 96, 128, 16, 32, 32), (256, 128, 128, 192, 32, 96, 64), "pool",
            (480, 192, 96, 208, 16, 48, 64), (512, 160, 112, 224, 24, 64, 64), (512, 128, 128, 256, 24, 64, 64),
            (512, 112, 144, 288, 32, 64, 64), (528, 256, 160, 320, 32, 128, 128), "pool",
            (832, 256, 160, 320, 32, 128, 128), (832, 384, 192, 384, 48, 128, 128)]  # fmt: skip
    blocks = [Inception(*p, big_kernel=3) if isinstance(p, tuple) else pool() for p in plan]  # type: ignore[misc]
    stem = [conv_bn(3, 64, 7, 2, eps=1e-3), pool(), conv_bn(64, 64, 1, eps=1e-3), conv_bn(64, 192, 3, eps=1e-3), pool()]
    return nn.Sequential(*stem, *blocks, _classifier_head(1024, num_classes, dropout=0.2))


RESNET_CONFIGS: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
    "resnet101": (Bottleneck, (3, 4, 23, 3)),
    "resnet152": (Bottleneck, (3, 8, 36, 3)),
}


def resnet(name: str = "resnet18", num_classes: int = 1000) -> nn.Sequential:
    """ResNet-18/34/50/101/152: a 7x7 stem, four stages of blocks (64 to 512 channels), global average pool."""
    if name not in RESNET_CONFIGS:
        raise ValueError(f"unknown ResNet {name!r}; expected one of {sorted(RESNET_CONFIGS)}")
    block, counts = RESNET_CONFIGS[name]
    layers: list[nn.Module] = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    channels = 64
    for stage, count in enumerate(counts):
        for i in range(count):
            layers.append(block(channels, 64 * 2**stage, stride=2 if stage > 0 and i == 0 else 1))
            channels = 64 * 2**stage * block.expansion
    return nn.Sequential(*layers, _classifier_head(channels, num_classes))


DENSENET_CONFIGS = {  # growth, layers per block, stem channels
    "densenet121": (32, (6, 12, 24, 16), 64),
    "densenet161": (48, (6, 12, 36, 24), 96),
    "densenet169": (32, (6, 12, 32, 32), 64),
    "densenet201": (32, (6, 12, 48, 32), 64),
}


def densenet(name: str = "densenet121", num_classes: int = 1000) -> nn.Sequential:
    """DenseNet-121/161/169/201: dense blocks joined by transitions that halve the channels."""
    if name not in DENSENET_CONFIGS:
        raise ValueError(f"unknown DenseNet {name!r}; expected one of {sorted(DENSENET_CONFIGS)}")
    growth, counts, channels = DENSENET_CONFIGS[name]
    layers: list[nn.Module] = [conv_bn(3, channels, 7, 2), nn.MaxPool2d(3, 2, 1)]
    for i, count in enumerate(counts):
        block = DenseBlock(channels, count, growth)
        layers.append(block)
        channels = block.out_channels
        if i < len(counts) - 1:
            layers.append(transition(channels, channels // 2))
            channels //= 2
    return nn.Sequential(*layers, nn.BatchNorm2d(channels), nn.ReLU(), _classifier_head(channels, num_classes))


def mobilenet_v2(num_classes: int = 1000) -> nn.Sequential:
    """MobileNetV2: 17 inverted residual blocks (expansion t, channels c, repeats n, first stride s)."""
    plan = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    layers: list[nn.Module] = [conv_bn(3, 32, 3, 2, activation=nn.ReLU6)]
    channels = 32
    for t, c, n, s in plan:
        for i in range(n):
            layers.append(InvertedResidual(channels, c, s if i == 0 else 1, t))
            channels = c
    layers.append(conv_bn(channels, 1280, 1, activation=nn.ReLU6))
    return nn.Sequential(*layers, _classifier_head(1280, num_classes, dropout=0.2))


EFFICIENTNET_SCALING = {  # width multiplier, depth multiplier, dropout (Tan & Le 2019, Table/code)
    "efficientnet_b0": (1.0, 1.0, 0.2),
    "efficientnet_b1": (1.0, 1.1, 0.2),
    "efficientnet_b2": (1.1, 1.2, 0.3),
    "efficientnet_b3": (1.2, 1.4, 0.3),
    "efficientnet_b4": (1.4, 1.8, 0.4),
    "efficientnet_b5": (1.6, 2.2, 0.4),
    "efficientnet_b6": (1.8, 2.6, 0.5),
    "efficientnet_b7": (2.0, 3.1, 0.5),
}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10 % below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def efficientnet(
    width: float = 1.0, depth: float = 1.0, dropout: float = 0.2, num_classes: int = 1000
) -> nn.Sequential:
    """EfficientNet: B0's MBConv plan with compound scaling (channels times ``width``, repeats times ``depth``)."""
    if width <= 0 or depth <= 0:
        raise ValueError(f"width and depth multipliers must be positive, got {width} and {depth}")
    plan = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
            (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]  # expand, kernel, stride, channels, repeats  # fmt: skip
    channels = make_divisible(32 * width)
    layers: list[nn.Module] = [conv_bn(3, channels, 3, 2, activation=nn.SiLU)]
    for expand, kernel, stride, out, repeats in plan:
        out = make_divisible(out * width)
        for i in range(math.ceil(repeats * depth)):
            layers.append(MBConv(channels, out, expand, kernel, stride if i == 0 else 1))
            channels = out
    last = 4 * channels
    layers.append(conv_bn(channels, last, 1, activation=nn.SiLU))
    return nn.Sequential(*layers, _classifier_head(last, num_classes, dropout))


CONVNEXT_CONFIGS = {
    "convnext_tiny": ((96, 192, 384, 768), (3, 3, 9, 3)),
    "convnext_small": ((96, 192, 384, 768), (3, 3, 27, 3)),
    "convnext_base": ((128, 256, 512, 1024), (3, 3, 27, 3)),
    "convnext_large": ((192, 384, 768, 1536), (3, 3, 27, 3)),
}


def convnext(name: str = "convnext_tiny", num_classes: int = 1000) -> nn.Sequential:
    """ConvNeXt: a 4x4 "patchify" stem, four stages of ConvNeXt blocks, layer-norm + 2x2 downsampling between."""
    if name not in CONVNEXT_CONFIGS:
        raise ValueError(f"unknown ConvNeXt {name!r}; expected one of {sorted(CONVNEXT_CONFIGS)}")
    dims, depths = CONVNEXT_CONFIGS[name]
    layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6)]
    for i, (dim, depth) in enumerate(zip(dims, depths, strict=True)):
        if i > 0:
            layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], dim, 2, stride=2)]
        layers += [ConvNeXtBlock(dim) for _ in range(depth)]
    head = [nn.AdaptiveAvgPool2d(1), LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(), nn.Linear(dims[-1], num_classes)]
    return nn.Sequential(*layers, *head)


VIT_CONFIGS = {  # patch, depth, heads, dim, mlp_dim
    "vit_b_16": (16, 12, 12, 768, 3072),
    "vit_b_32": (32, 12, 12, 768, 3072),
    "vit_l_16": (16, 24, 16, 1024, 4096),
    "vit_l_32": (32, 24, 16, 1024, 4096),
    "vit_h_14": (14, 32, 16, 1280, 5120),
}


def vit(name: str = "vit_b_16", image_size: int = 224, num_classes: int = 1000) -> ViT:
    """ViT-B/L/H at ``image_size`` (torchvision's builders default to 224)."""
    if name not in VIT_CONFIGS:
        raise ValueError(f"unknown ViT {name!r}; expected one of {sorted(VIT_CONFIGS)}")
    patch, depth, heads, dim, mlp_dim = VIT_CONFIGS[name]
    return ViT(image_size, patch, dim, depth, heads, mlp_dim, num_classes)


def from_scratch(name: str) -> nn.Module:
    """The full-size from-scratch network with torchvision's name (``"resnet50"``, ``"vgg16"``, ...)."""
    if name == "alexnet":
        return alexnet()
    if name == "googlenet":
        return googlenet()
    if name == "mobilenet_v2":
        return mobilenet_v2()
    if name in VGG_CONFIGS:
        return vgg(VGG_CONFIGS[name])
    if name in RESNET_CONFIGS:
        return resnet(name)
    if name in DENSENET_CONFIGS:
        return densenet(name)
    if name in EFFICIENTNET_SCALING:
        return efficientnet(*EFFICIENTNET_SCALING[name])
    if name in CONVNEXT_CONFIGS:
        return convnext(name)
    if name in VIT_CONFIGS:
        return vit(name)
    raise ValueError(f"no from-scratch version of {name!r}; available: {FROM_SCRATCH}")


FROM_SCRATCH = ("alexnet", "googlenet", "mobilenet_v2", *VGG_CONFIGS, *RESNET_CONFIGS, *DENSENET_CONFIGS,
                *EFFICIENTNET_SCALING, *CONVNEXT_CONFIGS, *VIT_CONFIGS)  # fmt: skip
"""torchvision names that ``from_scratch`` builds."""


# --------------------------------------------------------------------------------------------------
# Small networks for 28x28 digits
# --------------------------------------------------------------------------------------------------
SMALL_NETS = ("alexnet", "vgg", "nin", "googlenet", "resnet", "densenet", "mobilenetv2", "efficientnet", "convnext",
              "vit")  # fmt: skip


def small_net(kind: str, width: int = 16, num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """A small version of each architecture for 28x28 images, built from the same blocks.

    ``width`` is the channel count of the first stage; the later stages double it.
    """
    _check_positive(width=width, num_classes=num_classes, in_channels=in_channels)
    w, c = width, in_channels
    head = lambda channels: _classifier_head(channels, num_classes)  # noqa: E731
    if kind == "alexnet":  # large first kernel and stride, ReLU, dropout, fully connected head
        return nn.Sequential(
            nn.Conv2d(c, 2 * w, 5, stride=2, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(),  # 4x4
            nn.Dropout(0.5), nn.Linear(4 * w * 16, 8 * w), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8 * w, num_classes),
        )  # fmt: skip
    if kind == "vgg":
        return nn.Sequential(
            vgg_block(c, w, 2), vgg_block(w, 2 * w, 2), nn.Flatten(), nn.Linear(2 * w * 49, num_classes)
        )
    if kind == "nin":  # no fully connected layer: the last 1x1 convolutions give one map per class
        return nn.Sequential(nin_block(c, w, 5, 1, 2), nn.MaxPool2d(2), nin_block(w, 2 * w, 3, 1, 1), nn.MaxPool2d(2),
                             nin_block(2 * w, num_classes, 3, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())  # fmt: skip
    if kind == "googlenet":
        a = Inception(w, w // 2, w // 2, w, w // 4, w // 4, w // 4)
        b = Inception(a.out_channels, w, w, 2 * w, w // 4, w // 2, w // 2)
        return nn.Sequential(conv_bn(c, w, 3, 2), a, nn.MaxPool2d(2), b, head(b.out_channels))
    if kind == "resnet":
        blocks = [BasicBlock(w, w, 2), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 4 * w, 2)]
        return nn.Sequential(conv_bn(c, w, 3), *blocks, head(4 * w))
    if kind == "densenet":
        d1 = DenseBlock(w, 3, w // 2)
        d2 = DenseBlock(d1.out_channels // 2, 3, w // 2)
        return nn.Sequential(conv_bn(c, w, 3, 2), d1, transition(d1.out_channels, d1.out_channels // 2), d2,
                             nn.BatchNorm2d(d2.out_channels), nn.ReLU(), head(d2.out_channels))  # fmt: skip
    if kind == "mobilenetv2":
        return nn.Sequential(
            conv_bn(c, w, 3, 2, activation=nn.ReLU6), InvertedResidual(w, w, 1, 1),
            InvertedResidual(w, 2 * w, 2), InvertedResidual(2 * w, 2 * w), InvertedResidual(2 * w, 4 * w, 2),
            InvertedResidual(4 * w, 4 * w), conv_bn(4 * w, 8 * w, 1, activation=nn.ReLU6), head(8 * w),
        )  # fmt: skip
    if kind == "efficientnet":
        return nn.Sequential(
            conv_bn(c, w, 3, 2, activation=nn.SiLU), MBConv(w, w, 1),
            MBConv(w, 2 * w, 6, 5, 2), MBConv(2 * w, 2 * w, 6, 5), MBConv(2 * w, 4 * w, 6, 3, 2),
            MBConv(4 * w, 4 * w, 6), conv_bn(4 * w, 8 * w, 1, activation=nn.SiLU), head(8 * w),
        )  # fmt: skip
    if kind == "convnext":
        return nn.Sequential(
            nn.Conv2d(c, 2 * w, 2, stride=2), LayerNorm2d(2 * w, eps=1e-6), ConvNeXtBlock(2 * w), ConvNeXtBlock(2 * w),
            LayerNorm2d(2 * w, eps=1e-6), nn.Conv2d(2 * w, 4 * w, 2, stride=2), ConvNeXtBlock(4 * w),
            ConvNeXtBlock(4 * w), nn.AdaptiveAvgPool2d(1), LayerNorm2d(4 * w, eps=1e-6), nn.Flatten(),
            nn.Linear(4 * w, num_classes),
        )  # fmt: skip
    if kind == "vit":  # 7x7 = 49 patches of 4x4 pixels
        return ViT(28, 4, 4 * w, 4, 4, 8 * w, num_classes, in_channels=c)
    raise ValueError(f"unknown kind {kind!r}; expected one of {SMALL_NETS}")


def deep_net(
    num_blocks: int, width: int = 16, skip: bool = True, num_classes: int = 10, in_channels: int = 1
) -> nn.Sequential:
    """A deep stack of ``num_blocks`` basic blocks (2 conv layers each) at one width, with or without skips.

    ``2 * num_blocks + 2`` weight layers: a stride-2 stem (28x28 to 14x14), the blocks (the middle one
    halves the resolution again), a linear classifier. ``skip=False`` is the "plain" network.
    """
    _check_positive(num_blocks=num_blocks, width=width)
    blocks = [BasicBlock(width, width, 2 if i == num_blocks // 2 else 1, skip) for i in range(num_blocks)]
    return nn.Sequential(conv_bn(in_channels, width, 3, 2), *blocks, _classifier_head(width, num_classes))
