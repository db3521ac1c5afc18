"""Week 3's checkers pass the notebook's solutions and catch the mistakes students make."""

import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

from utils.exercises import week03

SOLUTIONS = solution_namespace("week03_training_tuning")


def test_the_notebooks_solutions_pass():
    assert week03.check_sgd_step(SOLUTIONS["sgd_step"])
    assert week03.check_label_smoothing(SOLUTIONS["label_smoothing_cross_entropy"])


def test_decoupled_weight_decay_is_caught_in_the_velocity():
    def decoupled(parameter, gradient, velocity, lr, momentum, weight_decay):  # AdamW's rule, not SGD's
        velocity = momentum * velocity + gradient
        return parameter - lr * velocity - lr * weight_decay * parameter, velocity

    result = week03.check_sgd_step(decoupled)
    assert (
        result.status == "failed"
        and "weight decay 0.01, step 1, the velocity: 12 of 12 values are wrong" in result.message
    )


def test_a_running_average_for_the_velocity_is_caught():
    def dampened(parameter, gradient, velocity, lr, momentum, weight_decay):
        velocity = momentum * velocity + (1 - momentum) * (gradient + weight_decay * parameter)
        return parameter - lr * velocity, velocity

    result = week03.check_sgd_step(dampened)
    assert result.status == "failed" and "step 1, the velocity" in result.message


def test_forgotten_weight_decay_is_caught():
    def no_decay(parameter, gradient, velocity, lr, momentum, weight_decay):
        velocity = momentum * velocity + gradient
        return parameter - lr * velocity, velocity

    result = week03.check_sgd_step(no_decay)
    assert result.status == "failed" and "weight decay 0.01, step 1, the velocity" in result.message


def test_the_parameter_moved_with_the_old_velocity_is_caught():
    def old_velocity(parameter, gradient, velocity, lr, momentum, weight_decay):
        new_velocity = momentum * velocity + gradient + weight_decay * parameter
        return parameter - lr * (velocity + gradient + weight_decay * parameter), new_velocity

    result = week03.check_sgd_step(old_velocity)
    assert result.status == "failed" and "weight decay 0.01, step 2, the parameter" in result.message


def test_gradient_ascent_is_caught():
    def ascent(parameter, gradient, velocity, lr, momentum, weight_decay):
        velocity = momentum * velocity + gradient + weight_decay * parameter
        return parameter + lr * velocity, velocity

    result = week03.check_sgd_step(ascent)
    assert result.status == "failed" and "step 1, the parameter" in result.message


def test_returning_only_the_parameter_is_named():
    result = week03.check_sgd_step(lambda p, g, v, lr, mu, wd: p - lr * g)
    assert result.status == "failed" and "return a tuple (new_parameter, new_velocity)" in result.message


def _smoothed(logits, targets, on_true, on_others, reduce=torch.mean):
    target = torch.full_like(logits, on_others).scatter(1, targets[:, None], on_true)
    return reduce(-(target * F.log_softmax(logits, dim=1)).sum(dim=1))


def test_spreading_over_the_other_classes_only_is_caught():
    def other_classes(logits, targets, smoothing):  # eps / (C - 1) on the wrong classes, 1 - eps on the right one
        return _smoothed(logits, targets, 1 - smoothing, smoothing / (logits.shape[1] - 1))

    result = week03.check_label_smoothing(other_classes)
    assert (
        result.status == "failed" and "on 8 rows, 10 classes, smoothing 0.1: 1 of 1 values are wrong" in result.message
    )


def test_softmax_then_log_is_caught_on_huge_logits():
    def naive(logits, targets, smoothing):
        n_classes = logits.shape[1]
        target = (1 - smoothing) * F.one_hot(targets, n_classes).to(logits.dtype) + smoothing / n_classes
        return -(target * logits.softmax(dim=1).log()).sum(dim=1).mean()

    result = week03.check_label_smoothing(naive)
    assert (
        result.status == "failed"
        and "logits in the hundreds, smoothing 0.1: your result contains NaN or infinity" in result.message
    )


def test_a_sum_over_the_batch_is_caught():
    def summed(logits, targets, smoothing):
        n_classes = logits.shape[1]
        return _smoothed(logits, targets, 1 - smoothing + smoothing / n_classes, smoothing / n_classes, torch.sum)

    result = week03.check_label_smoothing(summed)
    assert (
        result.status == "failed" and "on 8 rows, 10 classes, smoothing 0.1: 1 of 1 values are wrong" in result.message
    )


def test_a_per_row_loss_is_caught_by_its_shape():
    def per_row(logits, targets, smoothing):
        n_classes = logits.shape[1]
        return _smoothed(logits, targets, 1 - smoothing + smoothing / n_classes, smoothing / n_classes, lambda v: v)

    result = week03.check_label_smoothing(per_row)
    assert result.status == "failed" and "the shape should be (), yours is (8,)" in result.message


def test_a_stub_is_not_done_yet():
    def stub(*args):
        raise NotImplementedError("build the smoothed target distribution")

    assert week03.check_sgd_step(stub).status == "not implemented"
    assert week03.check_label_smoothing(stub).status == "not implemented"
