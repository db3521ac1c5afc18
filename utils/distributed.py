"""Training on several processes with ``DistributedDataParallel`` (weeks 8-9).

Run it with PyTorch's launcher (``torchrun`` is the same program) on a two-line script
``ddp_train.py`` holding ``from utils.distributed import main; main()``, with the course folder on
``PYTHONPATH`` (:func:`launch` does all this)::

    OMP_NUM_THREADS=1 python -m torch.distributed.run --standalone --nproc_per_node=2 \\
        ddp_train.py --epochs 2 --checkpoint checkpoints/ddp.pt

The launcher starts one process per ``nproc_per_node`` and gives each its ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE`` and the address of the rendezvous in environment variables. Each process loads the
data, keeps the share of it that ``DistributedSampler`` gives it, and trains a copy of the model
with the course's own :func:`utils.training.train_one_epoch`; ``DistributedDataParallel`` averages
the gradients of the copies after every backward pass, so they stay identical. The backend is
``gloo`` on CPUs and ``nccl`` on CUDA GPUs. Only rank 0 evaluates and saves the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from utils.data import load_mnist, to_float_images
from utils.loaders import TensorLoader
from utils.models import LeNet5
from utils.training import evaluate, save_checkpoint, train_one_epoch


def init_distributed(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group torchrun set up; return ``(rank, world_size, device)``.

    ``backend`` defaults to ``"nccl"`` when CUDA is available (one GPU per process, chosen by
    ``LOCAL_RANK``) and ``"gloo"`` otherwise.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError(
            "RANK and WORLD_SIZE are not set: start this with `python -m torch.distributed.run "
            "--nproc_per_node=N ...` (torchrun), not with plain python"
        )
    backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo' or 'nccl', got {backend!r}")
    if backend == "nccl":
        local_rank = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), device


def shard_loader(images: torch.Tensor, labels: torch.Tensor, sampler: DistributedSampler, batch_size: int) -> TensorLoader:
    """This process's share of the data for the sampler's current epoch, as a :class:`TensorLoader`.

    ``DistributedSampler`` shuffles all indices with the same seed in every process and gives
    process ``r`` every ``world_size``-th one starting at ``r``: the shards do not overlap.
    Call ``sampler.set_epoch(epoch)`` first for a new order each epoch.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} and {len(labels)}")
    index = torch.tensor(list(sampler), dtype=torch.long)
    return TensorLoader(images[index], labels[index], batch_size=batch_size)


def train_ddp(
    epochs: int = 2,
    global_batch_size: int = 128,
    lr: float = 1e-3,
    train_size: int | None = None,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    backend: str | None = None,
) -> dict[str, float] | None:
    """Train LeNet-5 on MNIST in every process of the group; rank 0 returns (and saves) the result.

    Each process takes ``global_batch_size / world_size`` images per step, so one step sees the
    same number of images whatever the number of processes. Returns ``None`` on the other ranks.
    """
    rank, world_size, device = init_distributed(backend)
    try:
        if global_batch_size % world_size:
            raise ValueError(f"global_batch_size {global_batch_size} is not divisible by {world_size} processes")
        torch.manual_seed(seed)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
        images, labels = load_mnist("train")
        if train_size is not None:
            images, labels = images[:train_size], labels[:train_size]
        images = to_float_images(images)
        model = LeNet5().to(device)
        ddp_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        optimizer = torch.optim.Adam(ddp_model.parameters(), lr=lr)
        sampler = DistributedSampler(range(len(images)), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        history = []
        start = time.perf_counter()
        for epoch in range(1, epochs + 1):
            sampler.set_epoch(epoch)
            loader = shard_loader(images, labels, sampler, global_batch_size // world_size)
            metrics = train_one_epoch(ddp_model, loader, optimizer, nn.functional.cross_entropy, device, epoch)
            history.append({"epoch": epoch, "rank0_train_loss": metrics["loss"]})
        seconds = time.perf_counter() - start
        result = None
        if rank == 0:
            test_images, test_labels = load_mnist("test")
            test = evaluate(model, TensorLoader(to_float_images(test_images), test_labels, batch_size=1000), device=device)
            result = {"world_size": world_size, "test_accuracy": test["accuracy"], "train_seconds": round(seconds, 1),
                      "steps_per_epoch": len(loader), "images_per_process": len(loader.inputs)}
            if checkpoint is not None:
                save_checkpoint(checkpoint, model=model.state_dict(), history=history, **result)
        dist.barrier()  # the others wait until rank 0 has saved
        return result
    finally:
        dist.destroy_process_group()


def launch(
    target: list[str],
    nproc_per_node: int = 2,
    cwd: str | Path | None = None,
    threads_per_process: int = 1,
    timeout: float | None = 600,
) -> dict[str, float]:
    """Start ``python -m torch.distributed.run --standalone --nproc_per_node=N <target>`` and return rank 0's result.

    ``target`` is what torchrun runs, e.g. ``["ddp_train.py", "--epochs", "2"]`` or
    ``["-m", "some.module", "--epochs", "2"]``. It uses this Python (``sys.executable``, so
    the same virtual environment), sets ``OMP_NUM_THREADS`` for every process (torchrun warns when it
    has to choose) and puts ``cwd`` (default: the course folder) on ``PYTHONPATH`` so ``utils``
    imports. A failed run raises ``RuntimeError`` with the end of its output.
    """
    import subprocess
    import sys

    if not isinstance(nproc_per_node, int) or nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be a positive int, got {nproc_per_node!r}")
    if not isinstance(target, list) or not target or not all(isinstance(t, str) for t in target):
        raise TypeError(f"target must be a non-empty list of strings, got {target!r}")
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent.parent
    env = dict(os.environ, OMP_NUM_THREADS=str(threads_per_process))
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(cwd), env.get("PYTHONPATH", "")] if p)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc_per_node}", *target]
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stdout + completed.stderr)[-3000:]
        raise RuntimeError(f"the distributed run failed (exit status {completed.returncode}):\n{tail}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main(argv: list[str] | None = None) -> None:
    """Command line of the script torchrun runs: ``--epochs``, ``--batch-size``, ``--lr``, ... (``--help``)."""
    parser = argparse.ArgumentParser(description="Train LeNet-5 on MNIST with DistributedDataParallel.")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch size, split between the processes")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training digits")
    parser.add_argument("--checkpoint", default=None, help="where rank 0 saves the model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=["gloo", "nccl"], default=None)
    args = parser.parse_args(argv)
    result = train_ddp(args.epochs, args.batch_size, args.lr, args.train_size, args.checkpoint, args.seed, args.backend)
    if result is not None:
        print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
