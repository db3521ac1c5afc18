"""The checker framework (utils.exercises): each kind of mistake is put into words; right code passes."""

import pytest
import torch
import torch.nn.functional as F
from gpu_simulation import simulated_gpu

from utils.exercises import (
    Case,
    CheckFailed,
    call,
    check_function,
    compare_gradients,
    check_gradcheck,
    expect_close,
    finite_number,
    random_tensor,
    report,
)

CASES = [
    Case("a 4x4 map", (random_tensor(1, 1, 4, 4, seed=0, grad=True),)),
    Case("a batch of 2, 3 channels", (random_tensor(2, 3, 6, 6, seed=1, grad=True),)),
]


def max_pool(x):
    return F.max_pool2d(x, 2)


def check(student):
    return check_function("pool", student, max_pool, CASES, hint="take the max", gradients=(0,))


def test_right_code_passes_and_names_its_cases():
    result = check(max_pool)
    assert result and result.status == "passed" and result.cases_run == 2
    assert "a 4x4 map; a batch of 2, 3 channels" in result.message


@pytest.mark.parametrize(
    "student, problem",
    [
        (lambda x: F.avg_pool2d(x, 2), "on a 4x4 map: 4 of 4 values are wrong"),
        (lambda x: F.max_pool2d(x, 2)[0], "the shape should be (1, 1, 2, 2), yours is (1, 2, 2)"),
        (lambda x: F.max_pool2d(x, 2).float(), "the dtype should be torch.float64, yours is torch.float32"),
        (lambda x: F.max_pool2d(x.detach(), 2), "not connected to the inputs in the autograd graph"),
        (lambda x: F.max_pool2d(x, 2) * float("nan"), "contains NaN or infinity"),
        (lambda x: x.view(-1, 3), "your code raised RuntimeError"),
    ],
)
def test_each_mistake_is_named_with_the_hint(student, problem, capsys):
    result = check(student)
    assert result.status == "failed" and not result
    printed = capsys.readouterr().out
    assert problem in printed and "Hint: take the max" in printed


def test_a_wrong_gradient_is_caught_when_the_values_are_right():
    class WrongBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return F.max_pool2d(x, 2)

        @staticmethod
        def backward(ctx, grad):
            return F.interpolate(grad, scale_factor=2) / 4  # spreads the gradient like an average pool

    result = check(WrongBackward.apply)
    assert result.status == "failed" and "the gradient with respect to argument 1" in result.message


def test_a_stub_is_not_done_yet_and_shows_its_task():
    def stub(x):
        raise NotImplementedError("unfold, then take the max")

    result = check(stub)
    assert result.status == "not implemented" and "(unfold, then take the max)" in result.message


def test_in_place_edits_of_an_input_do_not_leak_into_the_next_call():
    original = CASES[0].args[0].detach().clone()
    call(lambda x: x.detach().zero_(), CASES[0])
    assert torch.equal(CASES[0].args[0].detach(), original)


def test_expect_close_reports_numbers_and_devices():
    with pytest.raises(CheckFailed, match="yours is 2, the reference gives 3"):
        expect_close(2.0, 3.0, "sum")
    with pytest.raises(CheckFailed, match="expected a tensor, got list"):
        expect_close([1.0], torch.ones(1), "out")
    with pytest.raises(CheckFailed, match="the result is on meta, the inputs on cpu"):
        expect_close(torch.ones(2, device="meta"), torch.ones(2), "out")
    expect_close(torch.ones(0, 4), torch.ones(0, 4), "empty")  # empty tensors of the right shape pass


def test_gradcheck_failures_are_put_into_words():
    class Doubled(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 3

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    with pytest.raises(CheckFailed, match="differs from finite differences"):
        check_gradcheck("x * 3", Doubled.apply, (random_tensor(3, seed=0, grad=True),))
    check_gradcheck("x * 3", lambda x: x * 3, (random_tensor(3, seed=0, grad=True),))


def test_report_and_finite_number():
    assert report("ok", lambda: "fine", hint="").status == "passed"
    assert finite_number(torch.tensor(2.5), "x") == 2.5
    with pytest.raises(CheckFailed, match="expected a finite number"):
        finite_number(float("nan"), "x")


def test_unknown_attributes_are_refused():
    import utils.exercises

    with pytest.raises(AttributeError, match="no attribute 'weekly'"):
        utils.exercises.weekly  # noqa: B018


def _scaled_sum(x, y):
    return 2 * x + y


def test_an_input_the_output_ignores_is_named_in_the_failure():
    case = Case("two inputs", (random_tensor(3, seed=40, grad=True), random_tensor(3, seed=41, grad=True)))
    with pytest.raises(CheckFailed, match="no gradient reaches y: your output does not depend on it"):
        compare_gradients(lambda x, y: 2 * x + y.detach(), _scaled_sum, case, (0, 1), atol=1e-8, names=("x", "y"))


def test_gradients_are_compared_on_the_inputs_device():
    with simulated_gpu():
        x, y = (random_tensor(3, seed=seed).to("cuda").requires_grad_(True) for seed in (42, 43))
        compare_gradients(_scaled_sum, _scaled_sum, Case("on the GPU", (x, y)), (0, 1), atol=1e-8)
