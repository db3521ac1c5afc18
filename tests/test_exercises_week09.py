"""Week 9's checkers: the notebook's solutions pass, realistic mistakes fail with a message that names them,
and the student edition's stubs are reported as not done yet."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

import utils.exercises.week09 as week09

SOLUTIONS = solution_namespace("week09_modern_topics")


def stub(*args: object) -> None:
    raise NotImplementedError("write it")


# --- Exercise 5: NT-Xent -----------------------------------------------------------------------------------


def nt_xent_variant(
    *, normalise: bool = True, mask: bool = True, both_views: bool = True, use_temperature: bool = True
) -> Callable:
    """The solution with one step changed or left out, the way a student might get it wrong."""

    def loss(z1, z2, temperature=0.5):  # noqa: ANN001, ANN202
        n = len(z1)
        z = torch.cat([z1, z2])
        z = F.normalize(z, dim=1) if normalise else z
        similarity = z @ z.T / (temperature if use_temperature else 1.0)
        if mask:
            similarity = similarity.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
        rows = 2 * n if both_views else n
        return F.cross_entropy(similarity[:rows], positives[:rows])

    return loss


def nt_xent_clip_style(z1, z2, temperature=0.5):  # noqa: ANN001, ANN201
    """CLIP's loss instead: only the other view's N vectors are candidates (no negatives from the same view)."""
    similarity = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature
    targets = torch.arange(len(z1))
    return (F.cross_entropy(similarity, targets) + F.cross_entropy(similarity.T, targets)) / 2


def nt_xent_positive_is_itself(z1, z2, temperature=0.5):  # noqa: ANN001, ANN201
    """Targets 0..N-1 twice: the first N rows point at their own (masked) column."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(similarity, torch.arange(2 * n) % n)


def nt_xent_detached(z1, z2, temperature=0.5):  # noqa: ANN001, ANN201
    """Normalises with numpy: right values, no gradient."""
    z = torch.cat([z1, z2]).detach().numpy()
    z = torch.from_numpy(z / (z**2).sum(1, keepdims=True) ** 0.5)
    return SOLUTIONS["nt_xent"](z[: len(z1)], z[len(z1) :], temperature)


def test_the_reference_nt_xent_passes():
    result = week09.check_nt_xent(SOLUTIONS["nt_xent"])
    assert result.status == "passed", result.message
    assert result.message.startswith("✅")


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (
            nt_xent_variant(normalise=False),
            "changes when every vector is multiplied by 3: the similarity is the cosine",
        ),
        (nt_xent_variant(both_views=False), "changes when the two views are swapped"),
        (nt_xent_variant(mask=False), "the loss: yours is 3.326"),
        (nt_xent_variant(use_temperature=False), "tau = 0.5, the loss: yours is 2.810"),
        (nt_xent_clip_style, "the loss: yours is 2.347"),
        (nt_xent_positive_is_itself, "the loss: yours is inf"),
        (nt_xent_detached, "not connected to the inputs in the autograd graph"),
    ],
    ids=["not normalised", "one view's anchors", "diagonal kept", "no temperature", "CLIP", "wrong targets", "numpy"],
)
def test_a_wrong_nt_xent_fails_and_says_why(wrong, fragment):
    result = week09.check_nt_xent(wrong)
    assert result.status == "failed"
    assert fragment in result.message, result.message
    assert "Hint:" in result.message


def test_the_nt_xent_stub_is_not_done_yet():
    assert week09.check_nt_xent(stub).status == "not implemented"


# --- Exercise 6: the batch-hard triplet loss ---------------------------------------------------------------


def triplet_variant(
    *, exclude_self: bool = True, skip_lonely: bool = True, hinge: bool = True, squared: bool = False
) -> Callable:
    """The solution with one step changed or left out, the way a student might get it wrong."""

    def loss(embeddings, labels, margin=0.2):  # noqa: ANN001, ANN202
        distances = torch.cdist(embeddings, embeddings)
        distances = distances**2 if squared else distances
        same = labels[:, None] == labels[None, :]
        positive = same & ~torch.eye(len(labels), dtype=torch.bool) if exclude_self else same
        hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(dim=1)
        hardest_negative = distances.masked_fill(same, float("inf")).amin(dim=1)
        valid = positive.any(dim=1) & (~same).any(dim=1) if skip_lonely else torch.ones_like(same[0])
        terms = hardest_positive[valid] - hardest_negative[valid] + margin
        return (F.relu(terms) if hinge else terms).mean()

    return loss


def triplet_with_a_hand_made_sqrt(embeddings, labels, margin=0.2):  # noqa: ANN001, ANN201
    """Right values, but sqrt(0) on the diagonal makes every gradient NaN."""
    distances = (embeddings[:, None] - embeddings[None, :]).pow(2).sum(-1).sqrt()
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool)
    hardest_positive = distances.masked_fill(~positive, float("-inf")).amax(dim=1)
    hardest_negative = distances.masked_fill(same, float("inf")).amin(dim=1)
    valid = positive.any(dim=1) & (~same).any(dim=1)
    return F.relu(hardest_positive[valid] - hardest_negative[valid] + margin).mean()


def triplet_over_all_triplets(embeddings, labels, margin=0.2):  # noqa: ANN001, ANN201
    """Averages every valid triplet instead of mining the hardest ones."""
    distances = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    positive, negative = same & ~torch.eye(len(labels), dtype=torch.bool), ~same
    terms = distances[:, :, None] - distances[:, None, :] + margin
    return F.relu(terms[positive[:, :, None] & negative[:, None, :]]).mean()


def test_the_reference_triplet_loss_passes():
    result = week09.check_batch_hard_triplet(SOLUTIONS["batch_hard_triplet"])
    assert result.status == "passed", result.message


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (triplet_with_a_hand_made_sqrt, "NaN or infinity"),
        (triplet_variant(hinge=False), "below 0: a triplet loss is max(0, d(a, p) - d(a, n) + margin)"),
        (
            triplet_variant(exclude_self=False),
            "class 2 has one image: its anchor has no positive and is left out, the loss",
        ),
        (triplet_variant(skip_lonely=False, exclude_self=False), "class 2 has one image"),
        (triplet_variant(squared=True), "the loss: yours is 33.8"),
        (triplet_over_all_triplets, "the loss: yours is 0.55689"),
    ],
    ids=["hand-made sqrt", "no hinge", "anchor as its own positive", "lonely anchor kept", "squared", "all triplets"],
)
def test_a_wrong_triplet_loss_fails_and_says_why(wrong, fragment):
    result = week09.check_batch_hard_triplet(wrong)
    assert result.status == "failed"
    assert fragment in result.message, result.message


def test_the_nan_gradient_is_explained():
    message = week09.check_batch_hard_triplet(triplet_with_a_hand_made_sqrt).message
    assert "gradient with respect to the embeddings" in message and "use torch.cdist" in message


def test_the_triplet_stub_is_not_done_yet():
    assert week09.check_batch_hard_triplet(stub).status == "not implemented"
