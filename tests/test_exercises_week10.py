"""Week 10's checkers pass the notebook's solutions and catch the mistakes students make."""

import math

import pytest
import torch
from exercise_cells import solution_namespace

from utils.exercises import week10
from utils.project import inverse_frequency_weights

SOLUTIONS = solution_namespace("week10_final_project_starter")


def test_the_notebooks_solutions_pass():
    assert week10.check_inverse_frequency_weights(SOLUTIONS["inverse_frequency_weights"])
    assert week10.check_wilson_interval(SOLUTIONS["wilson_interval"])


def test_frequencies_instead_of_inverse_frequencies_are_caught():
    result = week10.check_inverse_frequency_weights(lambda t, c: torch.bincount(t, minlength=c).float() / len(t))
    assert result.status == "failed" and "3 of 3 values are wrong" in result.message


def test_infinite_weights_for_an_empty_class_are_caught():
    result = week10.check_inverse_frequency_weights(lambda t, c: len(t) / (c * torch.bincount(t, minlength=c).float()))
    assert result.status == "failed" and "class 1 has no example" in result.message and "inf" in result.message


def test_a_missing_last_class_without_minlength_is_caught():
    def without_minlength(targets, num_classes):
        counts = torch.bincount(targets)
        if (counts == 0).any():
            raise ValueError("empty class")
        return len(targets) / (num_classes * counts.float())

    result = week10.check_inverse_frequency_weights(without_minlength)
    assert result.status == "failed" and "class 2, the last, has no example" in result.message


def test_float64_weights_are_named():
    def float64(targets, num_classes):
        return inverse_frequency_weights(targets, num_classes).double()

    result = week10.check_inverse_frequency_weights(float64)
    assert result.status == "failed" and "the dtype should be torch.float32" in result.message


def test_the_normal_approximation_is_caught():
    def wald(correct, total):
        p = correct / total
        half = 1.96 * math.sqrt(p * (1 - p) / total)
        return p - half, p + half

    result = week10.check_wilson_interval(wald)
    assert result.status == "failed" and "on 58 right of 62" in result.message


def test_the_reference_refuses_bad_input():
    with pytest.raises(ValueError, match="class 1 has no example"):
        inverse_frequency_weights(torch.tensor([0, 2]), 3)
    with pytest.raises(ValueError, match="integer class ids"):
        inverse_frequency_weights(torch.tensor([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="must lie in 0..1"):
        inverse_frequency_weights(torch.tensor([0, 2]), 2)
    assert inverse_frequency_weights(torch.tensor([0, 0, 0, 1]), 2).tolist() == pytest.approx([4 / 6, 2.0])


def test_a_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError("count each class")

    assert week10.check_inverse_frequency_weights(stub).status == "not implemented"
    assert week10.check_wilson_interval(stub).status == "not implemented"
