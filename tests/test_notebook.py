"""The exercise checker judges fairly: right answers of every kind pass, wrong ones get a reason, never the solution."""

import math

import numpy as np
import pytest
import torch

import utils
from gpu_simulation import simulated_gpu
from utils.notebook import compare

NAN = float("nan")


RIGHT = {
    "int": (3, 3),
    "float for int": (3.0, 3),
    "int for float": (3, 3.0),
    "numpy scalar": (np.int64(3), 3),
    "numpy float32 for float": (np.float32(0.1), 0.1),
    "float round-off": (0.1 + 0.2, 0.3),
    "float32 computation": (torch.tensor(100.0).log().item(), math.log(100)),
    "0-d tensor for float": (torch.tensor(0.25), 0.25),
    "tuple for list": ((1, 2), [1, 2]),
    "list for tuple": ([1, 2], (1, 2)),
    "numpy for tensor": (np.array([1.0, 2.0]), torch.tensor([1, 2])),
    "tensor for numpy": (torch.tensor([1, 2]), np.array([1.0, 2.0])),
    "tensor for list": (torch.tensor([0, 2]), [0, 2]),
    "numpy for list": (np.array([1, 2]), [1, 2]),
    "float16 for int64": (torch.ones(2, dtype=torch.float16), torch.ones(2, dtype=torch.int64)),
    "requires_grad": (torch.ones(2, requires_grad=True) * 2, torch.full((2,), 2.0)),
    "torch.Size for tuple": (torch.Size([8, 21, 128, 128]), (8, 21, 128, 128)),
    "tuple for torch.Size": ((8, 3), torch.Size([8, 3])),
    "list for torch.Size": ([8, 3], torch.Size([8, 3])),
    "nested": ({"a": [1, (2, 3)], "b": torch.ones(2)}, {"a": (1, [2, 3]), "b": np.ones(2)}),
    "text ignoring case and spaces": ("  Object   detection ", "object detection"),
    "bool": (np.bool_(True), True),
    "text in numpy": (np.array(["a", "b"]), ["a", "b"]),
    "NaN where NaN is expected": (torch.tensor([1.0, NAN]), torch.tensor([1.0, NAN])),
}


@pytest.mark.parametrize("answer,expected", RIGHT.values(), ids=RIGHT.keys())
def test_right_answers_pass(answer, expected):
    assert compare(answer, expected) == (True, "")


WRONG = {
    "other number": (4, 3, "the value differs"),
    "outside atol": (0.3001, 0.3, "the value differs"),
    "one item of a tuple": ((1, 2), [1, 3], "item [1]: the value differs"),
    "length": ([1, 2], (1, 2, 3), "expected 3 items, got 2"),
    "tensor shape": (torch.ones(3), torch.ones(2), "the shape should be (2,), yours is (3,)"),
    "numpy shape for tensor": (np.ones((2, 3)), torch.ones(3, 2), "the shape should be (3, 2), yours is (2, 3)"),
    "tensor for a number": (torch.ones(1, 1), 1.0, "the shape should be (), yours is (1, 1)"),
    "NaN": (NAN, 1.0, "NaN"),
    "NaN in a tensor": (torch.tensor([1.0, NAN]), [1, 2], "NaN"),
    "text for a number": ("3", 3, "expected a number, got a str"),
    "list for a number": ([3], 3, "expected a number, got a list of 1 item"),
    "text for a tensor": ("x", torch.ones(2), "not numbers"),
    "int for a bool": (1, True, "expected True or False"),
    "bool for a number": (True, 1, "expected a number, got a bool"),
    "keys": ({"b": 1}, {"a": 1}, "1 key(s) missing; unexpected key(s) ['b']"),
    "nested value": ({"a": [1, (2, 4)]}, {"a": [1, (2, 3)]}, "['a']: item [1]: item [1]: the value differs"),
    "meta device": (torch.ones(2, device="meta"), torch.ones(2), "'meta' device"),
    "text": ("cat", "dog", "the text differs"),
    "ragged list": ([[1, 2], [3]], torch.ones(2, 2), "different shapes"),
    "shape item": (torch.Size([8, 3]), (8, 4), "item [1]: the value differs"),
    "dict for a list": ({"a": 1}, [1], "expected a list or tuple of 1 item, got a dict"),
}


