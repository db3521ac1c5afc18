"""Week 13's checkers pass the notebook's solutions and catch the mistakes students make."""

import torch
from exercise_cells import solution_namespace

from utils.exercises import week13

SOLUTIONS = solution_namespace("week13_course_summary")


def test_the_notebooks_solutions_pass():
    assert week13.check_top_k_accuracy(SOLUTIONS["top_k_accuracy"])
    assert week13.check_frechet_distance(SOLUTIONS["frechet_distance"])


def test_top_k_that_ignores_k_is_caught_with_both_values(capsys):
    def plain_accuracy(logits, targets, k):
        return (logits.argmax(dim=1) == targets).float().mean().item()

    assert week13.check_top_k_accuracy(plain_accuracy).status == "failed"
    assert "k = 5: yours is 0.09375, the reference gives 0.609375" in capsys.readouterr().out


def test_top_k_over_the_wrong_dimension_is_caught():
    def over_the_batch(logits, targets, k):
        return (logits.topk(k, dim=0).indices == targets[:, None]).any(dim=1).float().mean().item()

    result = week13.check_top_k_accuracy(over_the_batch)
    assert result.status == "failed" and "your code raised RuntimeError" in result.message


def test_an_element_wise_square_root_is_caught():
    def elementwise_root(a, b):
        cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
        root = (cov_a @ cov_b).clamp(min=0).sqrt()
        return float((a.mean(0) - b.mean(0)).square().sum() + cov_a.trace() + cov_b.trace() - 2 * root.trace())

    result = week13.check_frechet_distance(elementwise_root)
    assert result.status == "failed" and "different means and spreads: yours is" in result.message


def test_a_distance_of_the_means_alone_is_caught():
    result = week13.check_frechet_distance(lambda a, b: float((a.mean(0) - b.mean(0)).square().sum()))
    assert result.status == "failed"


def test_a_tensor_instead_of_a_float_is_named():
    def as_tensor(a, b):
        return torch.tensor([SOLUTIONS["frechet_distance"](a, b), 0.0])

    result = week13.check_frechet_distance(as_tensor)
    assert result.status == "failed" and "return a Python float, got Tensor" in result.message


def test_a_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError("find each row's k best classes")

    assert week13.check_top_k_accuracy(stub).status == "not implemented"
    assert week13.check_frechet_distance(stub).status == "not implemented"
