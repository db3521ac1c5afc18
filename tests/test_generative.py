import math

import numpy as np
import pytest
import torch
from torch import nn

import utils
from utils.generative import (
    classifier_report, extract_features, frechet_distance, gan_training_step, latent_walk,
    torchmetrics_frechet_distance, train_gan, train_vae, vae_loss,
)
from utils.models import VAE, Autoencoder, DCGANDiscriminator, DCGANGenerator, FeatureExtractor, init_dcgan_weights


def test_shapes_of_the_models():
    x = torch.rand(3, 1, 28, 28)
    assert Autoencoder(8)(x).shape == x.shape and Autoencoder(8).encode(x).shape == (3, 8)
    reconstruction, mu, logvar = VAE(8)(x)
    assert reconstruction.shape == x.shape and mu.shape == logvar.shape == (3, 8)
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1
    assert VAE(8).sample(5).shape == (5, 1, 28, 28)
    generator = DCGANGenerator(latent_dim=16, width=8)
    sample = generator.sample(4)
    assert sample.shape == (4, 1, 28, 28) and sample.min() >= 0 and sample.max() <= 1
    assert DCGANDiscriminator(width=8)(x).shape == (3,)
    with_hidden = DCGANGenerator(latent_dim=16, width=8, hidden=32)
    assert with_hidden.sample(2).shape == (2, 1, 28, 28)
    assert any(isinstance(m, nn.Linear) and m.out_features == 32 for m in with_hidden.modules())
    assert DCGANDiscriminator(width=8, hidden=32)(x).shape == (3,)
    assert latent_walk(VAE(8).decode, torch.zeros(8), torch.ones(8), steps=5).shape == (5, 1, 28, 28)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="latent_dim"):
        VAE(0)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        VAE(4)(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError):
        DCGANDiscriminator(8)([[0.0]])
    with pytest.raises(ValueError, match="z must have shape"):
        DCGANGenerator(16, 8)(torch.zeros(2, 15))
    with pytest.raises(ValueError, match="hidden"):
        DCGANDiscriminator(8, hidden=-1)
    with pytest.raises(ValueError, match="width"):
        DCGANGenerator(16, 0)
    with pytest.raises(ValueError, match="feature sizes"):
        frechet_distance(torch.rand(10, 3), torch.rand(10, 4))
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(torch.rand(1, 3), torch.rand(10, 3))
    with pytest.raises(ValueError, match="num_features"):
        FeatureExtractor(nn.Flatten(), 0)


def test_vae_loss_is_reconstruction_plus_kl():
    images = torch.rand(4, 1, 28, 28)
    reconstruction = torch.full_like(images, 0.5)
    mu, logvar = torch.zeros(4, 2), torch.zeros(4, 2)
    expected = 28 * 28 * math.log(2)  # BCE of 0.5 is log 2 whatever the target; KL of N(0, 1) is 0
    assert vae_loss(reconstruction, images, mu, logvar).item() == pytest.approx(expected, rel=1e-5)
    assert vae_loss(reconstruction, images, torch.ones(4, 2), logvar).item() == pytest.approx(expected + 1.0, rel=1e-5)


def test_frechet_distance_known_values_and_agrees_with_torchmetrics():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(4000, 3, generator=g, dtype=torch.float64) * 2 + 1
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(1, 4I) in 3-D: |mu|^2 = 3, trace term 3 * (1 + 4 - 2*2) = 3
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.1)
    extractor = FeatureExtractor(nn.Sequential(nn.AvgPool2d(7), nn.Flatten()), 16)
    real, fake = torch.rand(300, 1, 28, 28, generator=g), torch.rand(300, 1, 28, 28, generator=g) ** 2
    ours = frechet_distance(extract_features(extractor, real), extract_features(extractor, fake))
    assert ours == pytest.approx(torchmetrics_frechet_distance(extractor, real, fake, batch_size=128), rel=1e-4)


def test_frechet_distance_uses_the_unbiased_covariance():
    """Equal means, so only the covariance term counts, and few samples, so the biased covariance (divided by N)
    is clearly off: by (N - 1) / N."""
    # four centred points with orthogonal columns: each set's sample covariance is exactly diagonal, 4 s^2 / 3
    signs = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    scales_a, scales_b = torch.tensor([1.0, 3.0], dtype=torch.float64), torch.tensor([2.0, 0.5], dtype=torch.float64)
    # diagonal covariances: FD = sum (sqrt(var_a) - sqrt(var_b))^2 = 4/3 * sum (s_a - s_b)^2
    expected = 4 / 3 * (scales_a - scales_b).square().sum().item()
    assert frechet_distance(signs * scales_a, signs * scales_b) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_matches_a_scipy_reference_on_full_covariances():
    from scipy.linalg import sqrtm

    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 3, generator=g, dtype=torch.float64)
    mixing = torch.tensor([[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]], dtype=torch.float64)
    b = torch.randn(6, 3, generator=g, dtype=torch.float64) @ mixing  # correlated, unlike a
    a, b = a - a.mean(0), b - b.mean(0)  # equal means: the distance is all covariance
    cov_a, cov_b = np.cov(a.numpy(), rowvar=False), np.cov(b.numpy(), rowvar=False)  # unbiased (N - 1)
    reference = np.trace(cov_a + cov_b - 2 * sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(a, b) == pytest.approx(reference, rel=1e-9)
    assert frechet_distance(a.float(), b.float()) == pytest.approx(reference, rel=1e-5)  # float32 features too


def test_vae_and_gan_training_run_and_reduce_the_vae_loss(tiny_digits):
    torch.manual_seed(0)
    images, labels = tiny_digits
    loader = utils.TensorLoader(images, labels, batch_size=64, shuffle=True)
    history = train_vae(VAE(4), loader, epochs=3, progress=False, device=torch.device("cpu"))
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    generator, discriminator = DCGANGenerator(16, 8), DCGANDiscriminator(8)
    generator.apply(init_dcgan_weights)
    discriminator.apply(init_dcgan_weights)
    fixed = torch.randn(4, 16)
    history, snapshots = train_gan(generator, discriminator, loader, epochs=2, snapshot_z=fixed, progress=False, device=torch.device("cpu"))
    assert len(history) == 2 * len(loader) and set(snapshots) == {0, 1, 2}
    assert snapshots[2].shape == (4, 1, 28, 28) and not torch.equal(snapshots[0], snapshots[2])
    with pytest.raises(ValueError, match="real"):
        gan_training_step(generator, discriminator, torch.rand(2, 28, 28), None, None)


def test_classifier_report_counts_confident_samples():
    class Fixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.dummy = nn.Parameter(torch.zeros(1))

        def forward(self, x):  # image 0 -> class 3 with high confidence, others uniform
            logits = torch.zeros(len(x), 10)
            logits[0, 3] = 20.0
            return logits + self.dummy

    report = classifier_report(Fixed(), torch.rand(4, 1, 28, 28))
    assert report["confident_share"] == 0.25
    assert report["predicted"][0] == 3 and report["class_shares"].sum().item() == pytest.approx(1.0)
