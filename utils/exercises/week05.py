"""Week 5 (segmentation): checkers for a transposed convolution built from an ordinary one, and mean IoU.

References: ``F.conv_transpose2d`` (values and gradients) and ``utils.segmentation.mean_iou`` of
``utils.segmentation.segmentation_confusion_matrix``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from utils.exercises import Case, CheckFailed, CheckResult, call, compare_gradients, expect_close, random_tensor, report
from utils.segmentation import mean_iou, segmentation_confusion_matrix

# ------------------------------------------------------------------------- transposed convolution via conv2d

TRANSPOSED_HINT = (
    "1) put stride - 1 zeros between neighbouring input pixels: a zero tensor of size (H - 1) * stride + 1, "
    "filled with z[..., ::stride, ::stride] = x; 2) pad it by kernel_size - 1 - padding on every side; "
    "3) F.conv2d with weight.flip(-2, -1).transpose(0, 1): the kernel turned by 180 degrees and its "
    "(C_in, C_out) axes swapped into conv2d's (C_out, C_in) order."
)


class _RefuseConvTranspose(TorchFunctionMode):
    """Refuse F.conv_transpose2d while the student's code runs (the exercise asks for F.conv2d)."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func in (torch.conv_transpose2d, F.conv_transpose2d):
            raise CheckFailed(
                "your code calls F.conv_transpose2d (or nn.ConvTranspose2d): build it from zeros and F.conv2d instead"
            )
        return func(*args, **(kwargs or {}))


