import pytest
import torch
from torch import nn

import utils
from utils.attacks import AdversarialBatches, fgsm, pgd, robust_accuracy


def linear_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def batch(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_fgsm_moves_each_pixel_by_at_most_epsilon_and_stays_in_range():
    model = linear_model()
    images, labels = batch()
    for eps in (0.0, 0.05, 0.3):
        adversarial = fgsm(model, images, labels, eps)
        assert adversarial.shape == images.shape
        assert (adversarial - images).abs().max() <= eps + 1e-6
        assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert model[1].weight.grad is None, "the attack must not leave gradients on the model"


def test_fgsm_and_pgd_raise_the_loss():
    model = linear_model()
    images, labels = batch()
    loss = lambda x: nn.functional.cross_entropy(model(x), labels).item()
    clean = loss(images)
    fgsm_loss = loss(fgsm(model, images, labels, 0.1))
    pgd_images = pgd(model, images, labels, 0.1, steps=10, generator=torch.Generator().manual_seed(0))
    assert fgsm_loss > clean
    assert loss(pgd_images) >= fgsm_loss - 1e-4
    assert (pgd_images - images).abs().max() <= 0.1 + 1e-6


def test_attacks_reject_bad_input():
    model = linear_model()
    images, labels = batch()
    with pytest.raises(ValueError, match="epsilon"):
        fgsm(model, images, labels, -0.1)
    with pytest.raises(ValueError, match="labels"):
        fgsm(model, images, labels[:3], 0.1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        fgsm(model, images[0, 0], labels, 0.1)
    with pytest.raises(TypeError):
        fgsm(model, images.numpy(), labels, 0.1)
    with pytest.raises(ValueError, match="steps"):
        pgd(model, images, labels, 0.1, steps=0)
    with pytest.raises(ValueError, match="method"):
        AdversarialBatches([], model, 0.1, method="cw")


def test_robust_accuracy_table_and_adversarial_batches(tiny_digits):
    images, labels = tiny_digits
    model = linear_model()
    loader = utils.TensorLoader(images, labels, batch_size=64)
    utils.fit(model, loader, epochs=3, progress=False, device=torch.device("cpu"))
    table = robust_accuracy(model, loader, [0.0, 0.1, 0.25])
    assert table["epsilon"].tolist() == [0.0, 0.1, 0.25]
    assert table["accuracy"].iloc[0] > 0.6
    assert table["accuracy"].is_monotonic_decreasing and table["accuracy"].iloc[-1] < table["accuracy"].iloc[0]
    wrapped = AdversarialBatches(loader, model, 0.1)
    assert len(wrapped) == len(loader)
    x, y = next(iter(wrapped))
    assert x.shape == (128, 1, 28, 28) and torch.equal(y[:64], y[64:])
    assert (x[64:] - x[:64]).abs().max() <= 0.1 + 1e-6


@pytest.mark.parametrize("attack", [fgsm, pgd])
def test_attacks_refuse_images_outside_zero_one(attack):
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    labels = torch.tensor([0, 1])
    for images in (torch.full((2, 1, 2, 2), 255.0), torch.full((2, 1, 2, 2), -0.5), torch.full((2, 1, 2, 2), float("nan"))):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            attack(model, images, labels, 0.1)  # clamping 0-255 pixels into [0, 1] would erase the images
