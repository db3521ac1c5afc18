"""Adversarial examples (weeks 8-9): FGSM, PGD, and batches for adversarial training.

Images are floats in [0, 1] and ``epsilon`` is measured in those units (``0.1`` is about 25 of
255 grey levels); perturbed images stay in [0, 1]. The attacks take gradients with respect to the
input only (``torch.autograd.grad``), so they never touch the model's ``.grad``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from utils.env import model_device
from utils.training import SizedBatches


def _check_attack_inputs(images: torch.Tensor, labels: torch.Tensor, epsilon: float) -> None:
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise TypeError(f"images and labels must be tensors, got {type(images).__name__} and {type(labels).__name__}")
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float batch (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), got {tuple(labels.shape)}")
    if images.numel() and not (images.min() >= 0 and images.max() <= 1):  # also False for NaN
        raise ValueError(
            "images must be pixels in [0, 1] (the attacks clip to that range), "
            f"got values from {images.min().item():g} "
            f"to {images.max().item():g}: divide 0-255 images by 255, and put any normalisation inside the model"
        )
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
        raise ValueError(f"epsilon must be a number >= 0, got {epsilon!r}")


def _input_gradient(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    x = images.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), labels)
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def fgsm(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Fast Gradient Sign Method (Goodfellow et al., 2015): ``x + epsilon * sign(grad_x loss)``, clipped to [0, 1].

    Every pixel moves by at most ``epsilon``.
    """
    _check_attack_inputs(images, labels, epsilon)
    if epsilon == 0:
        return images.detach().clone()
    gradient = _input_gradient(model, images, labels)
    return (images.detach() + epsilon * gradient.sign()).clamp(0, 1)


def pgd(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilon: float,
    step_size: float | None = None,
    steps: int = 10,
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected Gradient Descent (Madry et al., 2018): ``steps`` FGSM steps of ``step_size``
    (default ``2.5 * epsilon / steps``), each followed by projection back into the L-infinity ball
    of radius ``epsilon`` around the images and into [0, 1]. Starts at a random point of the ball.
    """
    _check_attack_inputs(images, labels, epsilon)
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if epsilon == 0:
        return images.detach().clone()
    step_size = 2.5 * epsilon / steps if step_size is None else step_size
    original = images.detach()
    x = original.clone()
    if random_start:
        noise = torch.rand(original.shape, generator=generator).to(original) * 2 - 1
        x = (x + epsilon * noise).clamp(0, 1)
    for _ in range(steps):
        x = x + step_size * _input_gradient(model, x, labels).sign()
        x = torch.min(torch.max(x, original - epsilon), original + epsilon).clamp(0, 1)
    return x.detach()


def attack(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, method: str = "fgsm", **kwargs
) -> torch.Tensor:
    """``fgsm`` or ``pgd`` by name."""
    if method == "fgsm":
        return fgsm(model, images, labels, epsilon)
    if method == "pgd":
        return pgd(model, images, labels, epsilon, **kwargs)
    raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")


def robust_accuracy(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epsilons: Iterable[float],
    method: str = "fgsm",
    device: torch.device | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Accuracy on attacked images for each epsilon: a table with columns ``epsilon``, ``accuracy``.

    ``epsilon = 0`` is the clean accuracy. The model is put in evaluation mode.
    """
    device = device or model_device(model)
    model.eval()
    epsilons = list(epsilons)
    correct = dict.fromkeys(epsilons, 0)
    count = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        for eps in epsilons:
            adversarial = attack(model, images, labels, eps, method, **kwargs)
            with torch.no_grad():
                correct[eps] += (model(adversarial).argmax(1) == labels).sum().item()
        count += len(labels)
    if count == 0:
        raise ValueError("the loader yielded no batches")
    return pd.DataFrame({"epsilon": epsilons, "accuracy": [correct[eps] / count for eps in epsilons]})


class AdversarialBatches:
    """Wrap a loader so each batch comes with its adversarial copy: adversarial training with ``utils.fit``.

    Each clean batch ``(x, y)`` becomes ``(cat[x, attack(x)], cat[y, y])`` (or only the attacked
    half with ``keep_clean=False``), the attack made against the model as it is at that step.

    >>> history = utils.fit(model, AdversarialBatches(train_loader, model, epsilon=0.1), epochs=1)
    """

    def __init__(
        self,
        loader: SizedBatches,
        model: nn.Module,
        epsilon: float,
        method: str = "fgsm",
        keep_clean: bool = True,
        **attack_kwargs,
    ) -> None:
        if method not in ("fgsm", "pgd"):
            raise ValueError(f"method must be 'fgsm' or 'pgd', got {method!r}")
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
            raise ValueError(f"epsilon must be a number >= 0, got {epsilon!r}")
        self.loader, self.model, self.epsilon, self.method = loader, model, epsilon, method
        self.keep_clean, self.attack_kwargs = keep_clean, attack_kwargs

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = model_device(self.model)
        for images, labels in self.loader:
            images, labels = images.to(device), labels.to(device)
            adversarial = attack(self.model, images, labels, self.epsilon, self.method, **self.attack_kwargs)
            if self.keep_clean:
                yield torch.cat([images, adversarial]), torch.cat([labels, labels])
            else:
                yield adversarial, labels
