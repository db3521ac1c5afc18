"""A folder of images to a trained, exported model: the helpers of the final-project starter (week 10).

The input is the ``ImageFolder`` layout, one sub-folder per class::

    my_images/
        cat/   0001.jpg  0002.png ...
        dog/   ...

:func:`scan_image_folder` opens every file once and reports what it found (unreadable files,
exact duplicates, files that are not images) instead of crashing on them; :func:`folder_summary`
turns that into one row per class. :func:`stratified_split` makes a reproducible train/val/test
split that :func:`save_split` / :func:`load_split` keep in a CSV. :func:`load_images` reads the
images at one size, :func:`export_model` / :func:`load_exported` write a model that runs without
the notebook, and :func:`predict_image` is the one call a demo needs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from utils.env import model_device

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
"""File name endings treated as images (compared in lower case)."""

SPLITS = ("train", "val", "test")
STATUSES = ("ok", "unreadable", "duplicate", "not an image", "not in a class folder")
"""What :func:`scan_image_folder` can say about a file; only ``"ok"`` files are used."""

_SCAN_COLUMNS = ["path", "label", "status", "width", "height", "mode", "format", "detail"]


def _as_folder(root: Path | str, what: str = "root") -> Path:
    if not isinstance(root, (str, Path)):
        raise TypeError(f"{what} must be a folder path (str or pathlib.Path), got {type(root).__name__}")
    folder = Path(root)
    if not folder.exists():
        raise ValueError(f"{what} {folder} does not exist")
    if not folder.is_dir():
        raise ValueError(f"{what} must be a folder, got a file: {folder}")
    return folder


def _ends_completely(data: bytes, image_format: str | None) -> bool:
    """Whether a JPEG or PNG file ends with its end marker: a truncated download does not."""
    if image_format == "JPEG":
        return data.rstrip(b"\x00\r\n ")[-2:] == b"\xff\xd9"
    if image_format == "PNG":
        return b"IEND" in data[-32:]
    return True


def _open_image(path: Path, decode: bool = False) -> tuple[dict, str | None]:
    """Read ``path``'s header (or, with ``decode``, every pixel); return its properties and a file hash.

    The header gives size, mode and format without decoding; a JPEG or PNG that lacks its end
    marker (a truncated file) is unreadable too. Other formats are checked with PIL's ``verify``.
    Returns the properties and the SHA-256 of the file's bytes, or the error message and None.
    """
    from io import BytesIO

    from PIL import Image

    try:
        data = path.read_bytes()
        with Image.open(BytesIO(data)) as image:
            info = {"width": image.width, "height": image.height, "mode": image.mode, "format": image.format}
            if decode:
                image.load()  # decodes every pixel: a corrupt file fails here, not later in training
            elif image.format not in ("JPEG", "PNG"):
                image.verify()
            elif not _ends_completely(data, image.format):
                raise OSError(f"image file is truncated (no {image.format} end marker)")
        return info, hashlib.sha256(data).hexdigest()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        message = str(error).replace(str(path), path.name)  # PIL names the full path; keep reports short
        return {"detail": f"{type(error).__name__}: {message}"}, None


def scan_image_folder(
    root: Path | str, extensions: Sequence[str] = tuple(IMAGE_EXTENSIONS), decode: bool = False
) -> pd.DataFrame:
    """Check every file of an ``ImageFolder``-style folder and return one row per file.

    Columns: ``path`` (relative to ``root``, with ``/``), ``label`` (the class folder), ``status``
    (one of :data:`STATUSES`), ``width``, ``height``, ``mode`` (PIL's ``"L"``, ``"RGB"``, ...),
    ``format`` and ``detail`` (why a file is skipped). Only each image's header is read, plus a
    check that a JPEG or PNG is complete, so a scan of thousands of photos takes seconds and little
    memory; ``decode=True`` decodes every pixel too (slower, and catches corruption inside a file).
    A file that fails is ``"unreadable"``; a file whose bytes equal an earlier file's (in path
    order, by SHA-256) is a ``"duplicate"``. Hidden folders (``.ipynb_checkpoints``) are ignored.
    The work grows linearly with the number of files.

    Raises ``ValueError`` when the folder is missing or empty, has no class sub-folder, a class
    folder holds no readable image, or fewer than two classes remain.

    >>> files = scan_image_folder("my_images")
    >>> files["status"].value_counts()
    """
    folder = _as_folder(root)
    allowed = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    class_folders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_folders:
        raise ValueError(f"expected one sub-folder per class in {folder} (the ImageFolder layout), found no sub-folder")
    rows: list[dict] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        rows.append(
            {
                "path": path.name,
                "label": None,
                "status": "not in a class folder",
                "detail": "files directly in the root folder have no class",
            }
        )
    first_with_pixels: dict[str, str] = {}
    for class_folder in class_folders:
        files = sorted(
            p
            for p in class_folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(class_folder).parts[:-1])
        )
        for path in files:
            row = {"path": path.relative_to(folder).as_posix(), "label": class_folder.name, "detail": ""}
            if path.suffix.lower() not in allowed:
                row.update(status="not an image", detail=f"extension {path.suffix or '(none)'!r} is not an image type")
            else:
                info, pixels = _open_image(path, decode)
                row.update(info)
                if pixels is None:
                    row["status"] = "unreadable"
                elif pixels in first_with_pixels:
                    original = first_with_pixels[pixels]
                    original_label = original.split("/", 1)[0]
                    clash = "" if original_label == class_folder.name else f" (labelled {original_label!r} there)"
                    row.update(status="duplicate", detail=f"same file as {original}{clash}")
                else:
                    first_with_pixels[pixels] = row["path"]
                    row["status"] = "ok"
            rows.append(row)
    files = pd.DataFrame(rows, columns=_SCAN_COLUMNS)
    files[["width", "height"]] = files[["width", "height"]].astype("Int64")

    usable = files[files["status"] == "ok"]
    if usable.empty:
        found = ", ".join(f"{n} {status}" for status, n in files["status"].value_counts().items()) or "no file"
        raise ValueError(f"no readable image in the class folders of {folder} (found: {found})")
    empty = [c.name for c in class_folders if c.name not in set(usable["label"])]
    if empty:
        raise ValueError(
            f"class folder(s) {', '.join(repr(e) for e in empty)} hold no readable image: "
            "add images or remove the folder"
        )
    if usable["label"].nunique() < 2:
        raise ValueError(
            f"classification needs at least two classes, found only {usable['label'].iloc[0]!r} in {folder}"
        )
    return files


def _check_files_table(files: pd.DataFrame, needed: Sequence[str]) -> None:
    if not isinstance(files, pd.DataFrame):
        raise TypeError(f"expected the DataFrame of scan_image_folder, got {type(files).__name__}")
    missing = [c for c in needed if c not in files.columns]
    if missing:
        raise ValueError(f"the table lacks column(s) {missing}; expected the DataFrame of scan_image_folder")


def _size_text(images: pd.DataFrame, index: Any) -> str:
    """``width x height`` of row ``index`` of a scan table, e.g. ``64x48``."""
    return f"{images.loc[index, 'width']}x{images.loc[index, 'height']}"


def folder_summary(files: pd.DataFrame) -> pd.DataFrame:
    """One row per class: usable images and their share, skipped files by reason, sizes and modes.

    ``files`` is the table of :func:`scan_image_folder`. Sizes are ``width x height`` in pixels
    (smallest, median and largest by area); modes count the usable images per PIL mode.
    """
    _check_files_table(files, _SCAN_COLUMNS)
    in_class = files[files["label"].notna()]
    rows = []
    for label, group in in_class.groupby("label", sort=True):
        ok = group[group["status"] == "ok"]
        area_order = (ok["width"] * ok["height"]).astype(float).sort_values(kind="stable").index
        rows.append(
            {
                "class": label,
                "images": len(ok),
                "unreadable": int((group["status"] == "unreadable").sum()),
                "duplicate": int((group["status"] == "duplicate").sum()),
                "not an image": int((group["status"] == "not an image").sum()),
                "smallest": _size_text(ok, area_order[0]) if len(ok) else "",
                "median": _size_text(ok, area_order[len(area_order) // 2]) if len(ok) else "",
                "largest": _size_text(ok, area_order[-1]) if len(ok) else "",
                "modes": ", ".join(f"{m}: {n}" for m, n in ok["mode"].value_counts().sort_index().items()),
            }
        )
    summary = pd.DataFrame(rows).set_index("class")
    summary.insert(1, "share", (summary["images"] / summary["images"].sum()).round(3))
    return summary


def imbalance_ratio(files: pd.DataFrame) -> float:
    """Usable images in the largest class divided by those in the smallest (1.0 = balanced)."""
    _check_files_table(files, ["label", "status"])
    counts = files.loc[files["status"] == "ok", "label"].value_counts()
    if len(counts) < 2:
        raise ValueError(f"an imbalance ratio needs at least two classes with images, got {len(counts)}")
    return float(counts.max() / counts.min())


def _split_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of ``n * fractions``, with at least one item per split."""
    exact = np.asarray(fractions, dtype=float) * n
    sizes = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - sizes), kind="stable")[: n - sizes.sum()]:
        sizes[i] += 1
    for i in range(len(sizes)):
        while sizes[i] == 0:
            sizes[int(np.argmax(sizes))] -= 1
            sizes[i] += 1
    return sizes.tolist()