@pytest.mark.parametrize("answer,expected,reason", WRONG.values(), ids=WRONG.keys())
def test_wrong_answers_fail_with_a_reason(answer, expected, reason):
    right, said = compare(answer, expected)
    assert not right
    assert reason in said


ON_THE_GPU = {
    "right": (torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), ""),
    "right, int for float": (torch.tensor([1, 2]), [1.0, 2.0], ""),
    "right, both on the GPU": (torch.tensor([1.0, 2.0]), "on the GPU", ""),
    "right, requires_grad": (torch.ones(2, requires_grad=True), np.ones(2), ""),
    "NaN": (torch.tensor([NAN]), [1.0], "NaN"),
    "wrong values": (torch.zeros(3), [0, 1, 0], "1 of 3 values is wrong"),
    "wrong shape": (torch.zeros(3), torch.zeros(2), "the shape should be (2,), yours is (3,)"),
}


@pytest.mark.parametrize("answer,expected,reason", ON_THE_GPU.values(), ids=ON_THE_GPU.keys())
def test_answers_on_the_gpu(answer, expected, reason):
    with simulated_gpu() as gpu:
        if isinstance(expected, str):  # the expected value on the GPU too
            expected = answer.to(gpu)
        right, said = compare(answer.to(gpu), expected)
    assert right == (reason == "")
    assert reason in said


def test_atol_widens_the_tolerance():
    assert compare(0.3001, 0.3, atol=1e-3) == (True, "")
    assert not compare(torch.tensor([1.0, 2.01]), [1, 2], atol=1e-3)[0]


@pytest.mark.parametrize("atol", [-1.0, "0.1", None])
def test_compare_rejects_a_bad_atol(atol):
    with pytest.raises(ValueError, match="atol"):
        compare(1.0, 1.0, atol=atol)


def test_an_expected_tensor_without_values_is_the_notebook_author_s_error():
    with pytest.raises(ValueError, match="meta"):
        compare(torch.ones(2), torch.ones(2, device="meta"))


@pytest.mark.parametrize("answer", [None, 3, 4])
def test_check_returns_nothing_for_jupyter_to_display(answer, capsys):
    assert utils.check("sum", answer, 3) is None


def test_check_prints_verdicts(capsys):
    utils.check("sum", 3, 3)
    utils.check("sum", 4, 3)
    utils.check("sum", None, 3)
    with simulated_gpu() as gpu:
        utils.check("tensor", torch.ones(2).to(gpu), torch.ones(2) + 1e-9)
    out = capsys.readouterr().out
    assert out.count("✅") == 2 and out.count("❌") == 1 and "not attempted" in out


def test_check_shows_the_hint_only_when_wrong(capsys):
    utils.check("parameters", 10, 11, hint="count the bias too")
    assert "Hint: count the bias too" in capsys.readouterr().out
    utils.check("parameters", 11, 11, hint="count the bias too")
    assert "Hint" not in capsys.readouterr().out


@pytest.mark.parametrize("answer,expected", [
    (271, 314159),
    (2.5, 314159.25),
    ([271828, 1], [271828, 314159]),
    (torch.zeros(2), torch.full((2,), 314159.0)),
    ({"k": 1}, {"k": 314159}),
    ("pi", "314159"),
])
def test_check_never_prints_the_solution(answer, expected, capsys):
    utils.check("exercise", answer, expected, hint="think of circles")
    out = capsys.readouterr().out
    assert "❌" in out and "314159" not in out
