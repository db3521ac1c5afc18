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


# --------------------------------------------------------------------------------------------------
# Data straight from disk (week 10 at real scale)
# --------------------------------------------------------------------------------------------------


def test_header_scan_misses_damage_inside_a_jpeg_that_a_full_decode_finds(tmp_path):
    root = tmp_path / "images"
    for label in ("a", "b"):
        write_jpeg(root / label / "fine.jpg", size=(64, 48))
    data = bytearray(write_jpeg(root / "a" / "damaged.jpg", size=(64, 48)).read_bytes())
    start = data.index(b"\xff\xda")  # start of scan: the compressed pixels follow
    data[start + 20 : -2] = b"\xff\x00" * ((len(data) - start - 22) // 2) + b"\x00" * ((len(data) - start - 22) % 2)
    (root / "a" / "damaged.jpg").write_bytes(bytes(data))  # header and end marker intact, pixels garbage
    quick = utils.project.scan_image_folder(root).set_index("path")["status"]
    assert quick["a/damaged.jpg"] == "ok"  # only the header and the end marker are read
    full = utils.project.scan_image_folder(root, decode=True).set_index("path")["status"]
    assert full["a/fine.jpg"] == "ok"


def test_scan_grows_linearly_with_the_number_of_files(tmp_path):
    import time

    def seconds_for(n: int) -> float:
        root = tmp_path / f"n{n}"
        for i in range(n):
            folder = root / ("a" if i % 2 else "b")
            folder.mkdir(parents=True, exist_ok=True)
            pixels = np.frombuffer(i.to_bytes(4, "big") * 4, dtype=np.uint8).reshape(4, 4)  # distinct: no duplicates
            Image.fromarray(pixels).save(folder / f"{i:06d}.png")
            (folder / f"{i:06d}.txt").write_text(str(i))  # non-images count too
        start = time.perf_counter()
        files = utils.project.scan_image_folder(root)
        assert len(files) == 2 * n
        return time.perf_counter() - start

    small, large = seconds_for(1_000), seconds_for(10_000)
    assert large < 30 * small  # ten times the files: about ten times the time, not a hundred


def test_open_rgb_converts_cmyk_and_16_bit_and_shrinks_large_jpegs(tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(cmyk)  # pure red in CMYK
    red = utils.project.open_rgb(cmyk)
    assert red.shape == (3, 30, 40) and red.dtype == torch.uint8
    assert red[0].float().mean() > 200 and red[1].float().mean() < 60
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((10, 12), 30_000, dtype=np.uint16)).save(deep)  # 16-bit gray, not white
    gray = utils.project.open_rgb(deep)
    assert gray.shape == (3, 10, 12) and 100 < int(gray[0, 0, 0]) < 140  # 30000 / 65535 of 255
    big = write_jpeg(tmp_path / "big.jpg", size=(1200, 900))
    small = utils.project.open_rgb(big, min_side=224)
    assert min(small.shape[1:]) == 224 and small.shape[2] == round(1200 * 224 / 900)
    with pytest.raises(ValueError, match="min_side"):
        utils.project.open_rgb(big, min_side=0)


@pytest.fixture
def photo_folder(tmp_path) -> tuple[Path, pd.DataFrame]:
    root = tmp_path / "photos"
    for label in ("cat", "dog"):
        for i in range(6):
            write_jpeg(root / label / f"{i}.jpg", size=(80 + 10 * i, 60))
    files = utils.project.scan_image_folder(root)
    return root, utils.project.stratified_split(files, (0.5, 0.25, 0.25), seed=0)


def test_image_file_dataset_decodes_on_demand_with_labels_and_transform(photo_folder):
    root, split = photo_folder
    dataset = utils.project.ImageFileDataset(root, split, ["cat", "dog"], utils.project.eval_transform(32))
    image, target = dataset[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert [dataset[i][1] for i in range(len(dataset))] == [["cat", "dog"].index(lab) for lab in split["label"]]
    unlabelled = utils.project.ImageFileDataset(root, split[["path"]], transform=utils.project.eval_transform(32))
    assert unlabelled[0][1] == -1
    augmented = utils.project.ImageFileDataset(root, split, ["cat", "dog"], utils.project.train_transform(24))
    assert augmented[0][0].shape == (3, 24, 24)


def test_image_file_dataset_bad_input(photo_folder):
    root, split = photo_folder
    with pytest.raises(ValueError, match="not among the class names"):
        utils.project.ImageFileDataset(root, split, ["cat"])
    with pytest.raises(ValueError, match="outside"):
        utils.project.ImageFileDataset(root, pd.DataFrame({"path": ["../secret.jpg"]}))
    with pytest.raises(ValueError, match="no image"):
        utils.project.ImageFileDataset(root, split.iloc[:0])
    (root / split["path"].iloc[0]).write_bytes(b"broken")
    dataset = utils.project.ImageFileDataset(root, split, ["cat", "dog"])
    with pytest.raises(OSError, match=split["path"].iloc[0]):
        dataset[0]


def test_image_loader_is_reproducible_with_workers_and_checks_its_arguments(photo_folder):
    root, split = photo_folder
    dataset = utils.project.ImageFileDataset(root, split, ["cat", "dog"], utils.project.train_transform(16))

    def batches(seed: int) -> list[torch.Tensor]:
        loader = utils.project.image_loader(dataset, 4, shuffle=True, num_workers=2, seed=seed)
        return [images for images, _ in loader]

    first, again, other = batches(0), batches(0), batches(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))  # same seed: same order and augmentations
    assert not all(torch.equal(a, b) for a, b in zip(first, other))
    assert utils.project.image_loader(dataset, 4, device="cuda").pin_memory
    assert not utils.project.image_loader(dataset, 4, device="cpu").pin_memory
    with pytest.raises(ValueError, match="batch_size"):
        utils.project.image_loader(dataset, 0)
    with pytest.raises(ValueError, match="num_workers"):
        utils.project.image_loader(dataset, 2, num_workers=-1)


def test_predict_takes_a_loader_and_gives_what_it_gives_for_a_tensor(photo_folder):
    root, split = photo_folder
    dataset = utils.project.ImageFileDataset(root, split, ["cat", "dog"], utils.project.eval_transform(16))
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2))
    images = torch.stack([dataset[i][0] for i in range(len(dataset))])
    from_loader = utils.predict(model, utils.project.image_loader(dataset, 5))
    assert torch.allclose(from_loader, utils.predict(model, images))
    with pytest.raises(ValueError, match="empty"):
        utils.predict(model, [])
    with pytest.raises(ValueError, match="no batch"):
        utils.predict(model, iter([]))


