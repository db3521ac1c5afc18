"""Generative models of 28x28 digits and how to score them (weeks 8-9).

An autoencoder, a variational autoencoder (Kingma & Welling, 2014) and a DCGAN (Radford et al.,
2016), the training steps of the last two, and the Fréchet distance between two sets of images in
the feature space of a classifier (the idea of FID, Heusel et al., 2017, without the Inception
download). Images are ``float32`` ``(N, 1, 28, 28)`` in [0, 1]; the GAN works in [-1, 1] inside
and :meth:`DCGANGenerator.sample` gives [0, 1] back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.env import get_device, model_device
from utils.metrics import predict
from utils.training import SizedBatches


def _check_images(images: torch.Tensor, name: str = "images") -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28) or not images.is_floating_point():
        raise ValueError(
            f"{name} must be float images of shape (N, 1, 28, 28), got {images.dtype} {tuple(images.shape)}"
        )


def _check_latent_dim(latent_dim: int) -> None:
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")


class _Encoder(nn.Sequential):
    """28x28 -> 14x14 -> 7x7 convolutions, flattened: ``(N, 1, 28, 28)`` -> ``(N, 64*7*7)``."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 32, 4, stride=2, padding=1),
            nn.ReLU(),  # 28 -> 14
            nn.Conv2d(32, 64, 4, stride=2, padding=1),
            nn.ReLU(),  # 14 -> 7
            nn.Flatten(),
        )


class _Decoder(nn.Sequential):
    """A latent vector -> 64x7x7 -> 14x14 -> 28x28 logits (the mirror of :class:`_Encoder`)."""

    def __init__(self, latent_dim: int) -> None:
        super().__init__(
            nn.Linear(latent_dim, 64 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1),
            nn.ReLU(),  # 7 -> 14
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 14 -> 28, logits
        )


class Autoencoder(nn.Module):
    """A convolutional autoencoder: ``encode`` to ``latent_dim`` numbers, ``decode`` back to [0, 1] pixels.

    ``forward`` returns the reconstruction, so ``utils.fit`` trains it with ``TensorLoader(x, x)``
    and a reconstruction loss such as ``F.binary_cross_entropy``.

    >>> Autoencoder(latent_dim=16)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, latent_dim: int = 16) -> None:
        super().__init__()
        _check_latent_dim(latent_dim)
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(_Encoder(), nn.Linear(64 * 7 * 7, latent_dim))
        self.decoder = _Decoder(latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """A convolutional variational autoencoder: the encoder gives a Gaussian ``(mu, logvar)`` per image.

    ``forward`` returns ``(reconstruction, mu, logvar)``; :func:`vae_loss` turns them into the
    negative evidence lower bound. ``sample(n)`` decodes ``n`` draws from the prior N(0, I).

    >>> recon, mu, logvar = VAE(latent_dim=16)(torch.zeros(2, 1, 28, 28))
    """

    def __init__(self, latent_dim: int = 16) -> None:
        super().__init__()
        _check_latent_dim(latent_dim)
        self.latent_dim = latent_dim
        self.encoder = _Encoder()
        self.to_mu = nn.Linear(64 * 7 * 7, latent_dim)
        self.to_logvar = nn.Linear(64 * 7 * 7, latent_dim)
        self.decoder = _Decoder(latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _check_images(x)
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # the reparameterisation trick
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new images decoded from z ~ N(0, I)."""
        device = model_device(self)
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z)


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


