"""Week 13's coding exercises: top-k accuracy, and the Fréchet distance behind LeNet-FD."""

from __future__ import annotations

from collections.abc import Callable

import torch

from utils.exercises import Case, CheckFailed, CheckResult, call, check_function, expect_close, random_tensor, report
from utils.generative import frechet_distance


def reference_top_k_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    """Share of rows whose target is among the ``k`` largest logits (torchmetrics' micro top-k accuracy)."""
    from torchmetrics.functional import accuracy

    return float(accuracy(logits, targets, task="multiclass", num_classes=logits.shape[1], top_k=k))


def _top_k_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(13)
    cases = []
    for description, n, classes, k in [
        ("64 rows, 10 classes, k = 5", 64, 10, 5),
        ("64 rows, 10 classes, k = 1 (plain accuracy)", 64, 10, 1),
        ("one row, 3 classes, k = 2", 1, 3, 2),
        ("20 rows, 4 classes, k = 4 (every class: accuracy 1)", 20, 4, 4),
        ("200 rows, 1000 classes, k = 5 (ImageNet's top-5)", 200, 1000, 5),
    ]:
        logits = torch.randn(n, classes, generator=generator)
        targets = torch.randint(classes, (n,), generator=generator)
        cases.append(Case(description, (logits, targets, k)))
    return cases


def check_top_k_accuracy(student: Callable[[torch.Tensor, torch.Tensor, int], float]) -> CheckResult:
    """Check ``top_k_accuracy(logits (N, C), targets (N,), k) -> float`` against torchmetrics."""
    return check_function(
        "top_k_accuracy",
        student,
        reference_top_k_accuracy,
        _top_k_cases(),
        hint="logits.topk(k, dim=1).indices gives each row's k best classes (N, k); compare them with "
        "targets[:, None], then a row is right when any of its k entries matches; return a Python float.",
    )


def _frechet_cases() -> list[Case]:
    a = random_tensor(200, 4, seed=1)
    b = random_tensor(150, 4, seed=2) * torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64) + 0.3
    mixed = random_tensor(300, 3, seed=3) @ random_tensor(3, 3, seed=4)  # correlated features
    return [
        Case("200 and 150 vectors of 4 features, different means and spreads", (a, b)),
        Case("the same set twice (distance 0)", (a, a.clone())),
        Case("a set and the same set shifted by 1 in every feature (distance 4 = |shift|^2)", (a, a + 1)),
        Case("correlated features (off-diagonal covariances)", (mixed, random_tensor(300, 3, seed=5))),
        Case("2 features from only 10 vectors each", (a[:10, :2], b[:10, :2])),
    ]


def check_frechet_distance(student: Callable[[torch.Tensor, torch.Tensor], float]) -> CheckResult:
    """Check ``frechet_distance(features_a (N, D), features_b (M, D)) -> float`` against utils.generative's."""

    def outcome() -> str:
        cases = _frechet_cases()
        for case in cases:
            answer = call(student, case)
            if isinstance(answer, torch.Tensor) and answer.numel() == 1:
                answer = answer.item()
            if not isinstance(answer, float):
                raise CheckFailed(f"on {case.description}: return a Python float, got {type(answer).__name__}")
            expect_close(answer, frechet_distance(*case.args), f"on {case.description}", atol=1e-6)
        return f"matches utils.generative.frechet_distance on all {len(cases)} cases."

    return report(
        "frechet_distance",
        outcome,
        hint="fit a Gaussian to each set: mean over rows (dim 0) and torch.cov(features.T) (D x D); then "
        "|mu_a - mu_b|^2 + trace(S_a) + trace(S_b) - 2 trace((S_a S_b)^(1/2)). The matrix square root is not "
        "the element-wise sqrt: its trace is the sum of the square roots of the eigenvalues of S_a @ S_b "
        "(torch.linalg.eigvals(...).sqrt().real.sum()).",
    )
