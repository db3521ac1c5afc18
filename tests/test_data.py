import gzip
import shutil

import pytest
import torch

import utils
from utils import data


def test_load_mnist_shapes_dtypes_and_published_counts():
    images, labels = utils.load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, test_labels = utils.load_mnist("test")
    assert test_images.shape == (10000, 28, 28)
    assert torch.bincount(test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert test_labels[:5].tolist() == [7, 2, 1, 0, 4]


def test_load_mnist_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        utils.load_mnist("validation")


@pytest.fixture
def mnist_copy(tmp_path):
    for path in data.MNIST_DIR.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_missing_file_is_named_with_restore_hint(mnist_copy):
    (mnist_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(utils.DataFileError, match=r"t10k-labels-idx1-ubyte\.gz is missing.*git checkout"):
        utils.load_mnist("test", directory=mnist_copy)


def test_corrupt_file_is_detected_by_checksum(mnist_copy):
    path = mnist_copy / "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress(path.read_bytes()))
    payload[100] = (payload[100] + 1) % 10  # one wrong label
    path.write_bytes(gzip.compress(bytes(payload)))
    with pytest.raises(utils.DataFileError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt.*restore"):
        utils.load_mnist("test", directory=mnist_copy)


def test_to_float_images_scales_and_adds_channel():
    images = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    out = utils.to_float_images(images)
    assert out.shape == (1, 1, 2, 2) and out.dtype == torch.float32
    assert torch.allclose(out.flatten(), torch.tensor([0.0, 1.0, 0.2, 0.4]))


@pytest.mark.parametrize("bad", [torch.zeros(2, 28, 28), torch.zeros(28, 28, dtype=torch.uint8)])
def test_to_float_images_rejects_wrong_dtype_or_shape(bad):
    with pytest.raises(ValueError, match="expected uint8 images of shape"):
        utils.to_float_images(bad)


def test_to_float_images_rejects_non_tensor():
    with pytest.raises(TypeError):
        utils.to_float_images([[1, 2]])


def test_torchvision_mnist_reads_the_offline_root(tmp_path):
    from torchvision.datasets import MNIST

    root = utils.mnist_torchvision_root(tmp_path)
    test_set = MNIST(root, train=False, download=False)
    images, labels = utils.load_mnist("test")
    assert len(test_set) == 10000
    assert torch.equal(test_set.data, images) and torch.equal(test_set.targets, labels)


def test_online_dataset_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        utils.load_online_dataset("imagenet")


def test_online_dataset_offline_gives_one_clear_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "internet_available", lambda *a, **k: False)
    with pytest.raises(utils.DatasetUnavailableError) as caught:
        utils.load_online_dataset("cifar10", root=tmp_path)
    message = str(caught.value)
    assert "cifar10" in message and "internet" in message and "MNIST" in message
    assert "\n" not in message


def test_online_dataset_download_failure_is_wrapped(tmp_path, monkeypatch):
    import torchvision.datasets

    def failing_download(*args, download=False, **kwargs):
        if download:
            raise OSError("urlopen error [Errno -3] Temporary failure in name resolution")
        raise RuntimeError("Dataset not found.")

    monkeypatch.setattr(data, "internet_available", lambda *a, **k: True)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", failing_download)
    with pytest.raises(utils.DatasetUnavailableError, match="fashion_mnist .*internet"):
        utils.load_online_dataset("fashion_mnist", root=tmp_path)


def test_skimage_photo_bundled_and_unknown():
    photo = utils.skimage_photo("astronaut")
    assert photo.shape == (512, 512, 3) and photo.dtype.name == "uint8"
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        utils.skimage_photo("lena")


def test_offline_message_shows_no_absolute_path(monkeypatch):
    monkeypatch.setattr(data, "internet_available", lambda *a, **k: False)
    with pytest.raises(utils.DatasetUnavailableError) as caught:
        utils.load_online_dataset("cifar100")
    assert str(data.REPO_ROOT) not in str(caught.value)
    assert "data/torchvision" in str(caught.value)