def test_predict_folder_writes_one_row_per_image(photo_folder, tmp_path):
    root, _ = photo_folder
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 2)).eval()
    table = utils.project.predict_folder(model, root, ["cat", "dog"], size=16, batch_size=5)
    assert list(table.columns) == ["path", "predicted", "confidence"] and len(table) == 12
    assert set(table["predicted"]) <= {"cat", "dog"} and table["confidence"].between(0.5, 1).all()
    with pytest.raises(ValueError, match="3 classes"):
        utils.project.predict_folder(model, root, ["cat", "dog", "eel"], size=16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        utils.project.predict_folder(model, tmp_path / "empty", ["cat", "dog"], size=16)


def test_wilson_interval_matches_known_values_and_stays_in_range():
    low, high = utils.project.wilson_interval(58, 62)
    assert abs(low - 0.8455) < 1e-3 and abs(high - 0.9747) < 1e-3  # worked by hand from Wilson's formula
    assert utils.project.wilson_interval(0, 10)[0] == 0.0 and utils.project.wilson_interval(10, 10)[1] == 1.0
    assert utils.project.wilson_interval(10, 10)[0] > 0.6  # 10 of 10 is not proof of 100%
    for bad in ((11, 10), (-1, 10), (1, 0), (1.5, 10)):
        with pytest.raises(ValueError):
            utils.project.wilson_interval(*bad)


def test_split_is_current_compares_the_images_the_seed_and_the_fractions(tmp_path, photo_folder):
    root, _ = photo_folder
    files = utils.project.scan_image_folder(root)
    path = tmp_path / "split.csv"
    assert not utils.project.split_is_current(path, files, 0, (0.5, 0.25, 0.25))[0]
    split = utils.project.stratified_split(files, (0.5, 0.25, 0.25), seed=0)
    utils.project.save_split(split, path, seed=0, fractions=(0.5, 0.25, 0.25))
    assert utils.project.split_is_current(path, files, 0, (0.5, 0.25, 0.25))[0]
    current, reason = utils.project.split_is_current(path, files, 1, (0.5, 0.25, 0.25))
    assert not current and "seed" in reason
    current, reason = utils.project.split_is_current(path, files, 0, (0.6, 0.2, 0.2))
    assert not current and "fractions" in reason
    current, reason = utils.project.split_is_current(path, files.iloc[1:], 0, (0.5, 0.25, 0.25))
    assert not current and "differ" in reason


def test_sample_project_has_its_planted_problems_and_no_shared_sources(tmp_path):
    paths = utils.project.write_sample_project(tmp_path / "sample", seed=0, scale=0.2)
    files = utils.project.scan_image_folder(paths["images"]).set_index("path")
    assert files.loc["face/face_000_copy.jpg", "status"] == "duplicate"
    assert files.loc["scene/scene_broken.jpg", "status"] == "unreadable"
    assert files.loc["digit/notes.txt", "status"] == "not an image"
    assert files.loc["digit/digit_cmyk.jpg", "mode"] == "CMYK" and files.loc["face/face_16bit.png", "mode"] == "I;16"
    usable = files[files["status"] == "ok"]
    assert sorted(usable["label"].unique()) == list(utils.project.SAMPLE_CLASSES)
    answers = pd.read_csv(paths["answers"])
    assert sorted(p.name for p in paths["unlabelled"].iterdir()) == sorted(answers["path"])
    labelled = {utils.project.open_rgb(paths["images"] / p, min_side=8).float().mean().item() for p in usable.index}
    assert len(labelled) >= len(usable) - 3  # apart from the planted CMYK and 16-bit copies, every image differs
    with pytest.raises(FileExistsError):
        utils.project.write_sample_project(tmp_path / "sample")
    with pytest.raises(ValueError, match="scale"):
        utils.project.write_sample_project(tmp_path / "other", scale=0)
