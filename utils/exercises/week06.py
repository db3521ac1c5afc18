"""Weeks 6-7 (architectures): checkers for a residual basic block and a squeeze-and-excitation gate.

The student writes an ``nn.Module`` class; the checker builds it and the course's block
(``utils.models.architectures.BasicBlock`` / ``SqueezeExcite``) for several settings, compares the
parameter counts, copies the reference's weights into the student's module (in registration order),
and compares outputs (training and evaluation mode) and gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from utils.exercises import CheckFailed, CheckResult, expect_close, random_tensor, report
from utils.models.architectures import BasicBlock, SqueezeExcite


def _build(student_class: Callable[..., Any], args: tuple[int, ...], what: str) -> nn.Module:
    try:
        module = student_class(*args)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - a bug in the student's __init__ is reported, not raised
        raise CheckFailed(f"{what}(*{args}) raised {type(error).__name__}: {error}") from None
    if not isinstance(module, nn.Module):
        raise CheckFailed(f"{what}(*{args}) should build an nn.Module, got {type(module).__name__}")
    return module


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _randomize(module: nn.Module, seed: int) -> None:
    """Random weights and batch-norm statistics, so that no layer is an identity by accident."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            values = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype) * 0.5
            if name.endswith("running_var") or (name.endswith("weight") and tensor.ndim == 1):
                values = values.abs() + 0.5  # variances and batch-norm scales: positive
            tensor.copy_(values)


def _copy_weights(reference: nn.Module, student: nn.Module, config: str) -> None:
    """Load the reference's state into the student's module, tensor by tensor in registration order.

    A tensor may be reshaped when its size agrees (an ``nn.Linear`` weight for a 1x1 convolution's).
    """
    ours, theirs = list(reference.state_dict().values()), list(student.state_dict().items())
    if len(ours) != len(theirs):
        raise CheckFailed(
            f"for {config}, your module holds {len(theirs)} tensors (weights, biases, batch-norm statistics) and the "
            f"reference {len(ours)}: {', '.join(name for name, _ in theirs) or 'none'}"
        )
    with torch.no_grad():
        for source, (name, target) in zip(ours, theirs, strict=True):
            if source.numel() != target.numel() or source.dtype != target.dtype:
                raise CheckFailed(
                    f"for {config}, your tensor '{name}' has shape {tuple(target.shape)} where the reference's layer "
                    f"in the same position has {tuple(source.shape)}: define the layers in the order the task gives"
                )
            target.copy_(source.reshape(target.shape))


def _compare_modules(
    reference: nn.Module, student: nn.Module, x: torch.Tensor, config: str, modes: Sequence[str], ends_with_relu: bool
) -> None:
    """Outputs in each mode, then the gradients of the input and of every parameter, must agree."""
    for mode in modes:
        reference.train(mode == "training")
        student.train(mode == "training")
        inputs = [x.detach().clone().requires_grad_(True) for _ in range(2)]
        expected = reference(inputs[0])
        try:
            answer = student(inputs[1])
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - a bug in the student's forward is reported, not raised
            raise CheckFailed(f"for {config}, your forward raised {type(error).__name__}: {error}") from None
        if ends_with_relu and isinstance(answer, torch.Tensor) and bool((answer < 0).any()):
            raise CheckFailed(
                f"for {config}, your output has negative values, which a block ending in a ReLU cannot give: "
                "apply the ReLU once, after the addition: relu(f(x) + shortcut(x))"
            )
        expect_close(answer, expected, f"for {config}, the output in {mode} mode")
        weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=expected.dtype)
        expected_grads = torch.autograd.grad((expected * weights).sum(), [inputs[0], *reference.parameters()])
        if answer.grad_fn is None:
            raise CheckFailed(f"for {config}, your output is not connected to the autograd graph (a .detach()?)")
        answer_grads = torch.autograd.grad(
            (answer * weights).sum(), [inputs[1], *student.parameters()], allow_unused=True
        )
        names = ["the input", *(f"parameter '{name}'" for name, _ in student.named_parameters())]
        for name, mine, wanted in zip(names, answer_grads, expected_grads, strict=True):
            if mine is None:
                raise CheckFailed(f"for {config}, your output does not depend on {name}: is that layer used?")
            expect_close(mine.reshape(wanted.shape), wanted, f"for {config}, in {mode} mode, the gradient of {name}")


