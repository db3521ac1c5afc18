"""Week 3's coding exercises: one step of SGD with momentum and weight decay, and label-smoothed cross-entropy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from utils.exercises import Case, CheckFailed, CheckResult, call, check_function, expect_close, random_tensor, report


@dataclass(frozen=True)
class SGDRun:
    """A few steps of ``torch.optim.SGD`` on one parameter, from its start value and a list of gradients."""

    description: str
    shape: tuple[int, ...]
    lr: float
    momentum: float
    weight_decay: float
    steps: int = 4


SGD_RUNS = [
    SGDRun("a 3 x 4 parameter, lr 0.1, momentum 0.9, weight decay 0.01", (3, 4), 0.1, 0.9, 0.01),
    SGDRun("a 5-element parameter, plain SGD (momentum 0, weight decay 0)", (5,), 0.05, 0.0, 0.0),
    SGDRun("a 2 x 3 parameter, momentum 0.9, no weight decay", (2, 3), 0.2, 0.9, 0.0),
    SGDRun("a 4-element parameter, no momentum, weight decay 0.5", (4,), 0.1, 0.0, 0.5),
    SGDRun("a 2 x 2 x 3 parameter, lr 0.5, momentum 0.5, weight decay 0.1", (2, 2, 3), 0.5, 0.5, 0.1),
]


def reference_sgd(
    start: torch.Tensor, gradients: list[torch.Tensor], run: SGDRun
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(parameter, velocity) after each step of ``torch.optim.SGD`` (velocity: its momentum buffer)."""
    parameter = torch.nn.Parameter(start.clone())
    optimizer = torch.optim.SGD([parameter], lr=run.lr, momentum=run.momentum, weight_decay=run.weight_decay)
    states, previous = [], start.clone()
    for gradient in gradients:
        parameter.grad = gradient.clone()
        optimizer.step()
        buffer = optimizer.state[parameter].get("momentum_buffer")  # None without momentum
        velocity = buffer.clone() if buffer is not None else gradient + run.weight_decay * previous
        previous = parameter.detach().clone()
        states.append((previous, velocity))
    return states


def check_sgd_step(student: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> CheckResult:
    """Check ``sgd_step(parameter, gradient, velocity, lr, momentum, weight_decay) -> (parameter, velocity)``.

    The student's step is applied ``run.steps`` times, from a zero velocity, and compared after every step
    with ``torch.optim.SGD`` (the parameter, and the velocity against its momentum buffer).
    """

    def outcome() -> str:
        for number, run in enumerate(SGD_RUNS):
            start = random_tensor(*run.shape, seed=100 + number)
            gradients = [random_tensor(*run.shape, seed=200 + 10 * number + step) for step in range(run.steps)]
            parameter, velocity = start.clone(), torch.zeros_like(start)
            for step, (gradient, (expected_parameter, expected_velocity)) in enumerate(
                zip(gradients, reference_sgd(start, gradients, run), strict=True), start=1
            ):
                case = Case(
                    f"{run.description}, step {step}",
                    (parameter, gradient, velocity, run.lr, run.momentum, run.weight_decay),
                )
                answer = call(student, case)
                if not isinstance(answer, tuple) or len(answer) != 2:
                    raise CheckFailed(f"on {case.description}: return a tuple (new_parameter, new_velocity)")
                parameter, velocity = answer
                expect_close(velocity, expected_velocity, f"on {case.description}, the velocity")
                expect_close(parameter, expected_parameter, f"on {case.description}, the parameter")
        return (
            f"parameters and velocities match torch.optim.SGD after every step of all {len(SGD_RUNS)} runs "
            "(with and without momentum and weight decay)."
        )

    return report(
        "sgd_step",
        outcome,
        hint=(
            "torch.optim.SGD adds the weight decay to the gradient first, g = gradient + weight_decay * parameter, "
            "then velocity = momentum * velocity + g (no (1 - momentum) factor), then parameter - lr * velocity"
        ),
    )


def reference_label_smoothing(logits: torch.Tensor, targets: torch.Tensor, smoothing: float) -> torch.Tensor:
    """PyTorch's cross-entropy with label smoothing (mean over the batch)."""
    return F.cross_entropy(logits, targets, label_smoothing=smoothing)


def _label_smoothing_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(3)
    cases = []
    for description, n, classes, smoothing, scale in [
        ("8 rows, 10 classes, smoothing 0.1", 8, 10, 0.1, 1.0),
        ("8 rows, 10 classes, smoothing 0 (plain cross-entropy)", 8, 10, 0.0, 1.0),
        ("one row, 2 classes, smoothing 0.2", 1, 2, 0.2, 1.0),
        ("16 rows, 100 classes, smoothing 0.3", 16, 100, 0.3, 3.0),
        ("6 rows, 5 classes, smoothing 1 (the target is uniform)", 6, 5, 1.0, 1.0),
        ("8 rows, 10 classes, logits in the hundreds, smoothing 0.1", 8, 10, 0.1, 300.0),
    ]:
        logits = torch.randn(n, classes, generator=generator, dtype=torch.float64) * scale
        targets = torch.randint(classes, (n,), generator=generator)
        cases.append(Case(description, (logits, targets, smoothing)))
    return cases


def check_label_smoothing(student: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> CheckResult:
    """Check ``label_smoothing_cross_entropy(logits (N, C), targets (N,), smoothing)`` against ``F.cross_entropy``."""
    return check_function(
        "label_smoothing_cross_entropy",
        student,
        reference_label_smoothing,
        _requiring_grad(_label_smoothing_cases(), (0,)),
        hint=(
            "the target distribution is (1 - smoothing) * one_hot + smoothing / C on every class (the true one "
            "included: C, not C - 1); the loss is -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean(); "
            "take log_softmax, never softmax().log(), which gives -inf for large logits"
        ),
        gradients=(0,),
    )


def _requiring_grad(cases: list[Case], positions: tuple[int, ...]) -> list[Case]:
    """The cases with the tensors at ``positions`` made leaves that require gradients (for compare_gradients)."""
    return [
        Case(
            case.description,
            tuple(arg.detach().requires_grad_(True) if i in positions else arg for i, arg in enumerate(case.args)),
            case.kwargs,
        )
        for case in cases
    ]


__all__ = ["SGD_RUNS", "check_label_smoothing", "check_sgd_step", "reference_label_smoothing", "reference_sgd"]
