"""Week 3 helpers: utils.training (step-level tools), utils.experiments, utils.augment, calibration and mistakes in utils.metrics, the reliability diagram,
and the image-folder writer in utils.data."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torchmetrics.functional.classification import multiclass_calibration_error

import utils
from utils.data import write_image_folder
from utils.metrics import calibration_bins, expected_calibration_error, most_confident_mistakes
from utils.plots import plot_reliability_diagram
from utils.augment import random_affine
from utils.experiments import (
    LogUniform,
    few_shot_split,
    grid_configs,
    images_per_second,
    kfold_indices,
    random_configs,
    summarize_runs,
    train_val_split,
)
from utils.models import TunableCNN
from utils.training import lr_range_test, lr_schedule, suggest_lr, train_steps

matplotlib.use("Agg")


def separable(seed=0, n=256):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (x @ torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])).argmax(dim=1)
    return x, y


# ---------------------------------------------------------------------------------------- model
@pytest.mark.parametrize("batch_norm", [True, False])
def test_tunable_cnn_shapes_and_parts(batch_norm):
    torch.manual_seed(0)
    model = TunableCNN(channels=(8, 16), hidden=32, batch_norm=batch_norm, dropout=0.25)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == batch_norm
    assert any(isinstance(m, nn.Dropout) for m in model.modules())
    assert model.classifier[-1].in_features == 32
    # 28 -> 24 -> 12 -> 8 -> 4 with 5x5 kernels and 2x2 pooling
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 16, 4, 4)


def test_tunable_cnn_channels_last_gives_the_same_outputs():
    torch.manual_seed(0)
    a = TunableCNN(channels=(4, 8), hidden=16, channels_last=True).eval()
    b = TunableCNN(channels=(4, 8), hidden=16, channels_last=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(5, 1, 28, 28)
    assert torch.allclose(a(x), b(x), atol=1e-5)


def test_tunable_cnn_bad_arguments():
    with pytest.raises(ValueError, match="channels"):
        TunableCNN(channels=())
    with pytest.raises(ValueError, match="dropout"):
        TunableCNN(dropout=1.0)
    with pytest.raises(ValueError, match="do not fit"):
        TunableCNN(channels=(8, 8, 8), image_size=28)
    with pytest.raises(ValueError, match="padding"):
        TunableCNN(padding=-1)


def test_tunable_cnn_same_padding_keeps_the_feature_map_proportional():
    model = TunableCNN(channels=(4, 8), kernel_size=5, padding=2, hidden=16, image_size=48, channels_last=False).eval()
    assert model.features(torch.zeros(1, 1, 48, 48)).shape == (1, 8, 12, 12)  # 48 -> 48 -> 24 -> 24 -> 12
    assert model(torch.zeros(3, 1, 48, 48)).shape == (3, 10)
    assert TunableCNN(channels=(8, 8, 8), padding=2, image_size=28)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


# ------------------------------------------------------------------------- steps and range test
def test_train_steps_overfits_one_batch_and_cycles():
    torch.manual_seed(0)
    x, y = separable(n=32)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 3))
    history = train_steps(model, [(x, y)], torch.optim.Adam(model.parameters(), 0.05), steps=150, device=torch.device("cpu"))
    assert list(history.columns) == ["step", "loss", "lr"] and len(history) == 150
    assert history["loss"].iloc[-1] < 0.05 < history["loss"].iloc[0]


def test_train_steps_stops_at_a_non_finite_loss():
    torch.manual_seed(0)
    x, y = separable()
    broken = x.clone()
    broken[0, 0] = float("nan")
    model = nn.Linear(2, 3)
    history = train_steps(model, [(x, y), (broken, y)], torch.optim.SGD(model.parameters(), lr=0.1), steps=50,
                          device=torch.device("cpu"))
    assert len(history) == 2 and math.isfinite(history["loss"].iloc[0]) and not math.isfinite(history["loss"].iloc[-1])
    with pytest.raises(ValueError, match="steps"):
        train_steps(model, [(x, y)], torch.optim.SGD(model.parameters(), lr=0.1), steps=0)
    with pytest.raises(ValueError, match="no batches"):
        train_steps(model, [], torch.optim.SGD(model.parameters(), lr=0.1), steps=2)


def test_train_steps_steps_the_scheduler():
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = train_steps(model, [separable()], optimizer, steps=5, scheduler=scheduler, device=torch.device("cpu"))
    assert history["lr"].tolist() == [1.0, 1.0, 0.5, 0.5, 0.25]


def test_lr_range_test_sweeps_restores_and_suggests():
    torch.manual_seed(0)
    x, y = separable()
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.123, momentum=0.9)
    loader = utils.TensorLoader(x, y, batch_size=32, shuffle=True)
    result = lr_range_test(model, loader, optimizer, start_lr=1e-4, end_lr=1e3, steps=80, device=torch.device("cpu"))
    assert list(result.columns) == ["lr", "loss", "smoothed_loss"]
    lrs = result["lr"].to_numpy()
    assert lrs[0] == pytest.approx(1e-4) and np.all(np.diff(np.log(lrs)) > 0)
    assert len(result) < 80, "a learning rate of 1000 must blow the loss up and stop the test early"
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "the model is put back"
    assert optimizer.param_groups[0]["lr"] == 0.123 and not optimizer.state, "the optimizer is put back"
    steepest, tenth = suggest_lr(result), suggest_lr(result, "min/10")
    assert 1e-4 <= steepest <= lrs.max() and tenth == pytest.approx(lrs[result["smoothed_loss"].argmin()] / 10)
    assert 1e-3 < steepest < 1e2
    with pytest.raises(ValueError, match="method"):
        suggest_lr(result, "valley")
    with pytest.raises(ValueError, match="start_lr"):
        lr_range_test(model, loader, optimizer, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="lr_range_test"):
        suggest_lr(pd.DataFrame({"lr": [1.0]}))


def test_lr_schedule_matches_known_schedules():
    step = lr_schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.1), 7, base_lr=1.0)
    assert step.tolist() == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])
    cosine = lr_schedule(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10), 11, base_lr=0.5)
    assert cosine[0] == 0.5 and cosine[5] == pytest.approx(0.25) and cosine[10] == pytest.approx(0.0)
    one_cycle = lr_schedule(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=100), 100)
    assert one_cycle.argmax() == 29 and one_cycle.max() == pytest.approx(1.0) and one_cycle[-1] < 1e-4
    with pytest.raises(ValueError, match="steps"):
        lr_schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, 1), 0)


# ---------------------------------------------------------------------------------- augmentation
def test_random_affine_identity_and_variety(tiny_digits):
    images = tiny_digits[0][:16]
    assert torch.allclose(random_affine(images, degrees=0, scale=0, max_pixels=0), images, atol=1e-5)
    moved = random_affine(images, generator=torch.Generator().manual_seed(0))
    assert moved.shape == images.shape and not torch.allclose(moved, images, atol=1e-3)
    again = random_affine(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(moved, again), "the same generator seed gives the same batch"
    # with rotation and zoom switched off it is utils.random_translate, draw for draw
    shifted = random_affine(images, degrees=0, scale=0, max_pixels=2, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(shifted, utils.random_translate(images, 2, generator=torch.Generator().manual_seed(5)), atol=1e-6)
    # a small rotation moves ink around but keeps (almost) all of it
    turned = random_affine(images, degrees=15, scale=0, max_pixels=0, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(turned.sum(dim=(1, 2, 3)), images.sum(dim=(1, 2, 3)), rtol=0.05)
    with pytest.raises(ValueError, match="float batch"):
        random_affine(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match="scale"):
        random_affine(images, scale=1.5)


# ------------------------------------------------------------------------------------- searching
def test_grid_and_random_configs():
    grid = grid_configs({"lr": [0.1, 0.01], "batch_size": [32, 64, 128]})
    assert len(grid) == 6 and grid[0] == {"lr": 0.1, "batch_size": 32} and grid[-1] == {"lr": 0.01, "batch_size": 128}
    space = {"lr": LogUniform(1e-4, 1e-1), "dropout": [0.0, 0.5]}
    configs = random_configs(space, n=200, seed=1)
    lrs = np.array([c["lr"] for c in configs])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    assert 0.4 < np.mean(lrs < 10**-2.5) < 0.6, "log-uniform: half the draws below the geometric middle"
    assert {c["dropout"] for c in configs} == {0.0, 0.5}
    assert random_configs(space, n=5, seed=1) == configs[:5], "the same seed gives the same configurations"
    with pytest.raises(ValueError, match="low < high"):
        LogUniform(1.0, 0.1)
    with pytest.raises(TypeError, match="LogUniform"):
        grid_configs(space)
    with pytest.raises(TypeError, match="non-empty list"):
        random_configs({"lr": 0.1}, n=2)


# ---------------------------------------------------------------------------------------- splits
def test_train_val_split_and_kfold_partition():
    train, val = train_val_split(100, 20, seed=3)
    assert len(train) == 80 and len(val) == 20 and set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(100))
    folds = kfold_indices(103, 5, seed=0)
    assert len(folds) == 5
    validation = [v.tolist() for _, v in folds]
    assert sorted(sum(validation, [])) == list(range(103)), "every index validates exactly once"
    assert {len(v) for v in validation} <= {20, 21}
    for train_part, val_part in folds:
        assert set(train_part.tolist()).isdisjoint(val_part.tolist()) and len(train_part) + len(val_part) == 103
    with pytest.raises(ValueError, match="k must"):
        kfold_indices(10, 1)
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(10, 10)


def test_few_shot_split_is_balanced_and_disjoint():
    labels = torch.tensor([0] * 10 + [1] * 10 + [2] * 7)
    train, rest = few_shot_split(labels, shots=5, seed=0)
    assert torch.bincount(labels[train]).tolist() == [5, 5, 5]
    assert sorted(train.tolist() + rest.tolist()) == list(range(27))
    assert not torch.equal(train, few_shot_split(labels, shots=5, seed=1)[0])
    with pytest.raises(ValueError, match="class 2 has 7"):
        few_shot_split(labels, shots=7)
    with pytest.raises(ValueError, match="1-D integer"):
        few_shot_split(labels.float(), shots=1)


# ------------------------------------------------------------------------------------- reporting
def test_summarize_runs_mean_and_sample_std():
    runs = pd.DataFrame({"method": ["a", "a", "a", "b"], "accuracy": [0.90, 0.92, 0.94, 0.5]})
    table = summarize_runs(runs, "method", "accuracy", scale=100)
    assert table.loc["a", "mean"] == pytest.approx(92.0) and table.loc["a", "std"] == pytest.approx(2.0)
    assert table.loc["b", "std"] == 0 and table.loc["a", "runs"] == 3
    assert table.loc["a", "mean ± std"] == "92.00 ± 2.00"
    with pytest.raises(ValueError, match="not in the runs table"):
        summarize_runs(runs, "seed", "accuracy")


def test_images_per_second_counts_images():
    batches = [(torch.zeros(10, 1), torch.zeros(10))] * 6
    rate = images_per_second(batches, warmup_batches=1)
    assert rate > 0
    with pytest.raises(ValueError, match="no batch"):
        images_per_second(batches[:1], warmup_batches=1)


# ----------------------------------------------------------------------------------- calibration
def test_calibration_bins_by_hand():
    # probabilities 0.9 (right), 0.9 (wrong), 0.6 (right): logits are their logs
    probs = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    targets = torch.tensor([0, 0, 0])
    bins = calibration_bins(probs.log(), targets, n_bins=5)
    assert list(bins.columns) == ["lower", "upper", "count", "confidence", "accuracy", "gap"]
    assert bins["count"].tolist() == [0, 0, 0, 1, 2]
    assert bins.loc[4, "confidence"] == pytest.approx(0.9) and bins.loc[4, "accuracy"] == pytest.approx(0.5)
    assert math.isnan(bins.loc[0, "accuracy"])
    # ECE = 2/3 * |0.5 - 0.9| + 1/3 * |1 - 0.6|
    assert expected_calibration_error(probs.log(), targets, n_bins=5) == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.4)


def test_ece_agrees_with_torchmetrics_and_sees_overconfidence():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, 10, generator=g) * 3
    targets = torch.randint(0, 10, (2000,), generator=g)
    ours = expected_calibration_error(logits, targets, n_bins=15)
    theirs = multiclass_calibration_error(logits, targets, num_classes=10, n_bins=15).item()
    assert ours == pytest.approx(theirs, abs=1e-5)
    assert ours > 0.3, "random labels with confident logits: badly over-confident"
    # a calibrated source: labels drawn from the model's own probabilities
    sampled = torch.multinomial(logits.softmax(1), 1, generator=g).flatten()
    assert expected_calibration_error(logits, sampled) < 0.05
    with pytest.raises(ValueError, match="logits"):
        expected_calibration_error(logits.argmax(1), targets)
    with pytest.raises(ValueError, match="n_bins"):
        calibration_bins(logits, targets, n_bins=0)


def test_confidence_one_goes_into_the_last_bin():
    logits = torch.tensor([[100.0, 0.0], [0.0, 100.0]])
    bins = calibration_bins(logits, torch.tensor([0, 0]), n_bins=10)
    assert bins["count"].tolist() == [0] * 9 + [2]
    assert expected_calibration_error(logits, torch.tensor([0, 0]), n_bins=10) == pytest.approx(0.5)


def test_most_confident_mistakes_sorted():
    logits = torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 9.0], [3.0, 0.0]])
    targets = torch.tensor([0, 0, 0, 1])
    table = most_confident_mistakes(logits, targets, top=5)
    assert table["index"].tolist() == [2, 3, 1]
    assert table["predicted"].tolist() == [1, 0, 1] and table["true"].tolist() == [0, 1, 0]
    assert table["confidence"].is_monotonic_decreasing
    assert table["true_probability"].iloc[0] == pytest.approx(1 - table["confidence"].iloc[0], abs=1e-6)
    assert len(most_confident_mistakes(logits, logits.argmax(1))) == 0
    with pytest.raises(ValueError, match="top"):
        most_confident_mistakes(logits, targets, top=0)


def test_reliability_diagram_draws():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(300, 10, generator=g), torch.randint(0, 10, (300,), generator=g)
    fig = plot_reliability_diagram(calibration_bins(logits, targets), ece=0.1)
    assert "ECE = 10.00%" in fig.axes[0].get_title()
    matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="calibration_bins"):
        plot_reliability_diagram(pd.DataFrame({"x": [1]}))


# ---------------------------------------------------------------------------------- image folder
def test_write_image_folder_round_trips_through_image_folder(tmp_path):
    from torchvision.datasets import ImageFolder

    images, labels = utils.load_mnist("test")
    keep = torch.cat([(labels == digit).nonzero().flatten()[:6] for digit in range(10)])  # every class present
    images, labels = images[keep], labels[keep]
    root = write_image_folder(images, labels, tmp_path / "digits")
    assert sorted(p.name for p in root.iterdir()) == [str(i) for i in range(10)]
    assert len(list(root.rglob("*.png"))) == 60
    dataset = ImageFolder(str(root))
    assert dataset.classes == [str(i) for i in range(10)]
    first_path, first_label = dataset.samples[0]
    index = int(first_path.rsplit("/", 1)[1].removesuffix(".png"))
    assert first_label == labels[index]
    pixels = np.asarray(dataset.loader(first_path).convert("L"))
    assert np.array_equal(pixels, images[index].numpy()), "PNG is lossless"


def test_write_image_folder_pads_class_names_and_checks_input(tmp_path):
    images = np.zeros((12, 4, 4), dtype=np.uint8)
    root = write_image_folder(images, np.arange(12), tmp_path / "many")
    assert sorted(p.name for p in root.iterdir())[:3] == ["00", "01", "02"], "zero-padded so that sorting keeps label order"
    write_image_folder(np.zeros((2, 4, 4, 3), dtype=np.uint8), [0, 1], tmp_path / "rgb", class_names=["cat", "dog"])
    assert (tmp_path / "rgb" / "dog" / "1.png").exists()
    with pytest.raises(ValueError, match="uint8"):
        write_image_folder(images.astype(np.float32), np.arange(12), tmp_path / "x")
    with pytest.raises(ValueError, match="one per image"):
        write_image_folder(images, np.arange(11), tmp_path / "x")
    with pytest.raises(ValueError, match="class names"):
        write_image_folder(images[:2], [0, 1], tmp_path / "x", class_names=["only"])