def _check_module(
    exercise: str,
    student_class: Callable[..., Any],
    reference_class: Callable[..., nn.Module],
    configs: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]],
    explain_count: Callable[[tuple[int, ...], int, int], str],
    modes: Sequence[str],
    hint: str,
    ends_with_relu: bool = False,
) -> CheckResult:
    """Build, count, copy weights, compare outputs and gradients for each (description, args, input shape)."""

    def outcome() -> str:
        for seed, (config, args, shape) in enumerate(configs):
            reference = reference_class(*args).double()
            student = _build(student_class, args, student_class.__name__).double()
            expected_count, count = _count(reference), _count(student)
            if count != expected_count:
                raise CheckFailed(
                    f"for {config}, your module has {count:,} parameters, the reference {expected_count:,}: "
                    f"{explain_count(args, count, expected_count)}"
                )
            _randomize(reference, seed)
            _copy_weights(reference, student, config)
            _compare_modules(reference, student, random_tensor(*shape, seed=10 + seed), config, modes, ends_with_relu)
        return (
            f"parameter counts, outputs ({' and '.join(modes)} mode) and gradients equal the course's block "
            f"in all {len(configs)} settings ({'; '.join(c[0] for c in configs)})."
        )

    return report(exercise, outcome, hint)


# -------------------------------------------------------------------------------------------- basic block

BLOCK_HINT = (
    "conv1 = 3x3 conv with the block's stride and padding 1, bias=False; bn1; conv2 = 3x3 conv, stride 1, "
    "bias=False; bn2; shortcut = nn.Sequential(1x1 conv with the stride, bias=False, BatchNorm2d) when the stride "
    "is not 1 or the channels change, else nn.Identity(); forward: relu(bn2(conv2(relu(bn1(conv1(x))))) + "
    "shortcut(x))."
)


def _explain_block_count(args: tuple[int, ...], count: int, expected: int) -> str:
    in_channels, out_channels, stride = args
    biases = out_channels * 2 + (out_channels if stride != 1 or in_channels != out_channels else 0)
    if count - expected == biases or count - expected == 2 * out_channels:
        return "did you give the convolutions a bias? Use bias=False: the batch norm after each has its own shift"
    projection = in_channels * out_channels + 2 * out_channels
    if expected - count == projection:
        return "the shortcut needs a 1x1 convolution + batch norm when the stride or the number of channels changes"
    if expected - count == 2 * out_channels and projection != 2 * out_channels:
        return "the shortcut's 1x1 convolution needs its batch norm (nn.Sequential(conv, nn.BatchNorm2d))"
    if count - expected == projection:
        return "when the shapes already match, the shortcut is nn.Identity() (no weights)"
    return "compare your layers with the task: two 3x3 conv + batch norm, and a 1x1 conv + batch norm on the shortcut"


BLOCK_CONFIGS = [
    ("16 -> 16 channels, stride 1 (identity shortcut)", (16, 16, 1), (2, 16, 7, 7)),
    ("8 -> 16 channels, stride 2, a 9x9 input (odd size)", (8, 16, 2), (2, 8, 9, 9)),
    ("8 -> 8 channels, stride 2 (projection for the stride alone)", (8, 8, 2), (3, 8, 6, 6)),
    ("4 -> 12 channels, stride 1, a 5x7 input", (4, 12, 1), (2, 4, 5, 7)),
]


def check_residual_block(student_class: Callable[..., Any]) -> CheckResult:
    """``student_class(in_channels, out_channels, stride)`` against ``BasicBlock`` in several settings."""
    return _check_module(
        "Residual basic block",
        student_class,
        BasicBlock,
        BLOCK_CONFIGS,
        _explain_block_count,
        ("training", "evaluation"),
        BLOCK_HINT,
        ends_with_relu=True,
    )


# ------------------------------------------------------------------------------------ squeeze-and-excitation

SE_HINT = (
    "squeeze: s = x.mean(dim=(2, 3), keepdim=True), shape (N, C, 1, 1); excite: gate = sigmoid(fc2(silu(fc1(s)))) "
    "with fc1 = nn.Conv2d(channels, squeeze_channels, 1) and fc2 = nn.Conv2d(squeeze_channels, channels, 1) "
    "(both with a bias); return x * gate, which broadcasts the gate over the pixels."
)


def _explain_se_count(args: tuple[int, ...], count: int, expected: int) -> str:
    channels, squeeze = args
    if expected - count == channels + squeeze:
        return "both layers of the gate have a bias (bias=True, the default)"
    return "the gate is two layers: channels -> squeeze_channels -> channels"


SE_CONFIGS = [
    ("8 channels squeezed to 2, a 5x7 input", (8, 2), (2, 8, 5, 7)),
    ("16 channels squeezed to 4, batch of 1", (16, 4), (1, 16, 6, 6)),
    ("3 channels squeezed to 1, a 1x1 input", (3, 1), (4, 3, 1, 1)),
]


def check_squeeze_excitation(student_class: Callable[..., Any]) -> CheckResult:
    """``student_class(channels, squeeze_channels)`` against ``SqueezeExcite`` in several settings."""
    return _check_module(
        "Squeeze-and-excitation",
        student_class,
        SqueezeExcite,
        SE_CONFIGS,
        _explain_se_count,
        ("training",),
        SE_HINT,
    )
