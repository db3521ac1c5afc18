import pytest
import torch

import utils


def make(n=10, **kwargs):
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(n)
    return utils.TensorLoader(x, y, **kwargs)


def test_batches_cover_every_example_in_order():
    loader = make(10, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    assert torch.cat([y for _, y in batches]).tolist() == list(range(10))


def test_drop_last():
    loader = make(10, batch_size=4, drop_last=True)
    assert len(loader) == 2 and loader.num_examples == 8
    assert sum(len(y) for _, y in loader) == 8


def test_shuffle_is_a_seeded_permutation_that_changes_every_epoch():
    loader = make(50, batch_size=8, shuffle=True, seed=3)
    epoch1 = torch.cat([y for _, y in loader])
    epoch2 = torch.cat([y for _, y in loader])
    assert sorted(epoch1.tolist()) == list(range(50))
    assert not torch.equal(epoch1, epoch2)
    again = torch.cat([y for _, y in make(50, batch_size=8, shuffle=True, seed=3)])
    assert torch.equal(epoch1, again)


def test_inputs_stay_paired_with_targets_and_transform_applies_per_batch():
    loader = make(20, batch_size=6, shuffle=True, transform=lambda x: x * 10)
    for x, y in loader:
        assert torch.equal(x.squeeze(1), y.float() * 10)


def test_bad_input():
    with pytest.raises(ValueError, match="same first dimension"):
        utils.TensorLoader(torch.zeros(5, 2), torch.zeros(4))
    with pytest.raises(TypeError, match="must be tensors"):
        utils.TensorLoader([1, 2], torch.zeros(2))
    with pytest.raises(ValueError, match="batch_size"):
        utils.TensorLoader(torch.zeros(5), torch.zeros(5), batch_size=0)


def test_random_translate_moves_each_image_by_at_most_max_pixels():
    images = torch.zeros(64, 1, 28, 28)
    images[:, :, 14, 14] = 1.0  # one bright pixel in the middle
    shifted = utils.random_translate(images, max_pixels=2.0, generator=torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape
    rows = torch.arange(28).view(1, 28, 1).float()
    cols = torch.arange(28).view(1, 1, 28).float()
    mass = shifted[:, 0].sum(dim=(1, 2))
    centre_y = (shifted[:, 0] * rows).sum(dim=(1, 2)) / mass
    centre_x = (shifted[:, 0] * cols).sum(dim=(1, 2)) / mass
    assert ((centre_y - 14).abs() <= 2.01).all() and ((centre_x - 14).abs() <= 2.01).all()
    assert (centre_x - 14).abs().max() > 1.0  # it really moves things
    assert torch.allclose(utils.random_translate(images, max_pixels=0.0), images, atol=1e-6)


def test_random_translate_bad_input():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        utils.random_translate(torch.zeros(28, 28))
    with pytest.raises(ValueError, match="max_pixels"):
        utils.random_translate(torch.zeros(1, 1, 4, 4), max_pixels=-1)
