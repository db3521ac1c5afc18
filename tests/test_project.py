"""utils.project: image-folder checks, stratified split, export and reload, predict helper."""

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torch import nn

import utils

RNG = np.random.default_rng(0)


def write_png(path: Path, size=(12, 10), mode="L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = {"L": (), "RGB": (3,), "RGBA": (4,)}[mode]
    pixels = RNG.integers(0, 256, size=(size[1], size[0], *channels), dtype=np.uint8)
    Image.fromarray(pixels, mode=mode).save(path)
    return path


def write_jpeg(path: Path, size=(20, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(path, quality=90)
    return path


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    """Two classes with a duplicate, a truncated JPEG, a text file, a stray root file and a hidden folder."""
    root = tmp_path / "images"
    first = write_png(root / "apple" / "a1.png", (12, 10), "L")
    write_png(root / "apple" / "a2.png", (8, 8), "RGB")
    write_png(root / "apple" / "sub" / "a3.png", (30, 20), "RGBA")
    shutil.copy(first, root / "apple" / "a1_copy.png")
    for i in range(3):
        write_jpeg(root / "pear" / f"p{i}.jpg")
    good = write_jpeg(root / "pear" / "p_source.jpg").read_bytes()
    (root / "pear" / "broken.jpg").write_bytes(good[: len(good) // 2])
    (root / "pear" / "fake.png").write_text("not a picture")
    (root / "pear" / "notes.txt").write_text("collected in May")
    (root / "README.md").write_text("my data set")
    write_png(root / "pear" / ".ipynb_checkpoints" / "p0-checkpoint.png")
    return root


def test_scan_reports_every_problem_and_keeps_the_rest(messy_folder):
    files = utils.project.scan_image_folder(messy_folder)
    status = dict(zip(files["path"], files["status"]))
    assert status["apple/a1.png"] == "ok" and status["apple/sub/a3.png"] == "ok"
    assert status["apple/a1_copy.png"] == "duplicate"
    assert "apple/a1.png" in files.set_index("path").loc["apple/a1_copy.png", "detail"]
    assert status["pear/broken.jpg"] == "unreadable"
    assert status["pear/fake.png"] == "unreadable"
    assert status["pear/notes.txt"] == "not an image"
    assert status["README.md"] == "not in a class folder"
    assert not any("ipynb_checkpoints" in p for p in files["path"])
    assert files.loc[files["status"] == "ok", "label"].value_counts().to_dict() == {"apple": 3, "pear": 4}
    row = files.set_index("path").loc["apple/a1.png"]
    assert (row["width"], row["height"], row["mode"], row["format"]) == (12, 10, "L", "PNG")


def test_folder_summary_and_imbalance(messy_folder):
    files = utils.project.scan_image_folder(messy_folder)
    summary = utils.project.folder_summary(files)
    assert list(summary.index) == ["apple", "pear"]
    assert summary.loc["apple", "images"] == 3 and summary.loc["apple", "duplicate"] == 1
    assert summary.loc["pear", "unreadable"] == 2 and summary.loc["pear", "not an image"] == 1
    assert summary.loc["apple", "modes"] == "L: 1, RGB: 1, RGBA: 1"
    assert (summary.loc["apple", "smallest"], summary.loc["apple", "largest"]) == ("8x8", "30x20")
    assert summary["share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert utils.project.imbalance_ratio(files) == pytest.approx(4 / 3)


def test_duplicate_across_classes_names_the_other_label(tmp_path):
    first = write_png(tmp_path / "a" / "x.png")
    write_png(tmp_path / "a" / "y.png")
    write_png(tmp_path / "b" / "z.png")
    shutil.copy(first, tmp_path / "b" / "x_again.png")
    files = utils.project.scan_image_folder(tmp_path).set_index("path")
    assert files.loc["b/x_again.png", "status"] == "duplicate"
    assert "'a'" in files.loc["b/x_again.png", "detail"]


@pytest.mark.parametrize("build,message", [
    (lambda root: None, "no sub-folder"),  # empty folder
    (lambda root: (root / "a").mkdir(), "no readable image"),  # a class folder, no files
    (lambda root: write_png(root / "only" / "x.png") and write_png(root / "only" / "y.png"), "two classes"),
    (lambda root: [(root / c).mkdir() or (root / c / "n.txt").write_text("x") for c in "ab"], "no readable image"),
    (lambda root: write_png(root / "a" / "x.png") and (root / "b").mkdir(), "'b'"),  # an empty class folder
    (lambda root: write_png(root / "a" / "x.png") and (root / "b").mkdir() or (root / "b" / "bad.jpg").write_bytes(b"\xff\xd8"),
     "'b'"),  # a class with unreadable files only
])
def test_scan_bad_folders_raise_a_clear_error(tmp_path, build, message):
    root = tmp_path / "data"
    root.mkdir()
    build(root)
    with pytest.raises(ValueError, match=message):
        utils.project.scan_image_folder(root)


def test_scan_bad_root(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        utils.project.scan_image_folder(tmp_path / "nowhere")
    (tmp_path / "file.png").write_text("x")
    with pytest.raises(ValueError, match="folder"):
        utils.project.scan_image_folder(tmp_path / "file.png")
    with pytest.raises(TypeError):
        utils.project.scan_image_folder(42)


def balanced_table(counts: dict[str, int]) -> pd.DataFrame:
    rows = [{"path": f"{label}/{i:03d}.png", "label": label, "status": "ok"}
            for label, n in counts.items() for i in range(n)]
    rows.append({"path": "a/dup.png", "label": "a", "status": "duplicate"})
    return pd.DataFrame(rows)


def test_stratified_split_keeps_proportions_and_is_reproducible():
    table = balanced_table({"a": 50, "b": 20, "c": 7})
    split = utils.project.stratified_split(table, (0.6, 0.2, 0.2), seed=0)
    counts = pd.crosstab(split["label"], split["split"])
    assert counts.loc["a"].to_dict() == {"test": 10, "train": 30, "val": 10}
    assert counts.loc["b"].to_dict() == {"test": 4, "train": 12, "val": 4}
    assert counts.loc["c"].sum() == 7 and (counts.loc["c"] >= 1).all()
    assert "a/dup.png" not in set(split["path"]), "only usable ('ok') files are split"
    assert sorted(split["path"]) == sorted(table.loc[table["status"] == "ok", "path"])
    assert split.equals(utils.project.stratified_split(table.sample(frac=1, random_state=1), (0.6, 0.2, 0.2), seed=0))
    other = utils.project.stratified_split(table, (0.6, 0.2, 0.2), seed=1)
    assert set(other.loc[other["split"] == "test", "path"]) != set(split.loc[split["split"] == "test", "path"])


@pytest.mark.parametrize("n", [3, 4, 5, 7, 10, 11, 99])
def test_split_sizes_add_up_and_never_leave_a_split_empty(n):
    split = utils.project.stratified_split(balanced_table({"a": n, "b": n}), (0.8, 0.1, 0.1), seed=0)
    sizes = split.groupby("label")["split"].value_counts().unstack()
    assert (sizes.sum(axis=1) == n).all() and (sizes.min(axis=1) >= 1).all()


@pytest.mark.parametrize("table,fractions,message", [
    (balanced_table({"a": 10, "b": 2}), (0.6, 0.2, 0.2), "'b' has 2"),
    (balanced_table({"a": 10}), (0.6, 0.2, 0.2), "two classes"),
    (balanced_table({"a": 10, "b": 10}), (0.6, 0.2, 0.1), "add up to 1"),
    (balanced_table({"a": 10, "b": 10}), (0.8, 0.2), "three positive"),
    (balanced_table({"a": 10, "b": 10}), (1.0, 0.0, 0.0), "three positive"),
    (pd.DataFrame({"file": ["x"]}), (0.6, 0.2, 0.2), "lacks column"),
])
def test_stratified_split_bad_input(table, fractions, message):
    with pytest.raises(ValueError, match=message):
        utils.project.stratified_split(table, fractions)


def test_split_csv_round_trip_and_stale_split(tmp_path, messy_folder):
    split = utils.project.stratified_split(utils.project.scan_image_folder(messy_folder), seed=0)
    path = utils.project.save_split(split, tmp_path / "out" / "split.csv")
    again = utils.project.load_split(path, root=messy_folder)
    assert again.equals(split[["path", "label", "split"]])
    (messy_folder / split["path"].iloc[0]).unlink()
    with pytest.raises(ValueError, match="missing"):
        utils.project.load_split(path, root=messy_folder)
    bad = split.assign(split="training")
    utils.project.save_split(bad, tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="split names"):
        utils.project.load_split(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError):
        utils.project.load_split(tmp_path / "none.csv")


def test_read_image_gives_rgb_of_one_size(messy_folder):
    gray = utils.project.read_image(messy_folder / "apple" / "a1.png", 16)
    assert gray.shape == (3, 16, 16) and gray.dtype == torch.uint8
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    batch = utils.project.load_images(messy_folder, ["apple/a2.png", "apple/sub/a3.png", "pear/p0.jpg"], 24)
    assert batch.shape == (3, 3, 24, 24)
    with pytest.raises(ValueError):
        utils.project.read_image(messy_folder / "apple" / "a1.png", 0)
    with pytest.raises(ValueError):
        utils.project.load_images(messy_folder, [], 8)


def test_normalize_module():
    x = torch.rand(2, 3, 4, 4)
    norm = utils.project.Normalize([0.5, 0.4, 0.3], [0.2, 0.2, 0.1])
    expected = (x - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.2, 0.1]).view(1, 3, 1, 1)
    assert torch.allclose(norm(x), expected)
    with pytest.raises(ValueError):
        utils.project.Normalize([0.5], [0.0])
    with pytest.raises(ValueError):
        utils.project.Normalize([0.5, 0.5], [0.1])


def tiny_classifier() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(utils.project.Normalize([0.5] * 3, [0.25] * 3), nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


@pytest.mark.parametrize("method,suffix", [("torch.export", ".pt2"), ("torchscript", ".torchscript.pt")])
def test_export_and_reload_give_the_same_predictions(tmp_path, method, suffix):
    model = tiny_classifier()
    model.train()  # export must still freeze batch norm in eval mode, and leave the model as it was
    path = utils.project.export_model(model, torch.rand(2, 3, 16, 16), tmp_path / "model", method=method)
    assert path.name == "model" + suffix and model.training
    loaded = utils.project.load_exported(path)
    x = torch.rand(5, 3, 16, 16)  # another batch size than the example
    with torch.no_grad():
        assert torch.allclose(loaded(x), model.eval()(x), atol=1e-5)


def test_export_auto_prefers_torch_export(tmp_path):
    assert utils.project.export_model(tiny_classifier(), torch.rand(2, 3, 8, 8), tmp_path / "m").suffix == ".pt2"


def test_export_of_a_channels_last_model_is_silent_and_exact(tmp_path):
    model = utils.TunableCNN(channels=(4, 8), kernel_size=3, hidden=8, num_classes=3, in_channels=3, image_size=16).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.export.save warns about channels-last weights unless export_model fixes them
        loaded = utils.project.load_exported(utils.project.export_model(model, torch.rand(2, 3, 16, 16), tmp_path / "m"))
    x = torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=1e-5)


def test_export_bad_input(tmp_path):
    with pytest.raises(ValueError, match="method"):
        utils.project.export_model(tiny_classifier(), torch.rand(1, 3, 8, 8), tmp_path / "m", method="onnx")
    with pytest.raises(TypeError):
        utils.project.export_model(lambda x: x, torch.rand(1, 3, 8, 8), tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        utils.project.load_exported(tmp_path / "none.pt2")
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown export format"):
        utils.project.load_exported(tmp_path / "model.bin")


def test_predict_image(messy_folder):
    model = tiny_classifier().eval()
    probabilities = utils.project.predict_image(model, messy_folder / "pear" / "p0.jpg", ["apple", "pear"], 16)
    assert list(probabilities.index) in (["apple", "pear"], ["pear", "apple"])
    assert probabilities.is_monotonic_decreasing and probabilities.sum() == pytest.approx(1.0)
    image = utils.project.read_image(messy_folder / "pear" / "p0.jpg", 16).float().div(255).unsqueeze(0)
    expected = torch.softmax(model(image), dim=1)[0, 1].item()
    assert probabilities["pear"] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="eval"):
        utils.project.predict_image(model.train(), messy_folder / "pear" / "p0.jpg", ["apple", "pear"], 16)
    with pytest.raises(ValueError, match="logits"):
        utils.project.predict_image(model.eval(), messy_folder / "pear" / "p0.jpg", ["a", "b", "c"], 16)
    with pytest.raises(FileNotFoundError):
        utils.project.predict_image(model, messy_folder / "none.png", ["apple", "pear"], 16)
