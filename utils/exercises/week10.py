"""Week 10's coding exercises: class weights for an imbalanced folder, and the Wilson interval of a test accuracy."""

from __future__ import annotations

from collections.abc import Callable

import torch

from utils.exercises import Case, CheckFailed, CheckResult, call, check_function, expect_close, report
from utils.project import inverse_frequency_weights, wilson_interval


def _weight_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(10)
    skewed = torch.cat([torch.zeros(50, dtype=torch.long), torch.ones(10, dtype=torch.long), torch.full((5,), 2)])
    return [
        Case("60 targets of 3 classes, balanced", (torch.arange(60) % 3, 3)),
        Case("65 targets of 3 classes, 50 / 10 / 5", (skewed[torch.randperm(65, generator=generator)], 3)),
        Case("200 random targets of 7 classes", (torch.randint(7, (200,), generator=generator), 7)),
        Case("the last class has one example", (torch.tensor([0, 0, 1, 1, 1, 2]), 3)),
    ]


def _absent_class_cases() -> list[Case]:
    return [
        Case("targets [0, 0, 2] of 3 classes: class 1 has no example", (torch.tensor([0, 0, 2]), 3)),
        Case("targets [0, 1, 1] of 3 classes: class 2, the last, has no example", (torch.tensor([0, 1, 1]), 3)),
    ]


def _expect_value_error(student: Callable[[torch.Tensor, int], torch.Tensor], case: Case) -> None:
    try:
        weights = student(*case.args)
    except ValueError:
        return
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the student's code, reported
        raise CheckFailed(f"on {case.description}, raise ValueError, not {type(error).__name__}") from None
    raise CheckFailed(
        f"on {case.description}, your function returned {weights} instead of raising ValueError: "
        "an infinite (or made-up) weight would silently break the loss"
    )


def check_inverse_frequency_weights(student: Callable[[torch.Tensor, int], torch.Tensor]) -> CheckResult:
    """Check ``inverse_frequency_weights(targets (N,), num_classes) -> (num_classes,) float32`` and its refusal."""

    def outcome() -> str:
        cases = _weight_cases()
        for case in cases:
            expect_close(call(student, case), inverse_frequency_weights(*case.args), f"on {case.description}")
        for absent in _absent_class_cases():
            _expect_value_error(student, absent)
        refusal = "refuses a class with no example (in the middle and at the end)"
        return f"matches the reference on all {len(cases)} cases and {refusal}."

    return report(
        "inverse_frequency_weights",
        outcome,
        hint="torch.bincount(targets, minlength=num_classes) counts every class, including those at the end "
        "that never occur; the weights are len(targets) / (num_classes * counts) as float32; check "
        "(counts == 0).any() first and raise ValueError naming the class.",
    )


def _wilson_cases() -> list[Case]:
    return [
        Case("58 right of 62", (58, 62)),
        Case("45 right of 48", (45, 48)),
        Case("0 right of 20 (the interval must start at 0)", (0, 20)),
        Case("20 right of 20 (the interval must end at 1)", (20, 20)),
        Case("1 right of 1", (1, 1)),
        Case("9,870 right of 10,000", (9870, 10000)),
    ]


def check_wilson_interval(student: Callable[[int, int], tuple[float, float]]) -> CheckResult:
    """Check ``wilson_interval(correct, total) -> (low, high)`` (95%) against utils.project's."""
    return check_function(
        "wilson_interval",
        student,
        wilson_interval,
        _wilson_cases(),
        hint="with p = correct / total, n = total and z = 1.96: centre = (p + z^2 / (2n)) / (1 + z^2 / n), "
        "half-width = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2)); return (centre - half, centre + half) "
        "as two floats. The normal approximation p ± z sqrt(p (1 - p) / n) is another, worse, interval.",
        atol=1e-4,
    )
