"""Week 1's coding exercises: a separable filter as two 1-D convolutions, and per-channel standardisation."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from utils.exercises import Case, CheckResult, check_function, random_tensor


def reference_separable_filter(x: torch.Tensor, column: torch.Tensor, row: torch.Tensor) -> torch.Tensor:
    """The 2-D kernel ``outer(column, row)`` applied to every channel of ``x`` on its own (no padding)."""
    channels = x.shape[1]
    kernel = torch.outer(column, row).expand(channels, 1, len(column), len(row))
    return F.conv2d(x, kernel, groups=channels)


def _separable_cases() -> list[Case]:
    gaussian = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16
    sobel_smooth = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    sobel_difference = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    return [
        Case(
            "2 images, 3 channels, 9 x 11, a 3-tap column and a 5-tap row",
            (random_tensor(2, 3, 9, 11, seed=1), random_tensor(3, seed=2), random_tensor(5, seed=3)),
        ),
        Case(
            "one image, 1 channel, 8 x 8, the 5-tap binomial (Gaussian-like) blur",
            (random_tensor(1, 1, 8, 8, seed=4), gaussian, gaussian),
        ),
        Case(
            "2 images, 1 channel, 7 x 10, Sobel x (smooth down the column, difference along the row)",
            (random_tensor(2, 1, 7, 10, seed=5), sobel_smooth, sobel_difference),
        ),
        Case(
            "one image, 4 channels, 6 x 5, a 1-tap column (a row filter only)",
            (random_tensor(1, 4, 6, 5, seed=6), torch.ones(1, dtype=torch.float64), random_tensor(3, seed=7)),
        ),
        Case(
            "3 images, 2 channels, 5 x 6, kernel as tall as the image (4 x 2)",
            (random_tensor(3, 2, 5, 6, seed=8), random_tensor(4, seed=9), random_tensor(2, seed=10)),
        ),
        Case(
            "float32 input (the result should stay float32)",
            (
                random_tensor(2, 3, 8, 8, seed=11, dtype=torch.float32),
                random_tensor(3, seed=12, dtype=torch.float32),
                random_tensor(3, seed=13, dtype=torch.float32),
            ),
        ),
    ]


def check_separable_filter(student: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    """Check ``separable_filter(x (N, C, H, W), column (kh,), row (kw,))`` against one grouped ``F.conv2d``."""
    return check_function(
        "separable_filter",
        student,
        reference_separable_filter,
        _requiring_grad(_separable_cases(), (0, 1, 2)),
        hint=(
            "filter every channel on its own (x.reshape(N * C, 1, H, W), or groups=C), first with the column "
            "as a (1, 1, kh, 1) kernel (it runs down the height), then with the row as a (1, 1, 1, kw) kernel; "
            "no padding, and no flip (F.conv2d is a cross-correlation)"
        ),
        gradients=(0, 1, 2),
    )


def reference_standardize_channels(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``(x - mean_c) / sqrt(var_c + eps)`` with each channel's mean and biased variance over N, H and W."""
    return F.batch_norm(x, None, None, training=True, eps=eps)


def _standardize_cases() -> list[Case]:
    scales = torch.tensor([1.0, 10.0, 0.5], dtype=torch.float64).view(1, 3, 1, 1)
    offsets = torch.tensor([5.0, -3.0, 0.0], dtype=torch.float64).view(1, 3, 1, 1)
    constant = random_tensor(4, 2, 5, 5, seed=23)
    constant[:, 1] = 0.5
    tiny = random_tensor(6, 2, 4, 4, seed=24) * torch.tensor([1.0, 1e-3], dtype=torch.float64).view(1, 2, 1, 1)
    mnist_like = (random_tensor(2, 1, 28, 28, seed=25) > 1.0).double() * random_tensor(2, 1, 28, 28, seed=26).abs()
    return [
        Case(
            "8 images, 3 channels of very different means and scales, 5 x 5",
            (random_tensor(8, 3, 5, 5, seed=21) * scales + offsets,),
        ),
        Case(
            "one image, 2 channels, 4 x 6 (the statistics run over the pixels too)",
            (random_tensor(1, 2, 4, 6, seed=22),),
        ),
        Case("4 images whose channel 1 is constant (it should become 0, not NaN)", (constant,)),
        Case("6 images whose channel 1 has a standard deviation near 0.001 (eps matters)", (tiny,)),
        Case("2 MNIST-like images: mostly 0, some ink, 28 x 28", (mnist_like,)),
        Case("3 images, 2 channels, with eps = 0.1", (random_tensor(3, 2, 4, 4, seed=27),), {"eps": 0.1}),
        Case(
            "float32 input (the result should stay float32)", (random_tensor(4, 3, 6, 6, seed=28, dtype=torch.float32),)
        ),
    ]


def check_standardize_channels(student: Callable[..., torch.Tensor]) -> CheckResult:
    """Check ``standardize_channels(x (N, C, H, W), eps=1e-5)`` against ``F.batch_norm`` in training mode."""
    return check_function(
        "standardize_channels",
        student,
        reference_standardize_channels,
        _requiring_grad(_standardize_cases(), (0,)),
        hint=(
            "one mean and one variance per channel, over images, rows and columns: x.mean(dim=(0, 2, 3), "
            "keepdim=True) and x.var(dim=(0, 2, 3), correction=0, keepdim=True); then "
            "(x - mean) / torch.sqrt(var + eps), with eps inside the square root"
        ),
        gradients=(0,),
    )


def _requiring_grad(cases: list[Case], positions: tuple[int, ...]) -> list[Case]:
    """The cases with the tensors at ``positions`` made leaves that require gradients (for compare_gradients)."""
    return [
        Case(
            case.description,
            tuple(arg.detach().requires_grad_(True) if i in positions else arg for i, arg in enumerate(case.args)),
            case.kwargs,
        )
        for case in cases
    ]


__all__ = [
    "check_separable_filter",
    "check_standardize_channels",
    "reference_separable_filter",
    "reference_standardize_channels",
]