def train_vae(
    model: VAE,
    loader: SizedBatches,
    epochs: int,
    optimizer: torch.optim.Optimizer | None = None,
    beta: float = 1.0,
    device: torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train a :class:`VAE` on the images of ``loader`` (labels ignored); one history row per epoch."""
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    device = device or get_device()
    model.to(device).train()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    rows = []
    bar = tqdm(total=epochs * len(loader), desc="VAE", disable=not progress)
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for images, _ in loader:
            images = images.to(device)
            reconstruction, mu, logvar = model(images)
            loss = vae_loss(reconstruction, images, mu, logvar, beta=beta)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(images), count + len(images)
            bar.update(1)
        rows.append({"epoch": epoch, "train_loss": total / count})
        bar.set_postfix(loss=f"{total / count:.1f}")
    bar.close()
    model.eval()
    return pd.DataFrame(rows)


def _check_width_and_hidden(width: int, hidden: int) -> None:
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    if not isinstance(hidden, int) or hidden < 0:
        raise ValueError(f"hidden must be a non-negative int (0: no hidden layer), got {hidden!r}")


def _dense(in_features: int, out_features: int, activation: nn.Module) -> list[nn.Module]:
    """Linear (no bias: batch norm follows), batch norm, activation."""
    return [nn.Linear(in_features, out_features, bias=False), nn.BatchNorm1d(out_features), activation]


class DCGANGenerator(nn.Module):
    """DCGAN generator for 28x28 digits: z -> 7x7 -> 14x14 -> 28x28 with transposed convolutions.

    Batch normalisation and ReLU inside, ``tanh`` at the end (pixels in [-1, 1]), as in Radford et al.
    ``hidden > 0`` adds a fully connected layer of that size before the 7x7 map, as in InfoGAN's MNIST
    networks (Chen et al., 2016).
    """

    def __init__(self, latent_dim: int = 64, width: int = 64, hidden: int = 0) -> None:
        super().__init__()
        _check_latent_dim(latent_dim)
        _check_width_and_hidden(width, hidden)
        self.latent_dim = latent_dim
        if hidden:
            dense = [*_dense(latent_dim, hidden, nn.ReLU()), *_dense(hidden, 2 * width * 7 * 7, nn.ReLU())]
        else:
            dense = _dense(latent_dim, 2 * width * 7 * 7, nn.ReLU())
        self.net = nn.Sequential(
            *dense,
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return self.net(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` images in [0, 1] from z ~ N(0, I), generated in evaluation mode."""
        was_training = self.training
        self.eval()
        device = model_device(self)
        images = (self(torch.randn(n, self.latent_dim, generator=generator).to(device)) + 1) / 2
        self.train(was_training)
        return images


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator: strided convolutions with LeakyReLU, one logit "real" per image.

    ``hidden > 0`` adds a fully connected layer of that size before the logit (InfoGAN's MNIST networks).
    """

    def __init__(self, width: int = 64, hidden: int = 0) -> None:
        super().__init__()
        _check_width_and_hidden(width, hidden)
        if hidden:
            head = [*_dense(2 * width * 7 * 7, hidden, nn.LeakyReLU(0.2)), nn.Linear(hidden, 1)]
        else:
            head = [nn.Linear(2 * width * 7 * 7, 1)]
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),  # 28 -> 14
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),  # -> 7
            nn.Flatten(),
            *head,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.net(x).squeeze(1)


def init_dcgan_weights(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: conv weights ~ N(0, 0.02), batch-norm scales ~ N(1, 0.02).

    Apply it to every layer with ``model.apply(init_dcgan_weights)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def gan_training_step(
    generator: DCGANGenerator,
    discriminator: DCGANDiscriminator,
    real: torch.Tensor,
    generator_optimizer: torch.optim.Optimizer,
    discriminator_optimizer: torch.optim.Optimizer,
    real_label: float = 1.0,
) -> dict[str, float]:
    """One DCGAN step on a batch of real images in [0, 1]: update D on real vs fake, then G to fool D.

    The generator uses the non-saturating loss ``-log D(G(z))``. ``real_label`` < 1 is one-sided
    label smoothing (Salimans et al., 2016). Returns the two losses and D's mean outputs.
    """
    _check_images(real, "real")
    n = len(real)
    real = real * 2 - 1  # the generator's tanh range
    z = torch.randn(n, generator.latent_dim, device=real.device)
    fake = generator(z)

    real_logits = discriminator(real)
    fake_logits = discriminator(fake.detach())
    d_loss = F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, real_label)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    discriminator_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    discriminator_optimizer.step()

    fooled_logits = discriminator(fake)
    g_loss = F.binary_cross_entropy_with_logits(fooled_logits, torch.ones_like(fooled_logits))
    generator_optimizer.zero_grad(set_to_none=True)
    g_loss.backward()
    generator_optimizer.step()
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
) -> tuple[pd.DataFrame, dict[int, torch.Tensor]]:
    """Train a DCGAN with Adam (the paper's ``lr=2e-4, betas=(0.5, 0.999)``).

    Returns the per-batch history (``step``, ``epoch``, ``d_loss``, ``g_loss``, ``d_real``,
    ``d_fake``) and, if ``snapshot_z`` is given, the images generated from those fixed latent
    vectors after each epoch (``{epoch: images in [0, 1]}``, epoch 0 = before training).
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    device = device or get_device()
    generator.to(device).train()
    discriminator.to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=betas)

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
            losses = gan_training_step(generator, discriminator, real.to(device), opt_g, opt_d, real_label)
            if not (math.isfinite(losses["d_loss"]) and math.isfinite(losses["g_loss"])):
                raise RuntimeError(f"a GAN loss became non-finite at epoch {epoch}: {losses}")
            rows.append({"step": len(rows) + 1, "epoch": epoch, **losses})
            bar.update(1)
        bar.set_postfix(d_loss=f"{losses['d_loss']:.2f}", g_loss=f"{losses['g_loss']:.2f}")
        if snapshot_z is not None:
            snapshots[epoch] = snapshot(snapshot_z)
    bar.close()
    generator.eval()
    discriminator.eval()
    return pd.DataFrame(rows), snapshots


class FeatureExtractor(nn.Module):
    """Wrap a network body that maps images to feature vectors, with the ``num_features`` torchmetrics reads.

    ``FrechetInceptionDistance(feature=FeatureExtractor(body, 84))`` then uses this feature space
    instead of downloading Inception-v3. Evaluation mode, no gradients.
    """

    def __init__(self, body: nn.Module, num_features: int) -> None:
        super().__init__()
        if not isinstance(body, nn.Module):
            raise TypeError(f"body must be an nn.Module, got {type(body).__name__}")
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        self.body = body.eval()
        self.num_features = num_features

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.body.eval()
        features = self.body(x.float()).flatten(1)
        if features.shape[1] != self.num_features:
            raise ValueError(f"the body gives {features.shape[1]} features, not num_features={self.num_features}")
        return features


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
