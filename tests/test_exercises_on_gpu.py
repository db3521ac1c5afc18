"""The reference solutions of the coding exercises keep their tensors on the inputs' device (simulated GPU).

A student on Colab's GPU calls their function with CUDA tensors; a solution that makes a tensor on the CPU
(``torch.zeros(n)`` without ``device=``) fails there. Each function exercise is checked by its own checker
with every tensor argument moved to the simulated GPU (tests/gpu_simulation.py) and every tensor it returns
required to be on the GPU; the class exercises (modules, an autograd Function) are built and run on the GPU.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from exercise_cells import NOTEBOOKS, checker_expression, exercises, namespace
from gpu_simulation import on_gpu, simulated_gpu
from torch.utils._pytree import tree_flatten, tree_map

from tools.student_edition import solution_source

EXERCISES = [exercise for path in NOTEBOOKS for exercise in exercises(path)]


def _to_gpu(value: Any) -> Any:
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).to("cuda")
    return value.to("cuda") if isinstance(value, torch.Tensor) else value


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_flatten(value)[0] if isinstance(leaf, torch.Tensor)]


def on_the_gpu(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run on GPU copies of its tensor (and model) arguments; what it returns must be on the GPU."""

    @functools.wraps(function)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = function(*tree_map(_to_gpu, args), **tree_map(_to_gpu, kwargs))
        assert all(on_gpu(tensor) for tensor in _tensors(result)), f"{function.__name__} returned a CPU tensor"
        return tree_map(lambda value: value.to("cpu") if isinstance(value, torch.Tensor) else value, result)

    return wrapped


def _solution_and_checker(exercise) -> tuple[dict[str, Any], str, str]:
    scope = namespace()
    exec(solution_source(exercise.solution), scope)  # noqa: S102 - the repository's own notebook code
    expression = checker_expression(exercise.checker)
    call = ast.parse(expression, mode="eval").body
    assert isinstance(call, ast.Call) and isinstance(call.args[0], ast.Name), expression
    return scope, call.args[0].id, expression


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.name)
def test_the_solution_keeps_its_tensors_on_the_gpu(exercise):
    scope, name, expression = _solution_and_checker(exercise)
    solution = scope[name]
    if isinstance(solution, type):
        pytest.skip("a class: built and run on the GPU by the tests below")
    scope[name] = on_the_gpu(solution)
    with simulated_gpu():
        result = eval(expression, scope)  # noqa: S307
    assert result, f"{exercise.name}: the checker failed with the solution run on the GPU"


def _solution_class(notebook: str, name: str) -> type:
    for path in NOTEBOOKS:
        if path.stem == notebook:
            for exercise in exercises(path):
                scope, checked, _ = _solution_and_checker(exercise)
                if checked == name:
                    return scope[name]
    raise LookupError(f"{notebook} has no exercise {name}")


@pytest.mark.parametrize(
    ("name", "arguments", "input_shape"),
    [
        ("ResidualBlock", (3, 8, 2), (2, 3, 8, 8)),
        ("ResidualBlock", (4, 4, 1), (1, 4, 5, 5)),
        ("SqueezeExcitation", (8, 2), (2, 8, 5, 5)),
    ],
)
def test_the_module_solutions_run_on_the_gpu(name, arguments, input_shape):
    module_class = _solution_class("week06_cnn_architectures", name)
    with simulated_gpu():
        module = module_class(*arguments).to("cuda")
        x = torch.randn(input_shape).to("cuda").requires_grad_(True)
        output = module(x)
        output.sum().backward()
        assert on_gpu(output) and on_gpu(x.grad)
        assert all(on_gpu(parameter.grad) for parameter in module.parameters())


def test_the_hand_written_conv_backward_runs_on_the_gpu():
    conv = _solution_class("week02_cnn_foundations", "Conv2dFunction")
    with simulated_gpu():
        x, weight, bias = (
            torch.randn(shape).to("cuda").requires_grad_(True) for shape in [(2, 3, 6, 6), (4, 3, 3, 3), (4,)]
        )
        output = conv.apply(x, weight, bias, 2, 1)
        output.sum().backward()
        assert on_gpu(output) and all(on_gpu(tensor.grad) for tensor in (x, weight, bias))


def test_a_solution_that_makes_a_cpu_tensor_fails_on_the_gpu():
    def shifted(x: torch.Tensor) -> torch.Tensor:
        return x + torch.ones(x.shape)  # no device=: a CPU tensor

    with simulated_gpu(), pytest.raises(RuntimeError, match="same device"):
        on_the_gpu(shifted)(torch.zeros(3, 2))
