"""Week 1's checkers pass the notebook's solutions and catch the mistakes students make."""

import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

from utils.exercises import week01

SOLUTIONS = solution_namespace("week01_introduction")


def test_the_notebooks_solutions_pass():
    assert week01.check_separable_filter(SOLUTIONS["separable_filter"])
    assert week01.check_standardize_channels(SOLUTIONS["standardize_channels"])


def _per_channel(x, kernel):
    n, c, h, w = x.shape
    out = F.conv2d(x.reshape(n * c, 1, h, w), kernel)
    return out.view(n, c, out.shape[-2], out.shape[-1])


def test_swapping_the_column_and_the_row_is_caught_by_its_shape():
    def swapped(x, column, row):
        return _per_channel(_per_channel(x, column.view(1, 1, 1, -1)), row.view(1, 1, -1, 1))

    result = week01.check_separable_filter(swapped)
    assert result.status == "failed" and "the shape should be (2, 3, 7, 7), yours is (2, 3, 5, 9)" in result.message


def test_summing_the_channels_is_caught():
    def summed(x, column, row):
        kernel = torch.outer(column, row).expand(1, x.shape[1], len(column), len(row))
        return F.conv2d(x, kernel)  # one output channel: the channels are added up

    result = week01.check_separable_filter(summed)
    assert result.status == "failed" and "the shape should be (2, 3, 7, 7), yours is (2, 1, 7, 7)" in result.message


def test_a_flipped_kernel_is_caught_by_its_values():
    def flipped(x, column, row):  # the mathematicians' convolution: the kernel is flipped
        return _per_channel(_per_channel(x, column.flip(0).view(1, 1, -1, 1)), row.flip(0).view(1, 1, 1, -1))

    result = week01.check_separable_filter(flipped)
    assert result.status == "failed" and "a 3-tap column and a 5-tap row: " in result.message
    assert "values are wrong" in result.message


def test_same_padding_is_caught_by_its_shape():
    def padded(x, column, row):
        n, c, h, w = x.shape
        out = F.conv2d(x.reshape(n * c, 1, h, w), column.view(1, 1, -1, 1), padding="same")
        return F.conv2d(out, row.view(1, 1, 1, -1), padding="same").view(n, c, h, w)

    result = week01.check_separable_filter(padded)
    assert result.status == "failed" and "the shape should be (2, 3, 7, 7), yours is (2, 3, 9, 11)" in result.message


def test_the_unbiased_variance_is_caught():
    def unbiased(x, eps=1e-5):
        return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True) + eps)

    result = week01.check_standardize_channels(unbiased)
    assert (
        result.status == "failed" and "different means and scales, 5 x 5: 599 of 600 values are wrong" in result.message
    )


def test_per_image_statistics_are_caught():
    def per_image(x, eps=1e-5):
        mean, var = x.mean(dim=(2, 3), keepdim=True), x.var(dim=(2, 3), correction=0, keepdim=True)
        return (x - mean) / torch.sqrt(var + eps)

    result = week01.check_standardize_channels(per_image)
    assert result.status == "failed" and "on 8 images, 3 channels of very different means and scales" in result.message


def test_one_mean_for_all_channels_is_caught():
    def global_statistics(x, eps=1e-5):
        return (x - x.mean()) / torch.sqrt(x.var(correction=0) + eps)

    result = week01.check_standardize_channels(global_statistics)
    assert result.status == "failed" and "values are wrong" in result.message


def test_eps_outside_the_square_root_is_caught_by_the_constant_channels_gradient():
    def eps_outside(x, eps=1e-5):
        return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / (x.std(dim=(0, 2, 3), correction=0, keepdim=True) + eps)

    result = week01.check_standardize_channels(eps_outside)
    assert (
        result.status == "failed"
        and "channel 1 is constant (it should become 0, not NaN), the gradient" in result.message
    )


def test_no_eps_is_caught_on_the_constant_channel():
    def no_eps(x, eps=1e-5):
        return (x - x.mean(dim=(0, 2, 3), keepdim=True)) / x.std(dim=(0, 2, 3), correction=0, keepdim=True)

    result = week01.check_standardize_channels(no_eps)
    assert (
        result.status == "failed" and "channel 1 is constant" in result.message and "NaN or infinity" in result.message
    )


def test_a_detached_result_is_caught():
    def detached(x, eps=1e-5):
        return SOLUTIONS["standardize_channels"](x.detach(), eps)

    result = week01.check_standardize_channels(detached)
    assert result.status == "failed" and "not connected to the inputs in the autograd graph" in result.message


def test_a_stub_is_not_done_yet():
    def stub(*args, **kwargs):
        raise NotImplementedError("fold the channels into the batch")

    assert week01.check_separable_filter(stub).status == "not implemented"
    assert week01.check_standardize_channels(stub).status == "not implemented"
