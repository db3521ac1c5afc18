"""Generative models of 28x28 digits and how to score them (weeks 8-9).

An autoencoder, a variational autoencoder (Kingma & Welling, 2014) and a DCGAN (Radford et al.,
2016), the training steps of the last two, and the Fréchet distance between two sets of images in
the feature space of a classifier (the idea of FID, Heusel et al., 2017, without the Inception
download). Images are ``float32`` ``(N, 1, 28, 28)`` in [0, 1]; the GAN works in [-1, 1] inside
and :meth:`DCGANGenerator.sample` gives [0, 1] back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.env import get_device, model_device
from utils.metrics import predict
from utils.models.generators import VAE, DCGANDiscriminator, DCGANGenerator, FeatureExtractor, _check_images
from utils.training import SizedBatches, fit, optimizer_step


def vae_loss(
    reconstruction: torch.Tensor, images: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """Negative ELBO per image: binary cross-entropy of the pixels (summed) + ``beta`` * KL(q(z|x) || N(0, I))."""
    _check_images(images)
    if reconstruction.shape != images.shape:
        raise ValueError(
            f"reconstruction {tuple(reconstruction.shape)} and images {tuple(images.shape)} differ in shape"
        )
    if mu.shape != logvar.shape or mu.ndim != 2 or len(mu) != len(images):
        raise ValueError(
            f"mu and logvar must both be (N, latent_dim) with N={len(images)}, "
            f"got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    reconstruction_term = F.binary_cross_entropy(reconstruction, images, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (reconstruction_term + beta * kl) / len(images)


class _ImagesAsTargets:
    """A loader's batches as ``(images, images)``: an autoencoder's target is its input (labels dropped)."""

    def __init__(self, loader: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return ((images, images) for images, _ in self.loader)


def train_vae(
    model: VAE,
    loader: SizedBatches,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    beta: float = 1.0,
    device: torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train a :class:`VAE` on the images of ``loader`` (labels ignored) with ``utils.fit``; one history row per epoch.

    Mixed precision stays off: the binary cross-entropy of probabilities is unsafe in float16.
    """

    def negative_elbo(outputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        reconstruction, mu, logvar = outputs
        return vae_loss(reconstruction, images, mu, logvar, beta=beta)

    history = fit(
        model,
        _ImagesAsTargets(loader),
        epochs=epochs,
        optimizer=optimizer,
        loss_fn=negative_elbo,
        device=device,
        amp=False,
        progress=progress,
        description="VAE",
    )
    model.eval()
    return history


def gan_training_step(
    generator: DCGANGenerator,
    discriminator: DCGANDiscriminator,
    real: torch.Tensor,
    generator_optimizer: torch.optim.Optimizer,
    discriminator_optimizer: torch.optim.Optimizer,
    real_label: float = 1.0,
    scalers: tuple[torch.amp.GradScaler, torch.amp.GradScaler] | None = None,
) -> dict[str, float]:
    """One DCGAN step on a batch of real images in [0, 1]: update D on real vs fake, then G to fool D.

    The generator uses the non-saturating loss ``-log D(G(z))``. ``real_label`` < 1 is one-sided
    label smoothing (Salimans et al., 2016). Returns the two losses and D's mean outputs. Both updates
    go through ``utils.training.optimizer_step`` (the non-finite check); ``scalers`` (the discriminator's
    and the generator's enabled ``GradScaler``) turn on float16 mixed precision on CUDA.
    """
    _check_images(real, "real")
    n = len(real)
    real = real * 2 - 1  # the generator's tanh range
    scaler_d, scaler_g = scalers if scalers is not None else (None, None)
    amp = scaler_d is not None and scaler_d.is_enabled()
    with torch.autocast(device_type=real.device.type, dtype=torch.float16, enabled=amp):
        z = torch.randn(n, generator.latent_dim, device=real.device)
        fake = generator(z)
        real_logits = discriminator(real)
        fake_logits = discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            real_logits, torch.full_like(real_logits, real_label)
        ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    optimizer_step(d_loss, discriminator_optimizer, scaler_d, where=" (the discriminator's loss)")

    with torch.autocast(device_type=real.device.type, dtype=torch.float16, enabled=amp):
        fooled_logits = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(fooled_logits, torch.ones_like(fooled_logits))
    optimizer_step(g_loss, generator_optimizer, scaler_g, where=" (the generator's loss)")
    return {
        "d_loss": d_loss.item(),
        "g_loss": g_loss.item(),
        "d_real": torch.sigmoid(real_logits).mean().item(),
        "d_fake": torch.sigmoid(fake_logits).mean().item(),
    }


def train_gan(
    generator: DCGANGenerator,
    discriminator: DCGANDiscriminator,
    loader: SizedBatches,
    epochs: int,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    real_label: float = 1.0,
    snapshot_z: torch.Tensor | None = None,
    device: torch.device | None = None,
    progress: bool = True,
    amp: bool = True,
) -> tuple[pd.DataFrame, dict[int, torch.Tensor]]:
    """Train a DCGAN with Adam (the paper's ``lr=2e-4, betas=(0.5, 0.999)``).

    Returns the per-batch history (``step``, ``epoch``, ``d_loss``, ``g_loss``, ``d_real``,
    ``d_fake``) and, if ``snapshot_z`` is given, the images generated from those fixed latent
    vectors after each epoch (``{epoch: images in [0, 1]}``, epoch 0 = before training). ``amp``:
    float16 mixed precision when training on CUDA (ignored on the CPU). A non-finite loss raises
    :class:`utils.training.NonFiniteLossError`.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    device = device or get_device()
    generator.to(device).train()
    discriminator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)
    on_cuda = amp and device.type == "cuda"
    scalers = (torch.amp.GradScaler("cuda", enabled=on_cuda), torch.amp.GradScaler("cuda", enabled=on_cuda))

    def snapshot(z: torch.Tensor) -> torch.Tensor:
        generator.eval()
        with torch.no_grad():
            images = (generator(z.to(device)) + 1) / 2
        generator.train()
        return images.cpu()

    snapshots = {0: snapshot(snapshot_z)} if snapshot_z is not None else {}
    rows: list[dict[str, float]] = []
    bar = tqdm(total=epochs * len(loader), desc="DCGAN", disable=not progress)
    for epoch in range(1, epochs + 1):
        for real, _ in loader:
            losses = gan_training_step(generator, discriminator, real.to(device), opt_g, opt_d, real_label, scalers)
            rows.append({"step": len(rows) + 1, "epoch": epoch, **losses})
            bar.update(1)
        bar.set_postfix(d_loss=f"{losses['d_loss']:.2f}", g_loss=f"{losses['g_loss']:.2f}")
        if snapshot_z is not None:
            snapshots[epoch] = snapshot(snapshot_z)
    bar.close()
    generator.eval()
    discriminator.eval()
    return pd.DataFrame(rows), snapshots


def extract_features(extractor: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Feature vectors ``(N, D)`` of ``images`` in batches, in float64 on the CPU."""
    _check_images(images)
    return predict(extractor, images, batch_size=batch_size).double()


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sets of feature vectors ``(N, D)``.

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The trace of the matrix square root is
    the sum of the square roots of the eigenvalues of ``S_a S_b`` (real and >= 0 up to rounding).
    """
    for name, f in (("features_a", features_a), ("features_b", features_b)):
        if not isinstance(f, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(f).__name__}")
        if f.ndim != 2 or len(f) < 2:
            raise ValueError(f"{name} must have shape (N >= 2, D), got {tuple(f.shape)}")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(f"the two sets have different feature sizes: {features_a.shape[1]} and {features_b.shape[1]}")
    a, b = features_a.double(), features_b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    root_trace = torch.linalg.eigvals(cov_a @ cov_b).sqrt().real.sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * root_trace)


def torchmetrics_frechet_distance(
    extractor: FeatureExtractor, real: torch.Tensor, fake: torch.Tensor, batch_size: int = 500
) -> float:
    """The same distance computed by torchmetrics' ``FrechetInceptionDistance`` with ``extractor`` as its network."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    _check_images(real, "real")
    _check_images(fake, "fake")
    metric = FrechetInceptionDistance(feature=extractor, normalize=True)
    device = model_device(extractor)
    metric.to(device)
    for images, is_real in ((real, True), (fake, False)):
        for i in range(0, len(images), batch_size):
            metric.update(images[i : i + batch_size].to(device), real=is_real)
    return float(metric.compute())


def classifier_report(
    classifier: nn.Module, images: torch.Tensor, threshold: float = 0.9, num_classes: int = 10
) -> dict[str, object]:
    """How a classifier sees generated images: the share it classifies with confidence >= ``threshold``,
    the predicted class of each image, its confidence, and the class histogram (shares summing to 1)."""
    _check_images(images)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    probabilities = predict(classifier, images, batch_size=500).softmax(1)
    confidence, predicted = probabilities.max(1)
    histogram = torch.bincount(predicted, minlength=num_classes).double() / len(images)
    return {
        "confident_share": float((confidence >= threshold).double().mean()),
        "predicted": predicted,
        "confidence": confidence,
        "class_shares": histogram,
    }


def latent_walk(
    decode: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, end: torch.Tensor, steps: int = 8
) -> torch.Tensor:
    """Decode ``steps`` points on the straight line from latent vector ``start`` to ``end`` (both ``(D,)``)."""
    if start.shape != end.shape or start.ndim != 1:
        raise ValueError(
            "start and end must be latent vectors of the same shape (D,), "
            f"got {tuple(start.shape)} and {tuple(end.shape)}"
        )
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    t = torch.linspace(0, 1, steps, device=start.device).unsqueeze(1)
    with torch.no_grad():
        return decode((1 - t) * start + t * end)
