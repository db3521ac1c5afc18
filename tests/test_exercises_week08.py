"""Week 8's checkers: the notebook's solutions pass, realistic mistakes fail with a message that names them,
and the student edition's stubs are reported as not done yet."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from exercise_cells import solution_namespace

import utils.exercises.week08 as week08

SOLUTIONS = solution_namespace("week08_advanced_topics")


def stub(*args: object) -> None:
    raise NotImplementedError("write it")


# --- Exercise 6: PGD ---------------------------------------------------------------------------------------


def pgd_variant(*, sign: float = 1.0, project: bool = True, clamp: bool = True, detach: bool = True) -> Callable:
    """The solution with one of its steps changed, the way a student might get it wrong."""

    def attack(model, images, labels, epsilon, step_size, steps):  # noqa: ANN001, ANN202
        x = images.clone().requires_grad_(True) if not detach else images.detach().clone()
        for _ in range(steps):
            leaf = x.detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(F.cross_entropy(model(leaf), labels), leaf)
            x = x + sign * step_size * gradient.sign()
            if project:
                x = torch.min(torch.max(x, images - epsilon), images + epsilon)
            if clamp:
                x = x.clamp(0, 1)
        return x.detach() if detach else x

    return attack


def pgd_projected_around_the_last_step(model, images, labels, epsilon, step_size, steps):  # noqa: ANN001, ANN201
    """Clips each step to epsilon instead of the distance to the clean images: the steps add up past the budget."""
    x = images.detach().clone()
    for _ in range(steps):
        x.requires_grad_(True)
        (gradient,) = torch.autograd.grad(F.cross_entropy(model(x), labels), x)
        x = (x.detach() + (step_size * gradient.sign()).clamp(-epsilon, epsilon)).clamp(0, 1)
    return x


def pgd_with_a_random_start(model, images, labels, epsilon, step_size, steps):  # noqa: ANN001, ANN201
    """Copies utils' default random start, which the exercise leaves out."""
    noise = torch.rand(images.shape, generator=torch.Generator().manual_seed(0), dtype=images.dtype)
    start = (images + epsilon * (2 * noise - 1)).clamp(0, 1)
    attacked = SOLUTIONS["pgd_attack"](model, start, labels, epsilon, step_size, steps)
    return torch.min(torch.max(attacked, images - epsilon), images + epsilon)


def test_the_reference_pgd_passes():
    result = week08.check_pgd_attack(SOLUTIONS["pgd_attack"])
    assert result.status == "passed", result.message
    assert result.message.startswith("✅")


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (pgd_variant(project=False), "more than epsilon = 0.1: after every step, project back"),
        (pgd_projected_around_the_last_step, "project back into the box [images - epsilon, images + epsilon]"),
        (pgd_variant(clamp=False), "clamp to [0, 1] after every step"),
        (pgd_variant(sign=-1.0), "most pixels moved the opposite way"),
        (pgd_variant(detach=False), "still part of the autograd graph: return x.detach()"),
        (pgd_with_a_random_start, "values are wrong"),
    ],
    ids=["no projection", "step clipped, not projected", "no clamp", "descent", "not detached", "random start"],
)
def test_a_wrong_pgd_fails_and_says_why(wrong, fragment):
    result = week08.check_pgd_attack(wrong)
    assert result.status == "failed"
    assert fragment in result.message, result.message
    assert "Hint:" in result.message


def test_the_pgd_stub_is_not_done_yet():
    assert week08.check_pgd_attack(stub).status == "not implemented"


def test_the_pgd_checker_is_fast_and_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    week08.check_pgd_attack(SOLUTIONS["pgd_attack"])
    assert torch.equal(state, torch.random.get_rng_state())


# --- Exercise 7: the VAE's loss ----------------------------------------------------------------------------


def vae_variant(
    *,
    sigma_power: float = 0.5,
    reduction: str = "sum",
    per_image: bool = True,
    kl_sign: float = -0.5,
    sample_in_graph: bool = True,
    given_noise: bool = True,
) -> Callable:
    """The solution with one choice changed, the way a student might get it wrong."""

    def loss(decoder, images, mu, logvar, noise, beta=1.0):  # noqa: ANN001, ANN202
        eps = noise if given_noise else torch.randn_like(mu)
        with torch.set_grad_enabled(sample_in_graph):
            z = mu + torch.exp(sigma_power * logvar) * eps
        reconstruction = F.binary_cross_entropy(decoder(z), images, reduction=reduction)
        kl = kl_sign * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        total = reconstruction + beta * kl
        return total / len(images) if per_image else total

    return loss


def vae_loss_per_image(decoder, images, mu, logvar, noise, beta=1.0):  # noqa: ANN001, ANN201
    """Forgets the batch mean: one loss per image."""
    z = mu + torch.exp(0.5 * logvar) * noise
    reconstruction = F.binary_cross_entropy(decoder(z), images, reduction="none").sum(dim=(1, 2, 3))
    return reconstruction + beta * -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)


def test_the_reference_vae_loss_passes():
    result = week08.check_vae_loss(SOLUTIONS["vae_negative_elbo"])
    assert result.status == "passed", result.message


@pytest.mark.parametrize(
    "wrong, fragment",
    [
        (vae_variant(sigma_power=1.0), "beta = 0 (the reconstruction term only), 3 images, the loss: yours is"),
        (vae_variant(reduction="mean", per_image=False), "the loss: yours is 0.74"),
        (vae_variant(per_image=False), "the loss: yours is 1749"),
        (vae_variant(kl_sign=0.5), "on beta = 1, 3 images, the loss"),
        (vae_variant(sample_in_graph=False), "the gradient with respect to mu: 12 of 12 values are wrong"),
        (vae_variant(given_noise=False), "the loss: yours is"),
        (vae_loss_per_image, "your loss is of shape (3,): return one number"),
    ],
    ids=[
        "sigma = exp(logvar)",
        "mean over pixels",
        "no batch mean",
        "KL sign",
        "z under no_grad",
        "fresh noise",
        "per image",
    ],
)
def test_a_wrong_vae_loss_fails_and_says_why(wrong, fragment):
    result = week08.check_vae_loss(wrong)
    assert result.status == "failed"
    assert fragment in result.message, result.message


def test_the_detached_sample_is_explained():
    message = week08.check_vae_loss(vae_variant(sample_in_graph=False)).message
    assert "z must stay in the autograd graph" in message


def test_the_vae_stub_is_not_done_yet():
    assert week08.check_vae_loss(stub).status == "not implemented"