def stratified_split(files: pd.DataFrame, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0) -> pd.DataFrame:
    """Split the usable images into train/val/test with the same class proportions in each.

    ``files`` has columns ``path`` and ``label`` (and ``status``: only ``"ok"`` rows are used), as
    :func:`scan_image_folder` returns. Within each class the images are shuffled with ``seed``
    (after sorting by path, so the split does not depend on the order of the table) and cut by
    ``fractions`` (train, val, test), rounded so that every split receives at least one image of
    every class. Returns columns ``path``, ``label``, ``split``.

    >>> split = stratified_split(files, (0.7, 0.15, 0.15), seed=0)
    >>> pd.crosstab(split["label"], split["split"])
    """
    _check_files_table(files, ["path", "label"])
    if len(fractions) != 3 or any(not isinstance(f, (int, float)) or f <= 0 for f in fractions):
        raise ValueError(f"fractions must be three positive numbers (train, val, test), got {tuple(fractions)!r}")
    if not np.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must add up to 1, got {tuple(fractions)} (sum {sum(fractions):g})")
    usable = files[files["status"] == "ok"] if "status" in files.columns else files
    if usable["path"].duplicated().any():
        raise ValueError("the same path appears twice in the table")
    if usable["label"].nunique() < 2:
        raise ValueError(f"a split for classification needs at least two classes, got {usable['label'].nunique()}")
    rng = np.random.default_rng(seed)
    parts = []
    for label, group in sorted(usable.groupby("label"), key=lambda item: str(item[0])):
        if len(group) < len(SPLITS):
            raise ValueError(
                f"class {label!r} has {len(group)} image(s); a stratified train/val/test split needs at least 3"
            )
        paths = group["path"].sort_values().to_numpy()[rng.permutation(len(group))]
        sizes = _split_sizes(len(paths), fractions)
        names = np.repeat(SPLITS, sizes)
        parts.append(pd.DataFrame({"path": paths, "label": label, "split": names}))
    split = pd.concat(parts, ignore_index=True)
    order = split["split"].map({name: i for i, name in enumerate(SPLITS)})
    return (
        split.assign(_order=order)
        .sort_values(["_order", "label", "path"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def save_split(
    split: pd.DataFrame, path: Path | str, seed: int | None = None, fractions: Sequence[float] | None = None
) -> Path:
    """Write a split (columns ``path``, ``label``, ``split``) to a CSV file and return its path.

    With ``seed`` and ``fractions`` (those given to :func:`stratified_split`), they are kept beside
    it in ``<name>.json``, so :func:`split_is_current` can tell when a changed setting makes the saved
    split stale.
    """
    _check_files_table(split, ["path", "label", "split"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    split[["path", "label", "split"]].to_csv(path, index=False)
    if seed is not None or fractions is not None:
        settings = {"seed": seed, "fractions": None if fractions is None else [float(f) for f in fractions]}
        path.with_suffix(".json").write_text(json.dumps(settings) + "\n")
    return path


def split_is_current(path: Path | str, files: pd.DataFrame, seed: int, fractions: Sequence[float]) -> tuple[bool, str]:
    """Whether the split saved at ``path`` was made from these usable ``files`` with this ``seed``
    and these ``fractions``; returns ``(answer, reason)``, the reason in one sentence.

    A split is stale when the folder's images changed, or when the seed or the fractions differ from
    those :func:`save_split` recorded (a split saved without them counts as stale).
    """
    _check_files_table(files, ["path", "status"])
    path = Path(path)
    if not path.exists():
        return False, f"there is no saved split ({path.name} does not exist yet)"
    saved = load_split(path)
    usable = set(files.loc[files["status"] == "ok", "path"])
    if set(saved["path"]) != usable:
        changed = len(set(saved["path"]) ^ usable)
        return False, f"{changed} image(s) differ between the folder and the saved split"
    settings_path = path.with_suffix(".json")
    if not settings_path.exists():
        return False, f"the split was saved without its seed and fractions ({settings_path.name} is missing)"
    settings = json.loads(settings_path.read_text())
    if settings.get("seed") != seed:
        return False, f"the split was made with seed {settings.get('seed')}, not {seed}"
    if settings.get("fractions") is None or not np.allclose(settings["fractions"], list(fractions)):
        return False, f"the split was made with fractions {settings.get('fractions')}, not {list(fractions)}"
    return True, "the saved split matches the folder, the seed and the fractions"


def load_split(path: Path | str, root: Path | str | None = None) -> pd.DataFrame:
    """Read a split CSV written by :func:`save_split`, checking its columns and split names.

    With ``root``, also check that every listed image is still there (a ``ValueError`` names the
    first missing ones), so a stale split is caught before training.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no split file at {path}")
    split = pd.read_csv(path, dtype=str, keep_default_na=False)
    _check_files_table(split, ["path", "label", "split"])
    unknown = sorted(set(split["split"]) - set(SPLITS))
    if unknown:
        raise ValueError(f"split names must be {list(SPLITS)}, found {unknown} in {path.name}")
    if split["path"].duplicated().any():
        raise ValueError(
            f"{path.name} lists the same image twice: {split.loc[split['path'].duplicated(), 'path'].iloc[0]}"
        )
    if root is not None:
        folder = _as_folder(root)
        missing = [p for p in split["path"] if not (folder / p).is_file()]
        if missing:
            raise ValueError(f"{len(missing)} image(s) of {path.name} are missing from the folder, e.g. {missing[:3]}")
    return split


def _to_8bit_rgb(image: Any) -> Any:
    """A PIL image of any mode as 8-bit RGB; 16-bit values are scaled (65535 is white), not clipped."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        if array.max() > 255:
            array = array / 257.0
        image = Image.fromarray(array.clip(0, 255).round().astype(np.uint8))
    return image.convert("RGB")


def open_rgb(path: Path | str, min_side: int | None = None) -> torch.Tensor:
    """One image file as a ``uint8`` RGB tensor ``(3, H, W)``, EXIF-rotated, at its own aspect ratio.

    Grayscale, palette, RGBA and CMYK images become RGB; 16-bit images are scaled to 8 bits (not
    clipped to white). With ``min_side``, a large JPEG is decoded at a reduced scale (PIL's
    ``draft``) and the image is shrunk so that its shorter side is ``min_side`` pixels: decoding a
    4000-pixel photo for a 224-pixel network costs a fraction of the time and memory.
    """
    from PIL import Image, ImageOps

    if min_side is not None and (not isinstance(min_side, int) or isinstance(min_side, bool) or min_side < 1):
        raise ValueError(f"min_side must be a positive int (pixels) or None, got {min_side!r}")
    with Image.open(path) as image:
        if min_side is not None and image.format == "JPEG":
            scale = min_side / min(image.size)
            image.draft("RGB", (max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        image = _to_8bit_rgb(ImageOps.exif_transpose(image))
        if min_side is not None and min(image.size) > min_side:
            scale = min_side / min(image.size)
            new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(new_size, Image.Resampling.BILINEAR, reducing_gap=3.0)
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


def read_image(path: Path | str, size: int) -> torch.Tensor:
    """One image as a ``uint8`` tensor ``(3, size, size)``: EXIF-rotated, RGB, resized (bilinear).

    Grayscale, palette, RGBA, CMYK and 16-bit images become 8-bit RGB, so a folder of mixed modes
    gives one shape. :func:`predict_image` reads images this way, and so does the dependency-free
    ``demo.py`` of week 10 (with PIL alone). :func:`eval_transform` on :class:`ImageFileDataset`
    gives nearly the same pixels (it decodes large JPEGs at a reduced scale first).
    """
    from PIL import Image, ImageOps

    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int (pixels), got {size!r}")
    with Image.open(path) as image:
        image = _to_8bit_rgb(ImageOps.exif_transpose(image)).resize((size, size), Image.Resampling.BILINEAR)
        return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


def load_images(root: Path | str, paths: Sequence[str], size: int) -> torch.Tensor:
    """Read ``paths`` (relative to ``root``) with :func:`read_image` into one tensor ``(N, 3, size, size)``.

    The tensor is ``uint8``, as :func:`read_image` returns each image.
    """
    folder = _as_folder(root)
    if len(paths) == 0:
        raise ValueError("no paths to load")
    return torch.stack([read_image(folder / p, size) for p in paths])


class Normalize(nn.Module):
    """Subtract a per-channel mean and divide by a standard deviation, inside the model.

    Putting the normalisation in the model (instead of the data pipeline) means an exported model
    takes plain ``[0, 1]`` images: a demo cannot forget it or use the wrong statistics.
    """

    mean: torch.Tensor  # buffers (1, C, 1, 1)
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean_t, std_t = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
        if mean_t.ndim != 1 or mean_t.shape != std_t.shape or (std_t <= 0).any():
            raise ValueError(
                f"expected equal-length mean and positive std per channel, got {list(mean)} and {list(std)}"
            )
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1))
        self.register_buffer("std", std_t.view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


EXPORT_SUFFIXES = {"torch.export": ".pt2", "torchscript": ".torchscript.pt"}


def export_model(model: nn.Module, example_inputs: torch.Tensor, path: Path | str, method: str = "auto") -> Path:
    """Save ``model`` (in eval mode, on the CPU) so that it runs without its Python class.

    ``method="torch.export"`` writes ``<path>.pt2`` with ``torch.export`` (batch size free),
    ``"torchscript"`` writes ``<path>.torchscript.pt`` with ``torch.jit.trace``; ``"auto"`` tries
    the first and falls back to the second. ``path`` is the file name without its ending. Returns
    the file written; :func:`load_exported` reads it back. ``model`` itself is not changed.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if not isinstance(example_inputs, torch.Tensor) or example_inputs.ndim == 0:
        raise TypeError("example_inputs must be a batch tensor, e.g. torch.zeros(2, 3, 64, 64)")
    if method not in ("auto", *EXPORT_SUFFIXES):
        raise ValueError(f"method must be 'auto', 'torch.export' or 'torchscript', got {method!r}")
    # channels-last weights (week 3's TunableCNN) make torch.export.save warn;
    # the standard layout gives the same results
    frozen = copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)
    example = example_inputs.detach().cpu()
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    if method in ("auto", "torch.export"):
        try:
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            exported = torch.export.export(frozen, (example,), dynamic_shapes=({0: batch},))
            target = base.with_name(base.name + EXPORT_SUFFIXES["torch.export"])
            torch.export.save(exported, target)
            return target
        except Exception:  # torch.export refuses some Python code; TorchScript tracing may still work
            if method == "torch.export":
                raise
    target = base.with_name(base.name + EXPORT_SUFFIXES["torchscript"])
    with torch.no_grad(), warnings.catch_warnings():
        # recent torch releases mark TorchScript deprecated in favour of torch.export; here it is only the fallback
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
        traced = torch.jit.trace(frozen, example)
    traced.save(str(target))
    return target


def load_exported(path: Path | str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Load a model written by :func:`export_model`; call it on a batch of ``[0, 1]`` images."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {path}")
    if path.name.endswith(EXPORT_SUFFIXES["torch.export"]):
        return torch.export.load(path).module()
    if path.name.endswith(EXPORT_SUFFIXES["torchscript"]):
        with warnings.catch_warnings():  # deprecated in favour of torch.export, still the way to read TorchScript
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=FutureWarning)
            return torch.jit.load(str(path), map_location="cpu").eval()
    raise ValueError(
        f"unknown export format {path.name!r}: expected a name ending in {sorted(EXPORT_SUFFIXES.values())}"
    )


@torch.inference_mode()
def predict_image(
    model: Callable[[torch.Tensor], torch.Tensor], image_path: Path | str, class_names: Sequence[str], size: int
) -> pd.Series:
    """Class probabilities for one image file, highest first (a ``Series`` indexed by class name).

    ``model`` takes a batch of ``[0, 1]`` RGB images ``(N, 3, size, size)`` and returns logits
    (a model with :class:`Normalize` inside, or what :func:`load_exported` returns). A model in
    training mode is an error: call ``model.eval()`` first (dropout and batch norm change).
    """
    if isinstance(model, nn.Module) and not isinstance(model, torch.fx.GraphModule) and model.training:
        raise ValueError("the model is in training mode; call model.eval() before predicting")
    path = Path(image_path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    device = model_device(model) if isinstance(model, nn.Module) else torch.device("cpu")
    image = read_image(path, size).float().div(255).unsqueeze(0).to(device)
    logits = model(image)
    if logits.ndim != 2 or logits.shape != (1, len(class_names)):
        raise ValueError(f"expected logits of shape (1, {len(class_names)}), got {tuple(logits.shape)}")
    probabilities = torch.softmax(logits[0].float(), dim=0).cpu().numpy()
    return pd.Series(probabilities, index=list(class_names), name="probability").sort_values(ascending=False)


# --------------------------------------------------------------------------------------------------
# Data straight from disk: a Dataset over a split, in memory that does not grow with the folder
# --------------------------------------------------------------------------------------------------


def train_transform(size: int, flip: bool = True, scale: tuple[float, float] = (0.35, 1.0)) -> Callable:
    """Augmentation for photos: a random crop of 35-100% of the area resized to ``size``, a
    horizontal flip (unless ``flip=False``: digits, text and other data a mirror changes), mild colour
    jitter, then ``float`` in ``[0, 1]``."""
    from torchvision.transforms import v2

    steps = [v2.RandomResizedCrop(size, scale=scale, antialias=True)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    steps += [v2.ColorJitter(0.2, 0.2, 0.2), v2.ToDtype(torch.float32, scale=True)]
    return v2.Compose(steps)


def eval_transform(size: int) -> Callable:
    """What validation, test and prediction images get: the whole image squashed to ``size`` x
    ``size`` (as :func:`read_image` does), as ``float`` in ``[0, 1]``; no randomness."""
    from torchvision.transforms import v2

    return v2.Compose([v2.Resize((size, size), antialias=True), v2.ToDtype(torch.float32, scale=True)])


class ImageFileDataset(torch.utils.data.Dataset):
    """Images listed in a table (``path`` relative to ``root``, and ``label`` unless unlabelled),
    decoded from disk when they are needed, never all held in memory.

    Each item is ``(image, class id)``, the image after ``transform`` (e.g. :func:`train_transform`);
    unlabelled tables (prediction) give ``(image, -1)``. Images are decoded at a reduced scale with
    :func:`open_rgb` (shorter side ``decode_side``), so a folder of large photos stays cheap. A file
    that cannot be read raises an ``OSError`` that names it.

    >>> split = load_split("outputs/split.csv")
    >>> train_set = ImageFileDataset("my_images", split[split["split"] == "train"], class_names,
    ...                              train_transform(224), decode_side=256)
    """

    def __init__(
        self,
        root: Path | str,
        table: pd.DataFrame,
        class_names: Sequence[str] | None = None,
        transform: Callable | None = None,
        decode_side: int | None = 256,
    ) -> None:
        self.root = _as_folder(root)
        _check_files_table(table, ["path"])
        if len(table) == 0:
            raise ValueError("the table lists no image")
        self.paths = table["path"].astype(str).tolist()
        if class_names is not None:
            _check_files_table(table, ["label"])
            unknown = sorted(set(table["label"]) - set(class_names))
            if unknown:
                raise ValueError(f"label(s) {unknown} are not among the class names {list(class_names)}")
            index = {name: i for i, name in enumerate(class_names)}
            self.targets = [index[label] for label in table["label"]]
        else:
            self.targets = [-1] * len(self.paths)
        for relative in self.paths[:1] + self.paths[-1:]:
            resolved = (self.root / relative).resolve()
            if not resolved.is_relative_to(self.root.resolve()):
                raise ValueError(f"path {relative!r} leads outside {self.root}")
        self.transform = transform
        self.decode_side = decode_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path = self.root / self.paths[index]
        try:
            image = open_rgb(path, min_side=self.decode_side)
        except (OSError, ValueError, SyntaxError) as error:
            raise OSError(f"cannot read image {self.paths[index]!r}: {error}") from error
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]


def image_loader(
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    shuffle: bool = False,
    num_workers: int = 0,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` for :class:`ImageFileDataset`: ``num_workers`` processes decode and augment
    while the model trains, memory is pinned for fast copies to a CUDA ``device``, and the order and
    the augmentations are reproducible from ``seed`` (with any number of workers)."""
    from utils.env import seed_worker

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    on_gpu = device is not None and torch.device(device).type == "cuda"
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        pin_memory=on_gpu,
        persistent_workers=num_workers > 0,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(seed),
    )


def list_images(folder: Path | str, extensions: Sequence[str] = tuple(IMAGE_EXTENSIONS)) -> pd.DataFrame:
    """The image files under ``folder`` (any depth, hidden folders skipped), as a table with a
    ``path`` column relative to ``folder``: the input of :func:`predict_folder`."""
    root = _as_folder(folder, "folder")
    allowed = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    paths = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in allowed
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not paths:
        raise ValueError(f"no image files ({', '.join(sorted(allowed))}) in {root}")
    return pd.DataFrame({"path": paths})


def predict_folder(
    model: nn.Module,
    folder: Path | str,
    class_names: Sequence[str],
    size: int,
    batch_size: int = 64,
    num_workers: int = 0,
) -> pd.DataFrame:
    """Predict every image under ``folder``: one row per file with ``path``, ``predicted`` (a class
    name) and ``confidence`` (its softmax probability), as a Kaggle submission lists them. Write it
    with ``table.to_csv("predictions.csv", index=False)``. Images are read as :func:`eval_transform`
    prepares validation images, so predictions match the evaluation."""
    from utils.metrics import predict

    files = list_images(folder)
    dataset = ImageFileDataset(folder, files, transform=eval_transform(size), decode_side=size)
    loader = image_loader(dataset, batch_size, num_workers=num_workers, device=model_device(model))
    probabilities = predict(model, loader, postprocess=lambda logits: logits.float().softmax(dim=1))
    if probabilities.shape[1] != len(class_names):
        raise ValueError(
            f"the model gives {probabilities.shape[1]} scores per image, but there are {len(class_names)} classes"
        )
    confidence, predicted = probabilities.max(dim=1)
    return files.assign(predicted=[class_names[i] for i in predicted.tolist()], confidence=confidence.numpy().round(4))


def inverse_frequency_weights(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Loss weights ``N / (C * n_c)`` for integer ``targets`` (N,), so that every class weighs the same in total.

    For ``nn.CrossEntropyLoss(weight=...)``: a class of average size gets 1, a rare class more. A class
    with no example would get an infinite weight, so it is refused with the class named.
    """
    if not isinstance(targets, torch.Tensor) or targets.ndim != 1 or targets.is_floating_point() or not len(targets):
        raise ValueError("targets must be a non-empty 1-D tensor of integer class ids")
    if int(targets.min()) < 0 or int(targets.max()) >= num_classes:
        raise ValueError(f"targets must lie in 0..{num_classes - 1}, got {int(targets.min())}..{int(targets.max())}")
    counts = torch.bincount(targets, minlength=num_classes)
    if bool((counts == 0).any()):
        raise ValueError(f"class {int((counts == 0).nonzero()[0])} has no example: its weight would be infinite")
    return len(targets) / (num_classes * counts.to(torch.float32))


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for an accuracy of ``correct`` out of ``total`` (Wilson, 1927).

    Unlike the normal approximation it stays inside [0, 1] and behaves at 0% and 100%, which small
    test sets of student projects often reach.

    >>> wilson_interval(58, 62)   # about (0.846, 0.975)
    """
    from statistics import NormalDist

    if not isinstance(total, int) or total < 1:
        raise ValueError(f"total must be a positive int, got {total!r}")
    if not isinstance(correct, int) or not 0 <= correct <= total:
        raise ValueError(f"correct must be an int between 0 and total={total}, got {correct!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = correct / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact at the ends, free of rounding
    high = 1.0 if correct == total else min(1.0, centre + half)
    return low, high


# --------------------------------------------------------------------------------------------------
# The sample project: a folder like a group's, where no two images share a source
# --------------------------------------------------------------------------------------------------

SAMPLE_CLASSES = ("digit", "face", "scene")
"""The sample's classes: handwritten digits (MNIST), faces and natural-scene patches (lfw_subset)."""


def _tinted(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grayscale image in ``[0, 1]`` as a colour photo: each gray level mapped between two random
    colours, then noise. Every class gets the same random tints, so colour tells nothing about it."""
    dark, light = rng.uniform(0, 0.45, size=3), rng.uniform(0.55, 1, size=3)
    if rng.random() < 0.5:
        dark, light = light, dark
    colour = dark + gray[..., None] * (light - dark)
    colour += rng.normal(0, 0.03, size=colour.shape)
    return (colour.clip(0, 1) * 255).round().astype(np.uint8)


def _save_sample_image(gray: np.ndarray, path: Path, rng: np.random.Generator) -> Path:
    """Tint ``gray``, resize it to a random size of 96-320 px (any aspect ratio near 1), save as JPEG or PNG."""
    from PIL import Image

    width, height = (int(side) for side in rng.integers(96, 321, size=2))
    image = Image.fromarray(_tinted(gray, rng)).resize((width, height), Image.Resampling.BICUBIC)
    path = path.with_suffix(".jpg" if rng.random() < 0.75 else ".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        image.save(path, quality=88)
    else:
        image.save(path)
    return path


def write_sample_project(root: Path | str, seed: int = 0, scale: float = 1.0) -> dict[str, Path]:
    """Write week 10's sample project: a labelled folder, an unlabelled folder and their answers.

    ``root/images/<class>/`` holds digits (real MNIST), faces and natural-scene patches (scikit-image's
    ``lfw_subset``), each image from its own source, so no two images, and so no two splits, share
    pixels. Every image is tinted with random colours and resized to a random size of 96-320 px, drawn
    the same way for every class, so the tint and the size say nothing about the class (the contrast
    of the content still can: digits are thin strokes on a flat background). Planted problems for the
    data checks: a truncated JPEG, an exact duplicate, a CMYK JPEG, a 16-bit PNG, a text file in a
    class folder and one beside them. ``root/unlabelled/`` holds images of held-out sources for prediction, and
    ``root/unlabelled_answers.csv`` their true classes (a group's real unlabelled images have none).
    ``scale`` shrinks the class sizes (for quick tests). ``root`` must not exist yet.
    """
    from PIL import Image
    from skimage.data import lfw_subset

    from utils.data import load_mnist

    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} exists already; write the sample project to a new folder")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    rng = np.random.default_rng(seed)
    lfw = lfw_subset()  # 100 faces, then 100 natural-scene patches, 25 x 25 in [0, 1]
    digits, _ = load_mnist("train")
    counts = {"digit": round(60 * scale), "face": round(90 * scale), "scene": round(90 * scale)}
    held_out = max(2, round(10 * scale))
    sources = {
        "digit": [
            digits[i].numpy() / 255.0 for i in rng.choice(len(digits), counts["digit"] + held_out, replace=False)
        ],
        "face": list(lfw[rng.permutation(100)[: counts["face"] + held_out]]),
        "scene": list(lfw[100 + rng.permutation(100)[: counts["scene"] + held_out]]),
    }
    images = root / "images"
    written: dict[str, list[Path]] = {}
    answers: list[dict[str, str]] = []
    for label in SAMPLE_CLASSES:
        labelled, unlabelled = sources[label][: counts[label]], sources[label][counts[label] :]
        written[label] = [
            _save_sample_image(gray, images / label / f"{label}_{i:03d}", rng) for i, gray in enumerate(labelled)
        ]
        for gray in unlabelled:
            path = _save_sample_image(gray, root / "unlabelled" / f"image_{len(answers):03d}", rng)
            answers.append({"path": path.name, "label": label})
    pd.DataFrame(answers).to_csv(root / "unlabelled_answers.csv", index=False)
    # the planted problems
    face = written["face"][0]
    shutil.copy(face, face.with_name(f"{face.stem}_copy{face.suffix}"))  # an exact duplicate
    good = next(p for p in written["scene"] if p.suffix == ".jpg").read_bytes()
    (images / "scene" / "scene_broken.jpg").write_bytes(good[: len(good) // 3])  # a truncated download
    with Image.open(written["digit"][1]) as image:
        image.convert("CMYK").save(images / "digit" / "digit_cmyk.jpg")  # a print-shop JPEG
    sixteen_bit = (np.asarray(Image.open(written["face"][2]).convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(sixteen_bit).save(images / "face" / "face_16bit.png")  # a scanner's 16-bit gray PNG
    (images / "README.txt").write_text("Sample project folder written by utils.project.write_sample_project.\n")
    (images / "digit" / "notes.txt").write_text("digits from MNIST, tinted and resized\n")
    return {"images": images, "unlabelled": root / "unlabelled", "answers": root / "unlabelled_answers.csv"}
