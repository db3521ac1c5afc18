"""Checkers for the coding exercises: a student's function or module against the course's reference.

Each week has a module here (``utils.exercises.week02`` ...) with one ``check_<name>(student)`` per coding
exercise. A checker runs the student's code on random inputs and on edge cases, compares every output
with the reference (shape, dtype, device, values) and, where gradients matter, the gradients too. It
prints one verdict: what is right, or the first thing that is wrong and a hint. It returns a
:class:`CheckResult`, which is true only when everything passed.

A stub from the student edition raises ``NotImplementedError``; the checker reports "not done yet"
instead of a traceback, so that Run All goes on to the end of the notebook.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from utils.notebook import compare

Status = Literal["passed", "failed", "not implemented"]


@dataclass(frozen=True)
class Case:
    """One input to try: a short description (shown when it fails) and the arguments."""

    description: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict. ``bool(result)`` is True only when every check passed."""

    exercise: str
    status: Status
    message: str
    cases_run: int = 0

    def __bool__(self) -> bool:
        return self.status == "passed"

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the checker has printed its verdict already."""


class CheckFailed(Exception):
    """Raised inside a checker to stop at the first problem; the message says what is wrong."""


def report(exercise: str, outcome: Callable[[], str], hint: str) -> CheckResult:
    """Run ``outcome`` (a function that raises CheckFailed or returns a success line) and print the verdict.

    The student's ``NotImplementedError`` becomes "not done yet"; any other exception from the student's
    code becomes a failure that names the exception, so a student never has to read the checker's traceback.
    """
    try:
        success = outcome()
    except NotImplementedError as error:
        task = f" ({error})" if str(error) else ""
        message = f"⏳ {exercise}: not done yet{task}. Write it, then run this cell again."
        return _verdict(exercise, "not implemented", message)
    except CheckFailed as failure:
        return _verdict(exercise, "failed", f"❌ {exercise}: {failure}\n   Hint: {hint}")
    return _verdict(exercise, "passed", f"✅ {exercise}: {success}")


def _verdict(exercise: str, status: Status, message: str) -> CheckResult:
    print(message)
    return CheckResult(exercise, status, message)


def call(student: Callable[..., Any], case: Case, copy_inputs: bool = True) -> Any:
    """Call the student's code on the case's arguments, by default on fresh copies (so in-place edits cannot leak)."""
    args = tuple(_fresh(value) for value in case.args) if copy_inputs else case.args
    kwargs = {key: _fresh(value) for key, value in case.kwargs.items()} if copy_inputs else case.kwargs
    try:
        return student(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 - any bug in the student's code is reported, not raised
        raise CheckFailed(f"on {case.description}, your code raised {type(error).__name__}: {error}") from None


def _fresh(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().requires_grad_(value.requires_grad)
    return value


def expect_close(answer: Any, expected: Any, what: str, atol: float = 1e-5) -> None:
    """Raise CheckFailed unless ``answer`` equals ``expected`` (tensors: same shape, dtype and device first)."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(answer, torch.Tensor):
            raise CheckFailed(f"{what}: expected a tensor, got {type(answer).__name__}")
        if answer.shape != expected.shape:
            raise CheckFailed(f"{what}: the shape should be {tuple(expected.shape)}, yours is {tuple(answer.shape)}")
        if answer.dtype != expected.dtype:
            raise CheckFailed(f"{what}: the dtype should be {expected.dtype}, yours is {answer.dtype}")
        if answer.device != expected.device:
            raise CheckFailed(
                f"{what}: the result is on {answer.device}, the inputs on {expected.device} "
                "(create new tensors with device=x.device)"
            )
        if answer.numel() and not bool(torch.isfinite(answer).all()) and bool(torch.isfinite(expected).all()):
            raise CheckFailed(f"{what}: your result contains NaN or infinity where every value should be finite")
        if answer.numel() and expected.is_floating_point():
            difference = (answer.detach().double() - expected.detach().double()).abs()
            tolerance = atol + 1e-4 * expected.detach().double().abs()
            if bool((difference > tolerance).any()):
                worst = int(difference.argmax())
                index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), answer.shape))
                raise CheckFailed(
                    f"{what}: {int((difference > tolerance).sum())} of {answer.numel()} values are wrong; the largest "
                    f"error is {float(difference.flatten()[worst]):.3g} at index {index}"
                )
            return
    right, reason = compare(answer, expected, atol)
    if not right and _is_real(answer) and _is_real(expected):  # a random input's value gives nothing away
        raise CheckFailed(f"{what}: yours is {float(answer):.6g}, the reference gives {float(expected):.6g}")
    if not right:
        raise CheckFailed(f"{what}: {reason}")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_function(
    exercise: str,
    student: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Iterable[Case],
    hint: str,
    *,
    gradients: Sequence[int] = (),
    atol: float = 1e-5,
) -> CheckResult:
    """Compare ``student(*case.args)`` with ``reference(*case.args)`` on every case.

    ``gradients`` lists the positions of tensor arguments whose gradients must match the reference's
    too (the cases should then give those arguments in float64 with ``requires_grad=True``).
    """
    cases = list(cases)

    def outcome() -> str:
        for case in cases:
            expected = reference(*case.args, **case.kwargs)
            answer = call(student, case)
            expect_close(answer, expected, f"on {case.description}", atol)
            if gradients:
                compare_gradients(student, reference, case, gradients, atol)
        extra = " and gradients" if gradients else ""
        return (
            f"outputs{extra} match the reference on all {len(cases)} cases ({'; '.join(c.description for c in cases)})."
        )

    result = report(exercise, outcome, hint)
    return CheckResult(result.exercise, result.status, result.message, len(cases) if result else 0)


