"""Data for the course: the real MNIST shipped in ``data/``, datasets that need a download, and photos.

MNIST is read straight from its original IDX files (checked against ``data/mnist/SHA256SUMS``), so
every notebook works offline. Fashion-MNIST and CIFAR need the internet the first time; offline
they raise :class:`DatasetUnavailableError` with one sentence, and notebooks carry on with MNIST.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
MNIST_DIR = DATA_DIR / "mnist"

MNIST_MEAN = 0.1307
"""Mean pixel value of the MNIST training images, scaled to [0, 1]."""
MNIST_STD = 0.3081
"""Standard deviation of the MNIST training pixels, scaled to [0, 1]."""

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_RESTORE_HINT = "restore it with `git checkout -- data/mnist` (or copy it from the course repository's data/mnist/)"
_verified_files: set[Path] = set()


class DataFileError(RuntimeError):
    """A data file of the course is missing or does not match its published checksum."""


class DatasetUnavailableError(RuntimeError):
    """A dataset that must be downloaded cannot be, usually because there is no internet."""


def _expected_sha256(directory: Path) -> dict[str, str]:
    sums_file = directory / "SHA256SUMS"
    if not sums_file.exists():
        raise DataFileError(f"{sums_file} is missing; {_RESTORE_HINT}")
    pairs = (line.split() for line in sums_file.read_text().splitlines() if line.strip())
    return {name.lstrip("*"): digest for digest, name in pairs}


def _verify_once(path: Path) -> None:
    """Check a file's SHA-256 against ``SHA256SUMS`` the first time this process reads it."""
    if path in _verified_files:
        return
    if not path.exists():
        raise DataFileError(f"MNIST file {path.name} is missing from {path.parent}; {_RESTORE_HINT}")
    expected = _expected_sha256(path.parent).get(path.name)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if expected is None or actual != expected:
        raise DataFileError(
            f"MNIST file {path.name} is corrupt (its SHA-256 does not match SHA256SUMS); {_RESTORE_HINT}"
        )
    _verified_files.add(path)


