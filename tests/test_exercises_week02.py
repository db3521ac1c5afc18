"""Week 2's checkers pass the notebook's solutions and catch the mistakes students make."""

import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

from utils.exercises import week02

SOLUTIONS = solution_namespace("week02_cnn_foundations")


def test_the_notebooks_solutions_pass():
    assert week02.check_max_pool(SOLUTIONS["max_pool_unfold"])
    assert week02.check_conv2d_backward(SOLUTIONS["Conv2dFunction"])


def _output_size(size, kernel, stride):
    return (size - kernel) // stride + 1


def test_average_instead_of_maximum_is_caught():
    def average(x, k, s):
        n, c, h, w = x.shape
        windows = F.unfold(x, k, stride=s).view(n, c, k * k, -1)
        return windows.mean(dim=2).view(n, c, _output_size(h, k, s), _output_size(w, k, s))

    result = week02.check_max_pool(average)
    assert result.status == "failed" and "kernel 2, stride 2: 96 of 96 values are wrong" in result.message


def test_the_channels_mixed_into_the_windows_are_caught():
    def channels_last(x, k, s):  # assumes the rows of unfold are (k * k, C) instead of (C, k * k)
        n, c, h, w = x.shape
        windows = F.unfold(x, k, stride=s).view(n, k * k, c, -1)
        return windows.amax(dim=1).view(n, c, _output_size(h, k, s), _output_size(w, k, s))

    result = week02.check_max_pool(channels_last)
    assert result.status == "failed" and "values are wrong" in result.message


def test_height_and_width_swapped_are_caught_on_a_non_square_input():
    def swapped(x, k, s):
        n, c, h, w = x.shape
        windows = F.unfold(x, k, stride=s).view(n, c, k * k, -1)
        return windows.amax(dim=2).view(n, c, _output_size(w, k, s), _output_size(h, k, s))

    result = week02.check_max_pool(swapped)
    assert (
        result.status == "failed"
        and "7 x 9, kernel 3, stride 2 (overlapping windows): the shape should be (1, 1, 3, 4), yours is (1, 1, 4, 3)"
        in result.message
    )


def test_a_maximum_that_starts_from_zero_is_caught_on_negative_inputs():
    def from_zero(x, k, s):  # max(0, window values): ReLU sneaked in
        n, c, h, w = x.shape
        windows = F.unfold(x, k, stride=s).view(n, c, k * k, -1)
        return windows.amax(dim=2).clamp(min=0).view(n, c, _output_size(h, k, s), _output_size(w, k, s))

    result = week02.check_max_pool(from_zero)
    assert result.status == "failed" and "8 x 8, kernel 2, stride 2: 3 of 96 values are wrong" in result.message


def _backward_with(change):
    """The notebook's Conv2dFunction with its backward pass's gradients passed through ``change``."""
    solution = SOLUTIONS["Conv2dFunction"]

    class Changed(torch.autograd.Function):
        forward = staticmethod(solution.forward)

        @staticmethod
        def backward(ctx, grad_output):
            return change(ctx, grad_output, *solution.backward(ctx, grad_output))

    return Changed


def test_a_bias_gradient_averaged_instead_of_summed_is_caught():
    def averaged(ctx, grad_output, grad_x, grad_weight, grad_bias, *rest):
        return grad_x, grad_weight, grad_output.mean(dim=(0, 2, 3)), *rest

    result = week02.check_conv2d_backward(_backward_with(averaged))
    assert (
        result.status == "failed"
        and "padding 0, the gradient with respect to argument 3: 4 of 4 values are wrong" in result.message
    )


def test_a_weight_gradient_of_the_first_image_only_is_caught():
    def first_image(ctx, grad_output, grad_x, grad_weight, grad_bias, *rest):
        x, weight, patches = ctx.saved_tensors
        grad = grad_output.reshape(len(x), weight.shape[0], -1)
        return grad_x, (grad[0] @ patches[0].T).view_as(weight), grad_bias, *rest

    result = week02.check_conv2d_backward(_backward_with(first_image))
    assert result.status == "failed" and "the gradient with respect to argument 2" in result.message


def test_fold_without_the_stride_is_caught():
    def no_stride(ctx, grad_output, grad_x, grad_weight, grad_bias, *rest):
        x, weight, patches = ctx.saved_tensors
        grad = grad_output.reshape(len(x), weight.shape[0], -1)
        columns = weight.view(weight.shape[0], -1).T @ grad
        return F.fold(columns, x.shape[-2:], weight.shape[-2:], padding=ctx.padding), grad_weight, grad_bias, *rest

    result = week02.check_conv2d_backward(_backward_with(no_stride))
    assert (
        result.status == "failed" and "stride 2, padding 1, backpropagation through your code failed" in result.message
    )


def test_a_missing_input_gradient_is_caught():
    def none_for_x(ctx, grad_output, grad_x, grad_weight, grad_bias, *rest):
        return None, grad_weight, grad_bias, *rest

    result = week02.check_conv2d_backward(_backward_with(none_for_x))
    assert result.status == "failed" and "no gradient reaches argument 1" in result.message, result.message


def test_a_broken_forward_pass_is_caught_before_the_gradients():
    solution = SOLUTIONS["Conv2dFunction"]

    class NoBias(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, stride=1, padding=0):
            return solution.forward(ctx, x, weight, torch.zeros_like(bias), stride, padding)

        backward = staticmethod(solution.backward)

    result = week02.check_conv2d_backward(NoBias)
    assert result.status == "failed" and "padding 0, the forward pass: 128 of 128 values are wrong" in result.message


def test_a_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError("unfold x into windows")

    class StubBackward(torch.autograd.Function):
        forward = staticmethod(SOLUTIONS["Conv2dFunction"].forward)

        @staticmethod
        def backward(ctx, grad_output):
            raise NotImplementedError("the gradients with respect to x, weight and bias")

    assert week02.check_max_pool(stub).status == "not implemented"
    result = week02.check_conv2d_backward(StubBackward)
    assert result.status == "not implemented" and "the gradients with respect to x, weight and bias" in result.message
