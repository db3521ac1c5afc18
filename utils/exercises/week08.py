"""Checkers for week 8's coding exercises: a PGD attack, and the VAE's loss with the reparameterisation trick.

The references are the course's own tested functions, ``utils.attacks.pgd`` and ``utils.generative.vae_loss``;
the models they run on are tiny, fixed and built here (float64, seeded), so each checker takes well under a second.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from utils.attacks import pgd
from utils.exercises import Case, CheckFailed, CheckResult, call, compare_gradients, expect_close, report
from utils.generative import vae_loss

PGD_HINT = (
    "start from the clean images; each step: the gradient of F.cross_entropy(model(x), labels) with respect to "
    "x (torch.autograd.grad on x.detach().requires_grad_(True)), x + step_size * gradient.sign(), then "
    "torch.min(torch.max(x, images - epsilon), images + epsilon).clamp(0, 1); return x.detach()."
)
VAE_HINT = (
    "z = mu + torch.exp(0.5 * logvar) * noise (sigma is exp(logvar / 2)); reconstruction = decoder(z); "
    "F.binary_cross_entropy(..., reduction='sum') over all pixels, plus beta * (-0.5 * sum(1 + logvar - mu^2 - "
    "exp(logvar))), and the total divided by the number of images. Keep z in the autograd graph."
)


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """``build()`` with its weights drawn from ``seed``, in float64, without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().double().eval()


def tiny_classifier() -> nn.Module:
    """The fixed 3-class CNN the PGD checker attacks: any (N, 1, H, W) with H, W >= 2 (tanh: no zero gradients)."""
    return _seeded(
        lambda: nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 3)
        ),
        seed=0,
    )


def tiny_decoder(latent_dim: int = 4) -> nn.Module:
    """The fixed decoder the VAE checker uses: a latent vector (N, latent_dim) -> pixels in (0, 1), (N, 1, 28, 28)."""
    return _seeded(
        lambda: nn.Sequential(nn.Linear(latent_dim, 28 * 28), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28))), seed=1
    )


