import math
import pickle

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


def test_an_early_stopped_progress_bar_ends_full_and_says_why(capsys):
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    train, val = loaders()
    optimizer = torch.optim.SGD(model.parameters(), lr=50.0)
    history = utils.fit(model, train, val, epochs=30, optimizer=optimizer, early_stopping_patience=2, description="run")
    assert len(history) < 30
    last_line = capsys.readouterr().err.strip().split("\r")[-1]
    assert f"run (stopped early at epoch {len(history)} of 30)" in last_line
    assert "100%" in last_line  # not frozen at the share of the planned epochs


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


def dropout_model():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def run_fresh(epochs, checkpoint=None, resume=False, scheduler=None, interval="epoch", patience=None,
              val_labels_shift=0):
    """Build model, loaders, optimizer and scheduler as a fresh process would, then ``fit``.

    ``val_labels_shift=1`` validates on wrongly shifted labels, so the validation loss gets worse with every
    epoch of learning: the best epoch is the first and early stopping is certain.
    """
    torch.manual_seed(0)  # same initial weights in every run, as a restarted script gets
    model = dropout_model()
    x, y = small_problem()
    train = utils.TensorLoader(x, y, batch_size=32, shuffle=True, seed=1)
    val = utils.TensorLoader(x, (y + val_labels_shift) % 3, batch_size=100)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    schedulers = {
        None: lambda: None,
        "step": lambda: torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5),
        "one_cycle": lambda: torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=4 * len(train)),
    }
    history = utils.fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=schedulers[scheduler](),
                        scheduler_interval=interval, early_stopping_patience=patience, checkpoint_path=checkpoint,
                        resume=resume, progress=False)
    return model, history.drop(columns="seconds")


def assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("scheduler, interval", [("step", "epoch"), ("one_cycle", "batch")])
def test_resume_with_scheduler_and_dropout_equals_uninterrupted(tmp_path, scheduler, interval):
    straight, straight_history = run_fresh(4, scheduler=scheduler, interval=interval, patience=3)
    run_fresh(2, tmp_path / "run.pt", scheduler=scheduler, interval=interval, patience=3)
    resumed, resumed_history = run_fresh(4, tmp_path / "run.pt", resume=True, scheduler=scheduler,
                                         interval=interval, patience=3)
    assert straight_history["lr"].nunique() > 1  # the scheduler did change the learning rate
    pd.testing.assert_frame_equal(resumed_history, straight_history, check_exact=True)
    assert_same_weights(resumed, straight)


def test_resume_keeps_early_stopping_counter_best_loss_and_best_weights(tmp_path):
    straight, straight_history = run_fresh(10, patience=3, val_labels_shift=1)
    assert straight_history["epoch"].tolist() == [1, 2, 3, 4]  # best at epoch 1, stopped 3 epochs later
    run_fresh(2, tmp_path / "run.pt", patience=3, val_labels_shift=1)  # interrupted with the counter at 1
    resumed, resumed_history = run_fresh(10, tmp_path / "run.pt", resume=True, patience=3, val_labels_shift=1)
    pd.testing.assert_frame_equal(resumed_history, straight_history, check_exact=True)
    assert_same_weights(resumed, straight)  # both hold epoch 1's weights
    assert utils.load_checkpoint(tmp_path / "run.pt")["stopped_early"] is True


def test_resuming_an_early_stopped_run_trains_no_more(tmp_path):
    stopped, stopped_history = run_fresh(10, tmp_path / "run.pt", patience=3, val_labels_shift=1)
    assert len(stopped_history) == 4
    resumed, resumed_history = run_fresh(10, tmp_path / "run.pt", resume=True, patience=3, val_labels_shift=1)
    pd.testing.assert_frame_equal(resumed_history, stopped_history, check_exact=True)
    assert utils.load_checkpoint(tmp_path / "run.pt")["history"][-1]["epoch"] == 4  # not overwritten
    assert_same_weights(resumed, stopped)  # the best weights, not the last checkpoint's


