"""Checkers for week 9's coding exercises: SimCLR's NT-Xent loss, and the batch-hard triplet loss.

The references are the course's own tested losses, ``utils.selfsupervised.nt_xent_loss`` and
``utils.metric_learning.batch_hard_triplet_loss``; both checkers compare the values and the gradients
(float64 inputs), since a loss is only as good as the gradient it trains with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from utils.exercises import Case, CheckFailed, CheckResult, call, compare_gradients, expect_close, random_tensor, report
from utils.metric_learning import batch_hard_triplet_loss
from utils.selfsupervised import nt_xent_loss

NT_XENT_HINT = (
    "stack the 2N vectors (torch.cat([z1, z2])), normalise each row (F.normalize(..., dim=1)), similarity = "
    "z @ z.T / temperature; a vector is not its own negative: set the diagonal to -inf (masked_fill with "
    "torch.eye(2N, dtype=torch.bool)); row i's positive is column i + N for i < N and i - N after; "
    "F.cross_entropy(similarity, positives) averages the 2N terms."
)
TRIPLET_HINT = (
    "distances = torch.cdist(embeddings, embeddings); same = labels[:, None] == labels[None, :]; the hardest "
    "positive is the largest distance where same is True off the diagonal (masked_fill the rest with -inf, "
    ".amax(1)), the hardest negative the smallest where same is False (+inf elsewhere, .amin(1)); keep only "
    "anchors that have both, then F.relu(positive - negative + margin).mean()."
)


def _scalar_loss(answer: object, case: Case) -> torch.Tensor:
    """The student's loss, or CheckFailed unless it is a 0-dimensional tensor."""
    if not isinstance(answer, torch.Tensor) or answer.ndim > 0:
        kind = f"of shape {tuple(answer.shape)}" if isinstance(answer, torch.Tensor) else f"a {type(answer).__name__}"
        raise CheckFailed(
            f"on {case.description}, your loss is {kind}: return the mean over the anchors as a 0-dimensional "
            "tensor, still in the autograd graph (no .item())"
        )
    return answer


def _nt_xent_cases() -> list[Case]:
    eye = torch.eye(2, dtype=torch.float64)
    z1, z2 = random_tensor(8, 16, seed=1, grad=True), random_tensor(8, 16, seed=2, grad=True)
    near = random_tensor(6, 5, seed=3)
    return [
        Case("8 pairs of 16-d vectors, tau = 0.5", (z1, z2, 0.5)),
        Case("the same vectors times 7 (the loss uses cosines)", (7 * z1.detach(), 7 * z2.detach(), 0.5)),
        Case(
            "the worked example of section 1 (two images, tau = 1)",
            (eye.clone().requires_grad_(), eye.clone().requires_grad_(), 1.0),
        ),
        Case("tau = 0.1 (a sharp softmax)", (z1, z2, 0.1)),
        Case(
            "6 pairs of 5-d vectors whose views nearly agree, tau = 0.2",
            (near.clone().requires_grad_(), (near + 0.1 * random_tensor(6, 5, seed=4)).requires_grad_(), 0.2),
        ),
    ]


def _diagnose_nt_xent(student: Callable[..., torch.Tensor], case: Case) -> None:
    """After a wrong value: name the two mistakes that a property reveals (scaling, swapping the views)."""
    z1, z2, temperature = (value.detach() if isinstance(value, torch.Tensor) else value for value in case.args)
    answer = _value(call(student, Case(case.description, (z1, z2, temperature))))
    scaled = _value(call(student, Case(case.description, (3 * z1, 3 * z2, temperature))))
    if abs(scaled - answer) > 1e-6 * max(1.0, abs(answer)):
        raise CheckFailed(
            f"on {case.description}, your loss changes when every vector is multiplied by 3: the similarity "
            "is the cosine, so normalise the rows (F.normalize(z, dim=1)) before the products"
        )
    swapped = _value(call(student, Case(case.description, (z2, z1, temperature))))
    if abs(swapped - answer) > 1e-6 * max(1.0, abs(answer)):
        raise CheckFailed(
            f"on {case.description}, your loss changes when the two views are swapped: every one of the 2N "
            "vectors is an anchor once, with the other 2N - 1 vectors as its candidates (one positive)"
        )


def _value(loss: object) -> float:
    """A loss as a float (NaN when it is not one number), for comparing two calls of the student's code."""
    if isinstance(loss, torch.Tensor) and loss.numel() == 1:
        return float(loss.detach())
    return float(loss) if isinstance(loss, (int, float)) else float("nan")


