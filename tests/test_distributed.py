import os

import pytest
import torch

import utils
from utils.distributed import init_distributed, launch


def test_two_process_training_on_the_cpu(tmp_path):
    checkpoint = tmp_path / "ddp.pt"
    script = tmp_path / "ddp_job.py"  # what the notebook writes: a script that imports utils.distributed
    script.write_text("from utils.distributed import main\n\nif __name__ == '__main__':\n    main()\n")
    result = launch(
        [str(script), "--epochs", "1", "--train-size", "3000", "--batch-size", "64",
         "--checkpoint", str(checkpoint), "--backend", "gloo"],
        nproc_per_node=2, timeout=120,
    )
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