def _digits(n: int, height: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-like float64 images in [0, 1] (a black background, saturated strokes, greys between) and labels 0-2."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, height, width, generator=generator, dtype=torch.float64)
    images = torch.where(images < 0.4, 0.0, torch.where(images > 0.8, 1.0, images))
    return images, torch.randint(0, 3, (n,), generator=generator)


def _pgd_cases(model: nn.Module) -> list[Case]:
    four, four_labels = _digits(4, 8, 8, seed=1)
    one, one_labels = _digits(1, 7, 5, seed=2)
    return [
        Case("one step of size epsilon (that is FGSM), 4 images 8x8", (model, four, four_labels, 0.1, 0.1, 1)),
        Case("epsilon 0.1, 5 steps of 0.04 (they add up past epsilon)", (model, four, four_labels, 0.1, 0.04, 5)),
        Case("epsilon 0.05, 2 steps of 0.2 (every step must be projected)", (model, four, four_labels, 0.05, 0.2, 2)),
        Case("epsilon 0 (the images must come back unchanged)", (model, four, four_labels, 0.0, 0.1, 3)),
        Case("a batch of 1, a non-square 7x5 image, 10 steps", (model, one, one_labels, 0.2, 0.05, 10)),
    ]


def _reference_pgd(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, step_size: float, steps: int
) -> torch.Tensor:
    return pgd(model, images, labels, epsilon, step_size=step_size, steps=steps, random_start=False)


def _check_attack(answer: object, expected: torch.Tensor, case: Case) -> None:
    """Compare the attacked images; when they differ, name the usual mistake (budget, range, direction)."""
    if isinstance(answer, torch.Tensor) and answer.requires_grad:
        raise CheckFailed(
            f"on {case.description}, the result is still part of the autograd graph: return x.detach() "
            "(an adversarial image is data, not a function of the model)"
        )
    try:
        expect_close(answer, expected, f"on {case.description}", atol=1e-9)
    except CheckFailed:
        if isinstance(answer, torch.Tensor) and (answer.shape, answer.dtype) == (expected.shape, expected.dtype):
            _diagnose_attack(answer.detach(), expected, case)
        raise


def _diagnose_attack(answer: torch.Tensor, expected: torch.Tensor, case: Case) -> None:
    """Raise CheckFailed naming the mistake when one of the attack's rules is broken; return if none is."""
    images, epsilon = case.args[1], case.args[3]
    moved = float((answer - images).abs().max())
    if moved > epsilon + 1e-9:
        raise CheckFailed(
            f"on {case.description}, a pixel moved by {moved:.3g}, more than epsilon = {epsilon}: after every "
            "step, project back into the box [images - epsilon, images + epsilon] around the clean images"
        )
    if float(answer.min()) < 0 or float(answer.max()) > 1:
        raise CheckFailed(
            f"on {case.description}, pixels lie in [{float(answer.min()):.3g}, {float(answer.max()):.3g}]: "
            "clamp to [0, 1] after every step (no pixel is darker than black or brighter than white)"
        )
    wanted, got = (expected - images).sign(), (answer - images).sign()
    moving = wanted != 0
    if bool(moving.any()) and float((got[moving] == -wanted[moving]).double().mean()) > 0.5:
        raise CheckFailed(
            f"on {case.description}, most pixels moved the opposite way: the attack climbs the loss "
            "(x + step_size * sign(gradient)); stepping down makes the model more sure, not less"
        )


def check_pgd_attack(student: Callable[..., torch.Tensor]) -> CheckResult:
    """``student(model, images, labels, epsilon, step_size, steps)`` against ``utils.attacks.pgd`` (no random start)."""
    model = tiny_classifier()
    cases = _pgd_cases(model)

    def outcome() -> str:
        for case in cases:
            expected = _reference_pgd(*case.args)
            _check_attack(call(student, case), expected, case)
        return (
            f"your attack gives utils.attacks.pgd's images on all {len(cases)} cases "
            f"({'; '.join(case.description for case in cases)})."
        )

    return report("PGD attack", outcome, PGD_HINT)


def _reference_vae_loss(
    decoder: nn.Module,
    images: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    noise: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """The reparameterisation trick (one line: utils keeps it inside VAE.forward), then utils.generative.vae_loss."""
    return vae_loss(decoder(mu + torch.exp(0.5 * logvar) * noise), images, mu, logvar, beta)


def _vae_case(description: str, n: int, seed: int, beta: float, mu_scale: float = 1.0) -> Case:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=generator, dtype=torch.float64)
    images = torch.where(images < 0.5, 0.0, images)  # black background, grey strokes: BCE targets in [0, 1]
    mu = (mu_scale * torch.randn(n, 4, generator=generator, dtype=torch.float64)).requires_grad_(True)
    logvar = (0.5 * torch.randn(n, 4, generator=generator, dtype=torch.float64)).requires_grad_(True)
    noise = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    return Case(description, (tiny_decoder(), images, mu, logvar, noise, beta))


def _vae_cases() -> list[Case]:
    return [
        _vae_case("beta = 0 (the reconstruction term only), 3 images", 3, seed=1, beta=0.0),
        _vae_case("beta = 1, 3 images", 3, seed=2, beta=1.0),
        _vae_case("beta = 4 and large means (the KL term dominates), 5 images", 5, seed=3, beta=4.0, mu_scale=5.0),
        _vae_case("a batch of 1, beta = 1", 1, seed=4, beta=1.0),
    ]


def check_vae_loss(student: Callable[..., torch.Tensor]) -> CheckResult:
    """``student(decoder, images, mu, logvar, noise, beta)`` and its gradients (mu, logvar) against the reference."""
    cases = _vae_cases()

    def outcome() -> str:
        for case in cases:
            answer, expected = call(student, case), _reference_vae_loss(*case.args)
            if not isinstance(answer, torch.Tensor) or answer.ndim > 0:
                shape = f"of shape {tuple(answer.shape)}" if isinstance(answer, torch.Tensor) else type(answer).__name__
                raise CheckFailed(
                    f"on {case.description}, your loss is {shape}: return one number as a 0-dimensional tensor "
                    "(the sum over pixels and latent dimensions, divided by the batch size), still in the graph"
                )
            expect_close(answer.item(), expected.item(), f"on {case.description}, the loss", atol=1e-6)
            try:
                compare_gradients(student, _reference_vae_loss, case, (2, 3), 1e-5)
            except CheckFailed as failure:
                named = str(failure).replace("argument 3", "mu").replace("argument 4", "logvar")
                raise CheckFailed(
                    f"{named}. The gradient reaches mu and logvar through z = mu + sigma * noise (the "
                    "reparameterisation trick) and through the KL term: z must stay in the autograd graph"
                ) from None
        return (
            f"the loss and its gradients with respect to mu and logvar match on all {len(cases)} cases "
            f"({'; '.join(case.description for case in cases)})."
        )

    return report("VAE loss with the reparameterisation trick", outcome, VAE_HINT)


__all__ = ["check_pgd_attack", "check_vae_loss", "tiny_classifier", "tiny_decoder"]
