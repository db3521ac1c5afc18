"""The generative networks of weeks 8-9: autoencoder, VAE, DCGAN, and a classifier's features for the
Fréchet distance."""

from __future__ import annotations

import torch
from torch import nn

from utils.env import model_device


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

    Use it as ``model.apply(init_dcgan_weights)``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


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