def compare_gradients(
    student: Callable[..., Any],
    reference: Callable[..., Any],
    case: Case,
    positions: Sequence[int],
    atol: float,
    names: Sequence[str] | None = None,
) -> None:
    """Backpropagate the same random weighting of both outputs; the inputs' gradients must agree.

    ``names`` (one per position, e.g. ``("x", "weight")``) are how the messages call the arguments.
    """
    inputs = [case.args[i] for i in positions]
    labels = list(names) if names is not None else [f"argument {i + 1}" for i in positions]
    expected_output = reference(*case.args, **case.kwargs)
    weights = torch.randn(
        expected_output.shape, generator=torch.Generator().manual_seed(0), dtype=expected_output.dtype
    ).to(expected_output.device)
    expected = torch.autograd.grad((expected_output * weights).sum(), inputs, allow_unused=True)
    fresh = [
        value.detach().clone().requires_grad_(True) if i in positions else value for i, value in enumerate(case.args)
    ]
    answer_output = call(student, Case(case.description, tuple(fresh), case.kwargs), copy_inputs=False)
    if not isinstance(answer_output, torch.Tensor) or answer_output.grad_fn is None:
        raise CheckFailed(
            f"on {case.description}, the output is not connected to the inputs in the autograd graph "
            "(did you use .detach(), .item(), .numpy() or torch.no_grad()?)"
        )
    try:
        answers = torch.autograd.grad((answer_output * weights).sum(), [fresh[i] for i in positions], allow_unused=True)
    except NotImplementedError:  # a subclass of RuntimeError: a stub's backward is "not done yet"
        raise
    except RuntimeError as error:
        raise CheckFailed(f"on {case.description}, backpropagation through your code failed: {error}") from None
    for position, label, answer, wanted in zip(positions, labels, answers, expected, strict=True):
        if answer is None and wanted is not None:
            raise CheckFailed(
                f"on {case.description}, no gradient reaches {label}: your output does not depend on it in the "
                "autograd graph, or a backward pass returned None for it"
            )
        wanted = torch.zeros_like(case.args[position]) if wanted is None else wanted
        answer = torch.zeros_like(case.args[position]) if answer is None else answer
        expect_close(answer, wanted, f"on {case.description}, the gradient with respect to {label}", atol)


def check_gradcheck(description: str, function: Callable[..., Any], inputs: tuple[torch.Tensor, ...]) -> None:
    """``torch.autograd.gradcheck`` (float64 finite differences) with the failure put into words."""
    try:
        torch.autograd.gradcheck(function, inputs, eps=1e-6, atol=1e-4, raise_exception=True)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 - gradcheck's GradcheckError, or a bug in the student's backward
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckFailed(
            f"on {description}, the gradient of your backward pass differs from finite differences ({first_line})"
        ) from None


def random_tensor(*shape: int, seed: int, dtype: torch.dtype = torch.float64, grad: bool = False) -> torch.Tensor:
    """A reproducible standard-normal tensor for a checker's case."""
    tensor = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return tensor.requires_grad_(grad)


def finite_number(value: Any, what: str) -> float:
    """``value`` as a float, or CheckFailed when it is not a finite real number."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CheckFailed(f"{what}: expected a finite number, got {value!r}")
    return float(value)


def __getattr__(name: str) -> Any:
    """``utils.exercises.week02`` and the like: each week's checkers, imported on first use."""
    if re.fullmatch(r"week\d\d", name):
        return importlib.import_module(f"utils.exercises.{name}")
    raise AttributeError(f"module 'utils.exercises' has no attribute {name!r}")


__all__ = [
    "Case",
    "CheckFailed",
    "CheckResult",
    "call",
    "check_function",
    "check_gradcheck",
    "compare_gradients",
    "expect_close",
    "finite_number",
    "random_tensor",
    "report",
]