class FakeCudaGenerator:
    """Stands in for the CUDA random state on a machine without a GPU: one ByteTensor per device."""

    def __init__(self):
        self.states = [torch.tensor([1, 2, 3], dtype=torch.uint8)]

    def get_rng_state_all(self):
        return [s.clone() for s in self.states]

    def set_rng_state_all(self, states):
        self.states = [s.clone() for s in states]


def test_cuda_random_state_is_saved_and_restored(tmp_path, monkeypatch):
    cuda = FakeCudaGenerator()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", cuda.get_rng_state_all)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", cuda.set_rng_state_all)
    train = loaders()[0]

    def run(epochs, resume=False):  # SGD: Adam's step asks the (absent) CUDA device whether it is capturing a graph
        model = nn.Linear(2, 3)
        utils.fit(model, train, epochs=epochs, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                  device=torch.device("cpu"), checkpoint_path=tmp_path / "run.pt", resume=resume, progress=False)

    run(1)
    saved = utils.load_checkpoint(tmp_path / "run.pt")["random_states"]["cuda"]
    assert [s.tolist() for s in saved] == [[1, 2, 3]]

    cuda.states = [torch.tensor([9, 9, 9], dtype=torch.uint8)]  # a fresh process starts from another state
    run(2, resume=True)
    assert [s.tolist() for s in cuda.states] == [[1, 2, 3]]


def test_cpu_checkpoint_resumes_on_a_gpu_with_mixed_precision(tmp_path):
    from gpu_simulation import on_gpu, simulated_gpu

    train = loaders()[0]

    def run(epochs, device, resume=False):
        torch.manual_seed(0)
        model = nn.Linear(2, 3)
        utils.fit(model, train, epochs=epochs, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device=device,
                  amp=True, checkpoint_path=tmp_path / "run.pt", resume=resume, progress=False)
        return model

    run(1, torch.device("cpu"))  # written with AMP off: the GradScaler's state is empty
    assert utils.load_checkpoint(tmp_path / "run.pt")["scaler"] == {}
    with simulated_gpu() as gpu:
        resumed = run(2, gpu, resume=True)  # raised "The source state dict is empty ..." before
        assert on_gpu(resumed)
    assert len(utils.load_checkpoint(tmp_path / "run.pt")["history"]) == 2
    assert utils.load_checkpoint(tmp_path / "run.pt")["scaler"]["scale"] == 2.0**16  # AMP on from the GPU epoch


def test_history_lr_is_a_plain_float_when_the_learning_rate_is_a_tensor():
    model = nn.Linear(2, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1))
    history = utils.fit(model, loaders()[0], epochs=1, optimizer=optimizer, progress=False)
    assert type(history["lr"].iloc[0]) is not torch.Tensor and history["lr"].dtype == float


CODE_RAN = []


def _record_that_code_ran(message):
    CODE_RAN.append(message)


class CodeOnLoad:
    """An object whose unpickling calls a function: what a malicious checkpoint would do."""

    def __reduce__(self):
        return _record_that_code_ran, ("the checkpoint ran code",)


@pytest.mark.parametrize("crafted", ["run.pt", "run.best.pt"])
def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, crafted):
    fit_state = tmp_path / "fit.pt"
    utils.fit(nn.Linear(2, 3), loaders()[0], epochs=1, checkpoint_path=fit_state, progress=False)
    (tmp_path / "run.pt").write_bytes(fit_state.read_bytes())
    (tmp_path / "run.best.pt").write_bytes(fit_state.with_suffix(".best.pt").read_bytes())
    torch.save({"model": CodeOnLoad()}, tmp_path / crafted)
    CODE_RAN.clear()
    with pytest.raises(pickle.UnpicklingError, match="is not loaded, for safety: it holds objects other than tensors"):
        utils.fit(nn.Linear(2, 3), loaders()[0], epochs=2, checkpoint_path=tmp_path / "run.pt", resume=True,
                  progress=False)
    with pytest.raises(pickle.UnpicklingError, match="not loaded, for safety"):
        utils.load_checkpoint(tmp_path / crafted)
    assert CODE_RAN == []
    torch.load(tmp_path / crafted, weights_only=False)  # the payload is real: an unsafe load runs it
    assert CODE_RAN == ["the checkpoint ran code"]


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
