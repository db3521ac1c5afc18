import math

import pandas as pd
import pytest
import torch
from torch import nn

import utils


def small_problem(seed=0):
    """A linearly separable 3-class problem that a linear model learns in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(300, 2, generator=g)
    directions = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]])
    y = (x @ directions).argmax(dim=1)
    return x, y


def loaders(seed=0):
    x, y = small_problem()
    return utils.TensorLoader(x, y, batch_size=32, shuffle=True, seed=seed), utils.TensorLoader(x, y, batch_size=100)


def test_fit_learns_and_returns_history():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    train, val = loaders()
    history = utils.fit(model, train, val, epochs=15, optimizer=torch.optim.Adam(model.parameters(), 0.05), progress=False)
    assert isinstance(history, pd.DataFrame)
    assert list(history.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
    assert history["epoch"].tolist() == list(range(1, 16))
    assert history["val_accuracy"].iloc[-1] > 0.9
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


def test_evaluate_matches_manual_computation():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    x, y = small_problem()
    result = utils.evaluate(model, utils.TensorLoader(x, y, batch_size=64), device=torch.device("cpu"))
    with torch.no_grad():
        logits = model(x)
    assert math.isclose(result["loss"], nn.functional.cross_entropy(logits, y).item(), rel_tol=1e-5)
    assert math.isclose(result["accuracy"], (logits.argmax(1) == y).float().mean().item(), rel_tol=1e-6)


def test_regression_history_has_no_accuracy():
    x = torch.randn(64, 3)
    loader = utils.TensorLoader(x, x.sum(1, keepdim=True), batch_size=16)
    history = utils.fit(nn.Linear(3, 1), loader, loader, epochs=2, loss_fn=nn.functional.mse_loss, progress=False)
    assert "train_accuracy" not in history and "val_loss" in history


def test_non_finite_loss_names_epoch_and_batch():
    x, y = small_problem()
    x[40] = float("nan")
    loader = utils.TensorLoader(x, y, batch_size=32)
    with pytest.raises(utils.NonFiniteLossError, match="epoch 1, batch 2"):
        utils.fit(nn.Linear(2, 3), loader, epochs=1, progress=False)


def test_epoch_scheduler_changes_learning_rate():
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = utils.fit(model, loaders()[0], epochs=3, optimizer=optimizer, scheduler=scheduler, progress=False)
    assert history["lr"].tolist() == pytest.approx([0.1, 0.05, 0.025])


def test_batch_scheduler_steps_every_batch():
    model = nn.Linear(2, 3)
    train = loaders()[0]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=2 * len(train))
    utils.fit(model, train, epochs=2, optimizer=optimizer, scheduler=scheduler, scheduler_interval="batch", progress=False)
    assert scheduler.last_epoch == 2 * len(train)


def test_early_stopping_stops_and_restores_best_weights():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    train, val = loaders()
    # a learning rate so large that the validation loss gets worse after the first epochs
    optimizer = torch.optim.SGD(model.parameters(), lr=50.0)
    history = utils.fit(model, train, val, epochs=30, optimizer=optimizer, early_stopping_patience=2, progress=False)
    assert len(history) < 30
    best = history["val_loss"].min()
    assert math.isclose(utils.evaluate(model, val)["loss"], best, rel_tol=1e-5)


def test_resume_from_checkpoint_equals_uninterrupted_training(tmp_path):
    def run(epochs, checkpoint=None, resume=False, model=None):
        train, val = loaders(seed=1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return utils.fit(model, train, val, epochs=epochs, optimizer=optimizer, checkpoint_path=checkpoint,
                         resume=resume, progress=False)

    torch.manual_seed(0)
    straight = nn.Linear(2, 3)
    run(4, model=straight)

    torch.manual_seed(0)
    interrupted = nn.Linear(2, 3)
    checkpoint = tmp_path / "state.pt"
    run(2, checkpoint, model=interrupted)
    resumed = nn.Linear(2, 3)  # a fresh process would build a new model
    history = run(4, checkpoint, resume=True, model=resumed)
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert (tmp_path / "state.best.pt").exists()
    assert utils.load_checkpoint(checkpoint)["history"][-1]["epoch"] == 4


def test_fit_bad_arguments(tmp_path):
    train = loaders()[0]
    with pytest.raises(ValueError, match="epochs"):
        utils.fit(nn.Linear(2, 3), train, epochs=0)
    with pytest.raises(ValueError, match="scheduler_interval"):
        utils.fit(nn.Linear(2, 3), train, epochs=1, scheduler_interval="step")
    with pytest.raises(ValueError, match="resume=True needs"):
        utils.fit(nn.Linear(2, 3), train, epochs=1, resume=True)
    with pytest.raises(FileNotFoundError):
        utils.load_checkpoint(tmp_path / "missing.pt")