def transposed_cases() -> list[Case]:
    """Random inputs and kernels (float64, with gradients) over the strides and paddings decoders use."""

    def case(description: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int, padding: int) -> Case:
        seed = sum(x_shape) * 7 + sum(w_shape) + stride * 3 + padding
        x, w = random_tensor(*x_shape, seed=seed, grad=True), random_tensor(*w_shape, seed=seed + 1, grad=True)
        return Case(description, (x, w, stride, padding))

    return [
        case("stride 1, kernel 3, no padding (1 -> 1 channel)", (1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
        case("stride 2, kernel 2 (the U-Net's exact doubling), 3 -> 2 channels", (2, 3, 4, 4), (3, 2, 2, 2), 2, 0),
        case(
            "stride 2, kernel 4, padding 1 (doubling with overlap), 2 -> 4 channels", (2, 2, 5, 5), (2, 4, 4, 4), 2, 1
        ),
        case("stride 2, kernel 3, padding 1, a non-square 3x6 input", (1, 2, 3, 6), (2, 3, 3, 3), 2, 1),
        case("stride 3 larger than kernel 2 (gaps between the stamps)", (1, 1, 3, 4), (1, 2, 2, 2), 3, 0),
        case("one input pixel, kernel 3, stride 2", (1, 2, 1, 1), (2, 1, 3, 3), 2, 0),
    ]


def _reference_transposed(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int) -> torch.Tensor:
    return F.conv_transpose2d(x, weight, stride=stride, padding=padding)


def _explain_transposed(answer: Any, case: Case) -> None:
    """Name the classic mistakes before the generic value comparison."""
    x, weight, stride, padding = case.args
    if not isinstance(answer, torch.Tensor) or answer.dtype != x.dtype:
        return  # expect_close names the type or dtype
    unflipped = _reference_transposed(x, weight.flip(-2, -1), stride, padding).detach()
    if answer.shape == unflipped.shape and torch.allclose(answer.detach(), unflipped, atol=1e-8):
        raise CheckFailed(
            f"on {case.description}, your result is the transposed convolution with the kernel NOT flipped: "
            "F.conv2d slides the kernel as it is, so turn it by 180 degrees first (weight.flip(-2, -1))"
        )
    expected = _reference_transposed(x, weight, stride, padding)
    if answer.ndim == 4 and answer.shape[:2] == expected.shape[:2] and answer.shape[2:] != expected.shape[2:]:
        size = expected.shape[-2:]
        raise CheckFailed(
            f"on {case.description}, the output is {tuple(answer.shape[-2:])} pixels, it should be {tuple(size)} "
            "((H - 1) * stride - 2 * padding + kernel_size): check the number of zeros between pixels (stride - 1, "
            "none after the last pixel) and the padding (kernel_size - 1 - padding)"
        )


def check_conv_transpose_via_conv(student: Callable[..., Any]) -> CheckResult:
    """Compare ``student(x, weight, stride, padding)`` with ``F.conv_transpose2d``, values and gradients."""
    cases = transposed_cases()

    def guarded(*args: Any) -> Any:
        with _RefuseConvTranspose():
            return student(*args)

    def outcome() -> str:
        for case in cases:
            answer = call(guarded, case)
            _explain_transposed(answer, case)
            expect_close(answer, _reference_transposed(*case.args), f"on {case.description}", atol=1e-8)
            compare_gradients(guarded, _reference_transposed, case, (0, 1), atol=1e-8, names=("x", "weight"))
        return (
            f"outputs and gradients (input and kernel) equal F.conv_transpose2d on all {len(cases)} cases "
            "(strides 1, 2, 3; kernels 2, 3, 4; padding 0 and 1; non-square; one pixel)."
        )

    return report("Transposed convolution from F.conv2d", outcome, TRANSPOSED_HINT)


# --------------------------------------------------------------------------------------------- mean IoU

MEAN_IOU_HINT = (
    "one bincount gives the confusion matrix: index = targets.flatten() * num_classes + predictions.flatten(), "
    "torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes); then IoU = TP / "
    "(row sum + column sum - TP) per class, and the mean over the classes whose union is not 0 (torch.nanmean)."
)


def _reference_mean_iou(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> float:
    return mean_iou(segmentation_confusion_matrix(predictions, targets, num_classes))


def mean_iou_cases() -> list[Case]:
    """Random masks and the edge cases: absent classes, all background, a class that is only predicted."""
    generator = torch.Generator().manual_seed(5)
    random_truth = torch.randint(0, 5, (4, 16, 16), generator=generator)
    noisy = torch.where(
        torch.rand(4, 16, 16, generator=generator) < 0.3,
        torch.randint(0, 5, (4, 16, 16), generator=generator),
        random_truth,
    )
    truth = torch.zeros(20, 24, dtype=torch.int64)
    truth[2:8, 3:9], truth[10:18, 12:20] = 3, 7
    guess = torch.zeros_like(truth)
    guess[3:9, 3:10], guess[10:16, 12:20], guess[0:2, 0:2] = 3, 7, 5
    return [
        Case("a batch of four 16x16 masks, 5 classes", (noisy, random_truth, 5)),
        Case("one 20x24 mask, 11 classes of which only 0, 3, 5 and 7 occur", (guess, truth, 11)),
        Case(
            "all background in truth and prediction (11 classes)",
            (torch.zeros_like(truth), torch.zeros_like(truth), 11),
        ),
        Case("background predicted everywhere, digits in the truth", (torch.zeros_like(truth), truth, 11)),
        Case(
            "a class predicted but absent from the truth (2 classes, 1x2 image)",
            (torch.tensor([[0, 1]]), torch.tensor([[0, 0]]), 2),
        ),
    ]


def _explain_mean_iou(answer: Any, case: Case) -> None:
    predictions, targets, num_classes = case.args
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if not isinstance(answer, (int, float)) or isinstance(answer, bool):
        raise CheckFailed(f"on {case.description}: return one number (a float), got {type(answer).__name__}")
    if math.isnan(answer):
        raise CheckFailed(
            f"on {case.description}, your mean IoU is NaN: a class absent from both masks has IoU 0/0; leave it out "
            "of the mean (torch.nanmean, or average over the classes whose union is > 0)"
        )
    matrix = segmentation_confusion_matrix(predictions, targets, num_classes).double()
    tp = matrix.diag()
    union = matrix.sum(0) + matrix.sum(1) - tp
    ious = tp / union.clamp(min=1)
    if (union == 0).any() and not math.isclose(answer, _reference_mean_iou(*case.args), abs_tol=1e-6):
        if math.isclose(answer, float(ious.mean()), abs_tol=1e-6):
            raise CheckFailed(
                f"on {case.description}, you counted the classes absent from both masks as IoU 0: leave them out"
            )
        if math.isclose(answer, float(torch.where(union > 0, ious, 1.0).mean()), abs_tol=1e-6):
            raise CheckFailed(
                f"on {case.description}, you counted the classes absent from both masks as IoU 1: leave them out"
            )
    present = matrix.sum(1) > 0
    if (present != (union > 0)).any() and math.isclose(answer, float(ious[present].mean()), abs_tol=1e-6):
        raise CheckFailed(
            f"on {case.description}, you left out a class that is predicted but absent from the truth: its IoU is 0 "
            "(every pixel predicted for it is a mistake), so it counts in the mean"
        )
    if predictions.ndim == 3 and len(predictions) > 1:
        per_image = [_reference_mean_iou(p, t, num_classes) for p, t in zip(predictions, targets, strict=True)]
        if math.isclose(answer, sum(per_image) / len(per_image), abs_tol=1e-6):
            raise CheckFailed(
                f"on {case.description}, you averaged per image: sum the counts of all images into one confusion "
                "matrix first (dataset-level mean IoU, as in section 3)"
            )


def check_mean_iou_from_masks(student: Callable[..., Any]) -> CheckResult:
    """Compare ``student(predictions, targets, num_classes)`` with utils' dataset-level mean IoU."""
    cases = mean_iou_cases()

    def outcome() -> str:
        for case in cases:
            answer = call(student, case)
            _explain_mean_iou(answer, case)
            answer = answer.item() if isinstance(answer, torch.Tensor) else answer
            expect_close(float(answer), _reference_mean_iou(*case.args), f"on {case.description}", atol=1e-6)
        return (
            f"equals utils.segmentation.mean_iou on all {len(cases)} cases (a random batch, absent classes, "
            "all background, background only predicted, a class only predicted)."
        )

    return report("Mean IoU from masks", outcome, MEAN_IOU_HINT)