def _read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file (the MNIST format: magic, dimensions, then raw uint8)."""
    data = gzip.decompress(path.read_bytes())
    zero, dtype_code, ndim = data[0] | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise DataFileError(f"{path.name} is not an unsigned-byte IDX file; {_RESTORE_HINT}")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist(split: str = "train", directory: Path | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load the real MNIST split ``"train"`` (60,000 digits) or ``"test"`` (10,000 digits).

    Returns ``(images, labels)``: a ``torch.uint8`` tensor of shape ``(N, 28, 28)`` and a
    ``torch.int64`` tensor of shape ``(N,)``.

    >>> images, labels = load_mnist("test")
    >>> images.shape, labels[:3]
    (torch.Size([10000, 28, 28]), tensor([7, 2, 1]))
    """
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {sorted(MNIST_FILES)}, got {split!r}")
    folder = Path(directory) if directory is not None else MNIST_DIR
    image_path, label_path = (folder / name for name in MNIST_FILES[split])
    _verify_once(image_path)
    _verify_once(label_path)
    images = torch.from_numpy(_read_idx(image_path).copy())
    labels = torch.from_numpy(_read_idx(label_path).astype(np.int64))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFileError(f"MNIST {split} files disagree in shape; {_RESTORE_HINT}")
    return images, labels


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """Turn ``uint8`` images ``(N, H, W)`` into ``float32`` ``(N, 1, H, W)`` scaled to [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} of shape {tuple(images.shape)}")
    return images.unsqueeze(1).float().div_(255.0)


def mnist_torchvision_root(root: Path | str | None = None) -> Path:
    """Lay the shipped MNIST out where ``torchvision.datasets.MNIST(root, download=False)`` finds it.

    torchvision looks for the four uncompressed IDX files in ``<root>/MNIST/raw/``. They are written
    once (about 55 MB, git-ignored under ``data/torchvision``) and the root is returned.

    >>> from torchvision.datasets import MNIST
    >>> test_set = MNIST(mnist_torchvision_root(), train=False, download=False)
    """
    root = Path(root) if root is not None else DATA_DIR / "torchvision"
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for names in MNIST_FILES.values():
        for name in names:
            source = MNIST_DIR / name
            target = raw / name.removesuffix(".gz")
            if not target.exists():
                _verify_once(source)
                with gzip.open(source, "rb") as compressed, open(target, "wb") as plain:
                    shutil.copyfileobj(compressed, plain)
    return root


def internet_available(host: str = "github.com", port: int = 443, timeout: float = 3.0) -> bool:
    """Return True if a TCP connection to ``host`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


ONLINE_DATASETS = {
    "fashion_mnist": "FashionMNIST",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
}


def load_online_dataset(
    name: str,
    train: bool = True,
    transform: Callable[[Any], Any] | None = None,
    root: Path | str | None = None,
) -> torch.utils.data.Dataset:
    """Load Fashion-MNIST, CIFAR-10 or CIFAR-100 through torchvision, downloading it when needed.

    A copy already under ``root`` (default ``data/torchvision``) is used offline. Otherwise, with no
    internet, :class:`DatasetUnavailableError` says so in one sentence.

    >>> try:
    ...     cifar = load_online_dataset("cifar10", train=False)
    ... except DatasetUnavailableError as error:
    ...     print(error)   # offline: carry on with MNIST
    """
    import torchvision.datasets

    if name not in ONLINE_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {sorted(ONLINE_DATASETS)}")
    dataset_class = getattr(torchvision.datasets, ONLINE_DATASETS[name])
    root = Path(root) if root is not None else DATA_DIR / "torchvision"
    try:
        return dataset_class(root, train=train, transform=transform, download=False)
    except RuntimeError:
        pass  # not downloaded yet
    # a path inside the course is shown relative to it: no absolute path of anyone's machine in outputs
    shown_root = root.resolve().relative_to(REPO_ROOT) if root.resolve().is_relative_to(REPO_ROOT) else root.name
    unavailable = DatasetUnavailableError(
        f"{name} is not in {shown_root} and needs an internet connection to download; "
        "offline, use the real MNIST that ships with the course (utils.load_mnist)."
    )
    if not internet_available():
        raise unavailable
    try:
        return dataset_class(root, train=train, transform=transform, download=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise unavailable from error


SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "horse", "page")
"""scikit-image photos that ship inside its wheel, so they load offline."""


def skimage_photo(name: str) -> np.ndarray:
    """Return one of scikit-image's bundled photos as a NumPy array (``uint8`` or ``bool``).

    >>> skimage_photo("astronaut").shape
    (512, 512, 3)
    """
    if name not in SKIMAGE_PHOTOS:
        raise ValueError(f"unknown photo {name!r}; bundled photos are {', '.join(SKIMAGE_PHOTOS)}")
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


IF_EXISTS_MODES = ("error", "add")


def _check_class_name(name: Any) -> None:
    """Refuse a class name that is not one plain folder name (no separator, no ``..``, no drive)."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not isinstance(name, str):
        raise TypeError(f"class names must be strings, got {type(name).__name__} {name!r}")
    plain = (
        name not in ("", ".", "..")
        and "\0" not in name
        and PurePosixPath(name).parts == (name,)
        and PureWindowsPath(name).parts == (name,)  # no backslash, no "C:" drive (students on Windows)
        and not PureWindowsPath(name).drive
    )
    if not plain:
        raise ValueError(
            f"class name {name!r} is not a single plain folder name such as 'cat' (no '/', '\\', '..', NUL or drive)"
        )


def _prepare_root(root: Path, if_exists: str) -> None:
    """Check that ``root`` is new or empty, or (``if_exists="add"``) say that the call adds to it."""
    if if_exists not in IF_EXISTS_MODES:
        raise ValueError(f"if_exists must be one of {IF_EXISTS_MODES}, got {if_exists!r}")
    if root.exists() and not root.is_dir():
        raise FileExistsError(f"{root} exists and is not a folder; pass a folder path for the image folder")
    entries = sorted(p.name for p in root.iterdir()) if root.exists() else []
    if not entries:
        return
    examples = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    shown = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} ({examples})"
    if if_exists == "error":
        raise FileExistsError(
            f"{root} is not empty: it holds {shown}. write_image_folder starts from "
            "an empty folder so that files of an earlier call do not mix in: choose a new folder, empty this "
            "one yourself, or pass if_exists='add' to add to it"
        )
    print(f"write_image_folder: adding to {root.name}/, which already holds {shown}")


def write_image_folder(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | list[int],
    root: Path | str,
    class_names: list[str] | None = None,
    if_exists: str = "error",
) -> Path:
    """Write images as PNG files in the ``ImageFolder`` layout ``root/<class name>/<index>.png``.

    ``images`` are ``uint8`` arrays ``(N, H, W)`` (grayscale) or ``(N, H, W, 3)`` (RGB); file names
    are the images' positions, zero-padded. ``class_names[label]`` names each class folder; by
    default ``"0"``, ``"1"``, ... zero-padded to the same width, so that
    ``torchvision.datasets.ImageFolder`` (which sorts folder names) gives each class its own label
    back, provided every class has at least one image (ImageFolder numbers the folders it finds).
    PNG is lossless: reading a file back gives exactly the pixels written. Returns ``root``.

    ``root`` must be new or empty, so files of an earlier call never mix in silently
    (``FileExistsError`` otherwise). ``if_exists="add"`` adds to a folder that holds files and says
    so; it never replaces a file already there. A class name must be one plain folder name:
    ``"../x"`` or ``"a/b"`` raise ``ValueError``, so nothing is written outside ``root``.

    >>> images, labels = load_mnist("test")
    >>> root = write_image_folder(images[:100], labels[:100], "/tmp/digits")   # /tmp/digits/7/00000.png, ...
    """
    from PIL import Image

    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.dtype != np.uint8 or not (array.ndim == 3 or (array.ndim == 4 and array.shape[-1] == 3)):
        raise ValueError(f"images must be uint8 of shape (N, H, W) or (N, H, W, 3), got {array.dtype} {array.shape}")
    label_array = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if label_array.ndim != 1 or len(label_array) != len(array) or not np.issubdtype(label_array.dtype, np.integer):
        raise ValueError(
            f"labels must be {len(array)} integers, one per image, got {label_array.dtype} {label_array.shape}"
        )
    if len(label_array) and label_array.min() < 0:
        raise ValueError(f"labels must be >= 0, got {label_array.min()}")
    num_classes = int(label_array.max()) + 1 if len(label_array) else 0
    if class_names is None:
        digits = len(str(max(num_classes - 1, 0)))
        class_names = [str(i).zfill(digits) for i in range(num_classes)]
    elif len(class_names) < num_classes or len(set(class_names)) != len(class_names):
        raise ValueError(
            f"need {num_classes} distinct class names for labels up to {num_classes - 1}, got {class_names!r}"
        )
    for name in class_names:
        _check_class_name(name)
    root = Path(root)
    _prepare_root(root, if_exists)
    width = len(str(max(len(array) - 1, 0)))
    inside = root.resolve()
    for name in {class_names[int(label)] for label in label_array}:
        folder = (root / name).resolve()
        if folder == inside or not folder.is_relative_to(inside):  # e.g. a class folder that links elsewhere
            raise ValueError(f"class folder {name!r} leads outside {root}")
    targets = [root / class_names[int(label)] / f"{str(i).zfill(width)}.png" for i, label in enumerate(label_array)]
    for target in targets:
        if target.exists():
            raise FileExistsError(
                f"{target} already exists; write_image_folder does not replace files, choose another folder"
            )
    for image, target in zip(array, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(target)
    return root