def check_nt_xent(student: Callable[..., torch.Tensor]) -> CheckResult:
    """``student(z1, z2, temperature)`` and its gradients against ``utils.selfsupervised.nt_xent_loss``."""
    cases = _nt_xent_cases()

    def outcome() -> str:
        for case in cases:
            answer, expected = _scalar_loss(call(student, case), case), nt_xent_loss(*case.args)
            try:
                expect_close(answer.item(), expected.item(), f"on {case.description}, the loss", atol=1e-6)
                if case.args[0].requires_grad:
                    compare_gradients(student, nt_xent_loss, case, (0, 1), 1e-6)
            except CheckFailed as failure:
                _diagnose_nt_xent(student, case)
                named = str(failure).replace("argument 1", "z1").replace("argument 2", "z2")
                raise CheckFailed(named) from None
        return (
            f"the loss and its gradients match utils.selfsupervised.nt_xent_loss on all {len(cases)} cases "
            f"({'; '.join(case.description for case in cases)})."
        )

    return report("NT-Xent loss", outcome, NT_XENT_HINT)


def _clusters(labels: list[int], spread: float, seed: int, dim: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """One embedding per label: the class's centre (far apart) plus noise of size ``spread``, float64."""
    label_tensor = torch.tensor(labels)
    centres = 3 * random_tensor(max(labels) + 1, dim, seed=seed)
    points = centres[label_tensor] + spread * random_tensor(len(labels), dim, seed=seed + 1)
    return points.requires_grad_(True), label_tensor


def _triplet_cases() -> list[Case]:
    mixed, mixed_labels = _clusters([0, 1, 2] * 4, spread=2.0, seed=1)
    shuffled, shuffled_labels = _clusters([2, 0, 1, 1, 0, 2, 1, 0, 2, 2], spread=2.0, seed=3)
    lonely, lonely_labels = _clusters([0, 0, 0, 1, 1, 1, 2], spread=2.0, seed=5)
    apart, apart_labels = _clusters([0, 0, 1, 1, 2, 2], spread=0.05, seed=7)
    unit = F.normalize(random_tensor(8, 3, seed=9), dim=1).requires_grad_(True)
    return [
        Case("12 embeddings of 3 classes, margin 0.2", (mixed, mixed_labels, 0.2)),
        Case("tight classes far apart: every triplet satisfied, loss 0", (apart, apart_labels, 0.2)),
        Case("10 embeddings, labels in no order, margin 1", (shuffled, shuffled_labels, 1.0)),
        Case("class 2 has one image: its anchor has no positive and is left out", (lonely, lonely_labels, 0.2)),
        Case(
            "8 unit vectors of 2 classes (as EmbeddingNet(normalize=True) gives)", (unit, torch.tensor([0, 1] * 4), 0.2)
        ),
    ]


def check_batch_hard_triplet(student: Callable[..., torch.Tensor]) -> CheckResult:
    """``student(embeddings, labels, margin)`` and its gradient against ``batch_hard_triplet_loss``."""
    cases = _triplet_cases()

    def outcome() -> str:
        for case in cases:
            answer, expected = _scalar_loss(call(student, case), case), batch_hard_triplet_loss(*case.args)
            if answer.item() < 0:
                raise CheckFailed(
                    f"on {case.description}, your loss is {answer.item():.4g}, below 0: a triplet loss is "
                    "max(0, d(a, p) - d(a, n) + margin) for every anchor (F.relu), then the mean"
                )
            expect_close(answer.item(), expected.item(), f"on {case.description}, the loss", atol=1e-6)
            try:
                compare_gradients(student, batch_hard_triplet_loss, case, (0,), 1e-6)
            except CheckFailed as failure:
                named = str(failure).replace("argument 1", "the embeddings")
                if "NaN" not in named:
                    raise CheckFailed(named) from None
                raise CheckFailed(
                    f"{named}. The square root of a zero distance (an embedding with itself) has an "
                    "infinite slope, and 0 x infinity is NaN even where the mask hides it: use torch.cdist, or "
                    "add 1e-12 under the square root"
                ) from None
        return (
            f"the loss and its gradient match utils.metric_learning.batch_hard_triplet_loss on all "
            f"{len(cases)} cases ({'; '.join(case.description for case in cases)})."
        )

    return report("batch-hard triplet loss", outcome, TRIPLET_HINT)


__all__ = ["check_batch_hard_triplet", "check_nt_xent"]
