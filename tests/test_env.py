import random

import numpy as np
import pytest
import torch

import utils
from utils import env


def test_pick_follows_fast_flag(monkeypatch):
    monkeypatch.setattr(env, "FAST", True)
    assert env.pick(full=10, fast=1) == 1
    monkeypatch.setattr(env, "FAST", False)
    assert env.pick(full=10, fast=1) == 10


def test_fast_flag_reads_environment():
    import os

    assert utils.FAST == (os.environ.get("COURSE_FAST") == "1")


def test_seed_everything_repeats_all_generators():
    utils.seed_everything(123)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    utils.seed_everything(123)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.mark.parametrize("bad", ["1", 1.5, None, True])
def test_seed_everything_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        utils.seed_everything(bad)


def test_seed_worker_seeds_numpy_from_torch():
    torch.manual_seed(7)
    utils.seed_worker(0)
    a = np.random.rand()
    torch.manual_seed(7)
    utils.seed_worker(0)
    assert np.random.rand() == a


def test_get_device_is_cpu_without_accelerator():
    device = utils.get_device()
    assert isinstance(device, torch.device)
    if not torch.cuda.is_available():
        assert device.type in ("cpu", "mps")


def test_environment_report_names_versions_and_mode():
    report = utils.environment_report()
    assert torch.__version__ in report and "device" in report
    assert ("FAST" in report) == utils.FAST
    assert "\n" not in report


def test_model_device_is_where_the_parameters_or_buffers_are():
    assert env.model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert env.model_device(torch.nn.Linear(2, 2, device="meta")) == torch.device("meta")
    only_buffer = torch.nn.BatchNorm1d(2, affine=False).to("meta")
    assert env.model_device(only_buffer) == torch.device("meta")
    assert env.model_device(torch.nn.ReLU()) == torch.device("cpu")  # nothing to ask: the CPU
    with pytest.raises(TypeError, match="nn.Module"):
        env.model_device(lambda x: x)
