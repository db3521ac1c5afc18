"""Week 2's coding exercises: max pooling built from ``F.unfold``, and a convolution layer's backward pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from utils.exercises import (
    Case,
    CheckResult,
    call,
    check_function,
    check_gradcheck,
    compare_gradients,
    expect_close,
    random_tensor,
    report,
)


def reference_max_pool(x: torch.Tensor, kernel_size: int, stride: int) -> torch.Tensor:
    """PyTorch's max pooling with square windows and no padding."""
    return F.max_pool2d(x, kernel_size, stride)


def _max_pool_cases() -> list[Case]:
    return [
        Case("2 images, 3 channels, 8 x 8, kernel 2, stride 2", (random_tensor(2, 3, 8, 8, seed=1), 2, 2)),
        Case(
            "one image, 1 channel, 7 x 9, kernel 3, stride 2 (overlapping windows)",
            (random_tensor(1, 1, 7, 9, seed=2), 3, 2),
        ),
        Case(
            "2 images, 2 channels, 9 x 7, kernel 2, stride 3 (stride > kernel: pixels skipped)",
            (random_tensor(2, 2, 9, 7, seed=3), 2, 3),
        ),
        Case(
            "3 images, 4 channels, 5 x 5, kernel 2, stride 2 (the last row and column are dropped)",
            (random_tensor(3, 4, 5, 5, seed=4), 2, 2),
        ),
        Case(
            "2 images, 3 channels, 6 x 6, all values negative", (-(random_tensor(2, 3, 6, 6, seed=5).abs()) - 1, 3, 3)
        ),
        Case(
            "one image, 2 channels, 4 x 6, kernel 1, stride 1 (the identity)", (random_tensor(1, 2, 4, 6, seed=6), 1, 1)
        ),
        Case(
            "float32 input (the result should stay float32)",
            (random_tensor(2, 3, 8, 8, seed=7, dtype=torch.float32), 2, 2),
        ),
    ]


def check_max_pool(student: Callable[[torch.Tensor, int, int], torch.Tensor]) -> CheckResult:
    """Check ``max_pool_unfold(x (N, C, H, W), kernel_size, stride)`` against ``F.max_pool2d``, gradients too."""
    return check_function(
        "max_pool_unfold",
        student,
        reference_max_pool,
        _requiring_grad(_max_pool_cases(), (0,)),
        hint=(
            "F.unfold(x, kernel_size, stride=stride) gives (N, C * k * k, L) with the channels outermost: "
            "view it as (N, C, k * k, L), take .max(dim=2).values (or .amax(dim=2)), and view the result as "
            "(N, C, out_h, out_w) with out_h = (H - k) // stride + 1 (and out_w from W)"
        ),
        gradients=(0,),
    )


def reference_conv2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int
) -> torch.Tensor:
    """PyTorch's convolution layer (the reference for the forward pass and, through autograd, the gradients)."""
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def _conv_cases() -> list[Case]:
    settings = [
        ("2 images, 3 -> 4 channels, 6 x 6, kernel 3, stride 1, padding 0", (2, 3, 6, 6), (4, 3, 3, 3), 1, 0),
        ("2 images, 2 -> 3 channels, 7 x 9, kernel 3, stride 2, padding 1", (2, 2, 7, 9), (3, 2, 3, 3), 2, 1),
        ("one image, 3 -> 2 channels, 8 x 8, kernel 5, stride 1, padding 2", (1, 3, 8, 8), (2, 3, 5, 5), 1, 2),
        (
            "2 images, 2 -> 2 channels, 8 x 7, kernel 2, stride 3 (stride > kernel: pixels unused)",
            (2, 2, 8, 7),
            (2, 2, 2, 2),
            3,
            0,
        ),
        ("one image, 1 -> 5 channels, 6 x 5, kernel 2 x 3, stride 2, padding 1", (1, 1, 6, 5), (5, 1, 2, 3), 2, 1),
    ]
    cases = []
    for seed, (description, x_shape, w_shape, stride, padding) in enumerate(settings):
        x = random_tensor(*x_shape, seed=10 * seed + 1)
        weight = random_tensor(*w_shape, seed=10 * seed + 2)
        bias = random_tensor(w_shape[0], seed=10 * seed + 3)
        cases.append(Case(description, (x, weight, bias, stride, padding)))
    return cases


def _raise_if_backward_not_written(apply: Callable[..., torch.Tensor], case: Case) -> None:
    """Let the stub's NotImplementedError through (compare_gradients would report it as a failed backward)."""
    try:
        apply(
            *(arg.detach().clone().requires_grad_(True) if isinstance(arg, torch.Tensor) else arg for arg in case.args)
        ).sum().backward()
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001, S110 - any other problem is described by the comparisons that follow
        pass


def check_conv2d_backward(student: Any) -> CheckResult:
    """Check a ``torch.autograd.Function`` (``student.apply(x, weight, bias, stride, padding)``).

    Its forward pass against ``F.conv2d``; the gradients its backward pass returns for the input,
    the weights and the bias against autograd's through ``F.conv2d``; then ``gradcheck``.
    """

    def apply(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
        return student.apply(x, weight, bias, stride, padding)

    cases = _requiring_grad(_conv_cases(), (0, 1, 2))

    def outcome() -> str:
        _raise_if_backward_not_written(apply, cases[0])
        for case in cases:
            expect_close(call(apply, case), reference_conv2d(*case.args), f"on {case.description}, the forward pass")
            compare_gradients(apply, reference_conv2d, case, (0, 1, 2), atol=1e-6)
        small = tuple(
            random_tensor(*shape, seed=90 + i, grad=True) for i, shape in enumerate([(1, 2, 5, 5), (3, 2, 3, 3), (3,)])
        )
        check_gradcheck("a 1 x 2 x 5 x 5 input, stride 2, padding 1", lambda x, w, b: apply(x, w, b, 2, 1), small)
        return (
            f"forward and the gradients for x, weight and bias match F.conv2d on all {len(cases)} cases "
            "(strides 1 to 3, paddings 0 to 2, square and non-square kernels); gradcheck passed."
        )

    return report(
        "Conv2dFunction.backward",
        outcome,
        hint=(
            "view grad_output as (N, C_out, L); grad_bias sums it over the batch and the positions; grad_weight "
            "is (grad_output @ patches.transpose(1, 2)) summed over the batch, viewed like the weight; grad_x "
            "is F.fold(weight.view(C_out, -1).T @ grad_output, output_size=(H, W), kernel_size=(kh, kw), "
            "padding=padding, stride=stride), which adds up overlapping windows; return None for stride and padding"
        ),
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


__all__ = ["check_conv2d_backward", "check_max_pool", "reference_conv2d", "reference_max_pool"]
