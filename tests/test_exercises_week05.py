"""Week 5's coding exercises: the reference solutions pass, realistic wrong solutions fail with a reason."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

from utils.exercises import week05

SOLUTIONS = solution_namespace("week05_segmentation")


def _spread(x, stride, trailing=False):
    n, c, h, w = x.shape
    size = (h * stride, w * stride) if trailing else ((h - 1) * stride + 1, (w - 1) * stride + 1)
    spread = x.new_zeros(n, c, *size)
    spread[:, :, ::stride, ::stride] = x
    return spread


def _kernel_not_flipped(x, weight, stride, padding):
    return F.conv2d(_spread(x, stride), weight.transpose(0, 1), padding=weight.shape[-1] - 1 - padding)


def _zeros_after_the_last_pixel(x, weight, stride, padding):
    spread = _spread(x, stride, trailing=True)
    return F.conv2d(spread, weight.flip(-2, -1).transpose(0, 1), padding=weight.shape[-1] - 1 - padding)


def _padding_ignored(x, weight, stride, padding):
    return F.conv2d(_spread(x, stride), weight.flip(-2, -1).transpose(0, 1), padding=weight.shape[-1] - 1)


def _detached(x, weight, stride, padding):
    return F.conv2d(_spread(x.detach(), stride), weight.flip(-2, -1).transpose(0, 1), padding=weight.shape[-1] - 1 - padding)


def _float32_zeros(x, weight, stride, padding):
    n, c, h, w = x.shape
    spread = torch.zeros(n, c, (h - 1) * stride + 1, (w - 1) * stride + 1)  # float32, whatever x is
    spread[:, :, ::stride, ::stride] = x
    return F.conv2d(spread, weight.float().flip(-2, -1).transpose(0, 1), padding=weight.shape[-1] - 1 - padding)


def _the_built_in(x, weight, stride, padding):
    return F.conv_transpose2d(x, weight, stride=stride, padding=padding)


def _confusion(predictions, targets, n):
    index = targets.flatten() * n + predictions.flatten()
    return torch.bincount(index, minlength=n * n).reshape(n, n).double()


def _ious(predictions, targets, n):
    matrix = _confusion(predictions, targets, n)
    tp = matrix.diag()
    return tp / (matrix.sum(0) + matrix.sum(1) - tp), matrix


def _absent_as_zero(predictions, targets, n):
    return float(_ious(predictions, targets, n)[0].nan_to_num(0.0).mean())


def _absent_gives_nan(predictions, targets, n):
    return float(_ious(predictions, targets, n)[0].mean())


def _truth_classes_only(predictions, targets, n):
    ious, matrix = _ious(predictions, targets, n)
    return float(ious[matrix.sum(1) > 0].mean())


def _per_image(predictions, targets, n):
    return sum(float(_ious(p, t, n)[0].nanmean()) for p, t in zip(predictions, targets)) / len(predictions)


def test_the_reference_solutions_pass():
    assert week05.check_conv_transpose_via_conv(SOLUTIONS["conv_transpose2d_via_conv"])
    assert week05.check_mean_iou_from_masks(SOLUTIONS["mean_iou_from_masks"])


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (_kernel_not_flipped, "kernel NOT flipped"),
        (_zeros_after_the_last_pixel, "none after the last pixel"),
        (_padding_ignored, "kernel_size - 1 - padding"),
        (_detached, "no gradient reaches x"),
        (_float32_zeros, "the dtype should be torch.float64"),
        (_the_built_in, "your code calls F.conv_transpose2d"),
    ],
)
def test_a_wrong_transposed_convolution_fails_with_the_reason(wrong, fragment):
    result = week05.check_conv_transpose_via_conv(wrong)
    assert result.status == "failed" and fragment in result.message, result.message


def test_the_refusal_of_the_built_in_is_lifted_after_the_check():
    week05.check_conv_transpose_via_conv(_the_built_in)
    x, w = torch.randn(1, 1, 3, 3), torch.randn(1, 1, 2, 2)
    assert F.conv_transpose2d(x, w).shape == (1, 1, 4, 4)


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (_absent_as_zero, "as IoU 0: leave them out"),
        (_absent_gives_nan, "your mean IoU is NaN"),
        (_truth_classes_only, "predicted but absent from the truth"),
        (_per_image, "you averaged per image"),
    ],
)
def test_a_wrong_mean_iou_fails_with_the_reason(wrong, fragment):
    result = week05.check_mean_iou_from_masks(wrong)
    assert result.status == "failed" and fragment in result.message, result.message


@pytest.mark.parametrize("checker", [week05.check_conv_transpose_via_conv, week05.check_mean_iou_from_masks])
def test_a_stub_is_not_done_yet(checker):
    def stub(*args):
        raise NotImplementedError("write it")

    assert checker(stub).status == "not implemented"
