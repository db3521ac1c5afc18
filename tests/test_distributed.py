import os

import pytest
import torch

import utils
from utils import distributed
from utils.distributed import backend_note, choose_backend, init_distributed, launch


def test_two_process_training_on_the_cpu(tmp_path, capsys):
    checkpoint = tmp_path / "ddp.pt"
    script = tmp_path / "ddp_job.py"  # what the notebook writes: a script that imports utils.distributed
    script.write_text("from utils.distributed import main\n\nif __name__ == '__main__':\n    main()\n")
    result = launch(
        [str(script), "--epochs", "1", "--train-size", "3000", "--batch-size", "64",
         "--checkpoint", str(checkpoint)],  # no --backend: chosen by choose_backend, as in week 8
        nproc_per_node=2, timeout=120,
    )
    notes = capsys.readouterr().out.splitlines()
    assert notes == [backend_note(2, choose_backend(2)[0])], "rank 0's one line, passed on by launch (once)"
    assert result["world_size"] == 2
    assert result["images_per_process"] == 1500  # DistributedSampler: each process gets half
    assert result["test_accuracy"] > 0.7  # 3,000 digits, one epoch: well above chance (0.1)
    state = utils.load_checkpoint(checkpoint)  # saved by rank 0
    model = utils.LeNet5()
    model.load_state_dict(state["model"])
    assert state["test_accuracy"] == result["test_accuracy"]


def test_init_distributed_without_torchrun_says_how_to_start(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(RuntimeError, match="torch.distributed.run"):
        init_distributed()


def test_launch_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nproc_per_node"):
        launch(["ddp_job.py"], nproc_per_node=0)
    with pytest.raises(TypeError, match="list of strings"):
        launch("ddp_job.py --epochs 1")


def fake_gpus(monkeypatch, count: int) -> None:
    """Make torch believe this machine has ``count`` CUDA GPUs."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize(
    "gpus, processes, local_rank, expected",
    [
        (1, 1, 0, ("nccl", torch.device("cuda", 0))),  # one process, one GPU
        (1, 2, 0, ("gloo", torch.device("cpu"))),  # a one-GPU Colab runtime, two processes
        (1, 2, 1, ("gloo", torch.device("cpu"))),  # ... rank 1 must not ask for GPU 1
        (2, 2, 0, ("nccl", torch.device("cuda", 0))),
        (2, 2, 1, ("nccl", torch.device("cuda", 1))),  # one GPU per process, by local rank
        (8, 4, 3, ("nccl", torch.device("cuda", 3))),
        (0, 1, 0, ("gloo", torch.device("cpu"))),  # no GPU at all
        (0, 2, 1, ("gloo", torch.device("cpu"))),
    ],
)
def test_choose_backend_uses_nccl_only_with_a_gpu_per_process(monkeypatch, gpus, processes, local_rank, expected):
    fake_gpus(monkeypatch, gpus)
    assert choose_backend(processes, local_rank) == expected


def test_choose_backend_honours_an_explicit_backend(monkeypatch):
    fake_gpus(monkeypatch, 2)
    assert choose_backend(2, 1, "gloo") == ("gloo", torch.device("cpu"))
    fake_gpus(monkeypatch, 1)
    with pytest.raises(ValueError, match="'nccl' needs one GPU per process: 2 processes but 1 GPU"):
        choose_backend(2, 1, "nccl")


@pytest.mark.parametrize(
    "args, match",
    [((0, 0), "local_world_size"), ((2, 2), r"local_rank must be an int in \[0, 2\)"), ((2, -1), "local_rank"),
     ((2, 0, "mpi"), "backend must be")],
)
def test_choose_backend_rejects_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        choose_backend(*args)


@pytest.mark.parametrize(
    "gpus, processes, backend, note",
    [
        (1, 2, "gloo", "2 processes but 1 GPU: using gloo on the CPU"),
        (0, 2, "gloo", "2 processes, no GPU: using gloo on the CPU"),
        (2, 2, "nccl", "2 processes, 2 GPUs: using nccl, one GPU per process"),
        (1, 1, "nccl", "1 process, 1 GPU: using nccl, one GPU per process"),
        (2, 2, "gloo", "2 processes, 2 GPUs: using gloo on the CPU, as asked"),
    ],
)
def test_backend_note_says_the_choice_in_one_line(monkeypatch, gpus, processes, backend, note):
    fake_gpus(monkeypatch, gpus)
    assert backend_note(processes, backend) == note


class _StopBeforeJoining(Exception):
    pass


def test_init_distributed_on_a_one_gpu_runtime_uses_gloo_on_the_cpu(monkeypatch):
    """Rank 1 of 2 on one GPU: no set_device(1) ("invalid device ordinal"), gloo on the CPU."""
    fake_gpus(monkeypatch, 1)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}.items():
        monkeypatch.setenv(name, value)
    set_devices, backends = [], []
    monkeypatch.setattr(torch.cuda, "set_device", set_devices.append)

    def fake_init_process_group(backend):
        backends.append(backend)
        raise _StopBeforeJoining  # no rendezvous in a unit test

    monkeypatch.setattr(distributed.dist, "init_process_group", fake_init_process_group)
    with pytest.raises(_StopBeforeJoining):
        init_distributed()
    assert backends == ["gloo"] and set_devices == []

