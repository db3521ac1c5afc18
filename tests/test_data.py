import gzip
import re
import shutil

import numpy as np
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


@pytest.mark.parametrize("unlisted", data.MNIST_FILES["test"])
def test_a_file_without_a_line_in_sha256sums_is_refused(mnist_copy, unlisted):
    sums = mnist_copy / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    sums.write_text("".join(f"{line}\n" for line in lines if not line.endswith(unlisted)))
    assert len(sums.read_text().splitlines()) == len(lines) - 1  # the file itself is intact: only its line is gone
    with pytest.raises(utils.DataFileError, match=rf"{re.escape(unlisted)}.*SHA256SUMS.*restore"):
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


# ---------------------------------------------------------------------------------- write_image_folder
def _two_images():
    return np.zeros((2, 4, 4), dtype=np.uint8), [0, 1]


def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("bad", ["../../x", "../x", "a/b", "/tmp/x", "", ".", "..", "a\0b", "a\\b", "C:x"])
def test_write_image_folder_refuses_class_names_that_escape_root(tmp_path, bad):
    parent_before = sorted(p.name for p in tmp_path.parent.iterdir())
    with pytest.raises(ValueError, match=re.escape(repr(bad)) + " is not a single plain folder name"):
        data.write_image_folder(*_two_images(), tmp_path / "root", class_names=["ok", bad])
    assert _files(tmp_path) == [], "nothing written, not even the root"
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == parent_before, "nothing written outside"


def test_write_image_folder_refuses_a_class_folder_that_links_outside(tmp_path):
    outside, root = tmp_path / "outside", tmp_path / "root"
    outside.mkdir()
    root.mkdir()
    (root / "cat").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="'cat' leads outside"):
        data.write_image_folder(*_two_images(), root, class_names=["cat", "dog"], if_exists="add")
    assert _files(outside) == [] and _files(root) == ["cat"]


def test_write_image_folder_refuses_a_folder_that_is_not_empty(tmp_path):
    root = data.write_image_folder(*_two_images(), tmp_path / "digits")
    (root / "notes.txt").write_text("mine")
    before = _files(root)
    with pytest.raises(FileExistsError, match=r"not empty: it holds 3 entries \(0, 1, notes.txt\).*if_exists='add'"):
        data.write_image_folder(np.zeros((3, 4, 4), dtype=np.uint8), [0, 1, 2], root)
    assert _files(root) == before, "nothing of the second call mixed in"
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(FileExistsError, match="not a folder"):
        data.write_image_folder(*_two_images(), tmp_path / "a_file")
    with pytest.raises(ValueError, match="if_exists must be one of"):
        data.write_image_folder(*_two_images(), tmp_path / "new", if_exists="overwrite")


def test_write_image_folder_writes_into_an_empty_existing_folder_silently(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    data.write_image_folder(*_two_images(), tmp_path / "empty")
    assert _files(tmp_path / "empty") == ["0", "0/0.png", "1", "1/1.png"]
    assert capsys.readouterr().out == ""


def test_write_image_folder_add_mode_adds_says_so_and_replaces_nothing(tmp_path, capsys):
    root = tmp_path / "photos"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "mine.jpg").write_bytes(b"the user's photo")
    data.write_image_folder(*_two_images(), root, class_names=["dog", "owl"], if_exists="add")
    assert capsys.readouterr().out.strip() == "write_image_folder: adding to photos/, which already holds 1 entry (cat)"
    assert _files(root) == ["cat", "cat/mine.jpg", "dog", "dog/0.png", "owl", "owl/1.png"]
    png = (root / "dog" / "0.png").read_bytes()
    with pytest.raises(FileExistsError, match=r"0\.png already exists"):
        data.write_image_folder(np.full((1, 4, 4), 255, dtype=np.uint8), [0], root, class_names=["dog"], if_exists="add")
    assert (root / "dog" / "0.png").read_bytes() == png and (root / "cat" / "mine.jpg").read_bytes() == b"the user's photo"
