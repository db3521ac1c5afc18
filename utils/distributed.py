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
``nccl`` when every process of a machine has its own CUDA GPU, and ``gloo`` on the CPU otherwise
(:func:`choose_backend`; rank 0 says which in one line). Only rank 0 evaluates and saves the checkpoint.
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
from torch.utils.data import TensorDataset
from torch.utils.data.distributed import DistributedSampler

from utils.data import load_mnist, to_float_images
from utils.loaders import TensorLoader
from utils.models.classifiers import LeNet5
from utils.training import evaluate, save_checkpoint, train_one_epoch

NOTE_PREFIX = "[utils.distributed] "
"""Start of the lines rank 0 prints for the user; :func:`launch` passes them on."""

BACKENDS = ("gloo", "nccl")


def _gpu_count() -> int:
    """Number of CUDA GPUs this process can use (0 without CUDA)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _processes(n: int) -> str:
    return f"{n} process{'es' if n != 1 else ''}"


def _gpus(n: int) -> str:
    return "no GPU" if n == 0 else f"{n} GPU{'s' if n != 1 else ''}"


def choose_backend(local_world_size: int, local_rank: int = 0, backend: str | None = None) -> tuple[str, torch.device]:
    """The backend and the device of process ``local_rank`` out of ``local_world_size`` on this machine.

    ``nccl`` on ``cuda:{local_rank}`` only when every process has its own GPU
    (``device_count() >= local_world_size``); otherwise ``gloo`` on the CPU, so two processes on a
    one-GPU runtime do not both ask for GPU 1. An explicit ``backend="nccl"`` without enough GPUs
    raises ``ValueError``; ``backend="gloo"`` always runs on the CPU.

    >>> choose_backend(2, local_rank=1)   # on a machine with 2 GPUs
    ('nccl', device(type='cuda', index=1))
    """
    if not isinstance(local_world_size, int) or local_world_size < 1:
        raise ValueError(f"local_world_size must be a positive int, got {local_world_size!r}")
    if not isinstance(local_rank, int) or not 0 <= local_rank < local_world_size:
        raise ValueError(f"local_rank must be an int in [0, {local_world_size}), got {local_rank!r}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be 'gloo', 'nccl' or None, got {backend!r}")
    gpus = _gpu_count()
    backend = backend or ("nccl" if gpus >= local_world_size else "gloo")
    if backend == "gloo":
        return "gloo", torch.device("cpu")
    if gpus < local_world_size:
        raise ValueError(
            f"backend 'nccl' needs one GPU per process: {_processes(local_world_size)} but {_gpus(gpus)}; "
            "pass backend='gloo' (or None, to choose automatically)"
        )
    return "nccl", torch.device("cuda", local_rank)


def backend_note(local_world_size: int, backend: str) -> str:
    """One line saying which backend runs and why, e.g. ``"2 processes but 1 GPU: using gloo on the CPU"``."""
    gpus = _gpu_count()
    if backend == "nccl":
        return f"{_processes(local_world_size)}, {_gpus(gpus)}: using nccl, one GPU per process"
    if gpus == 0:
        return f"{_processes(local_world_size)}, {_gpus(gpus)}: using gloo on the CPU"
    if gpus < local_world_size:
        return f"{_processes(local_world_size)} but {_gpus(gpus)}: using gloo on the CPU"
    return f"{_processes(local_world_size)}, {_gpus(gpus)}: using gloo on the CPU, as asked"


def init_distributed(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group torchrun set up; return ``(rank, world_size, device)``.

    The backend and device come from :func:`choose_backend` with torchrun's ``LOCAL_WORLD_SIZE``
    (the processes on this machine) and ``LOCAL_RANK``; rank 0 prints one line saying which.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        raise RuntimeError(
            "RANK and WORLD_SIZE are not set: start this with `python -m torch.distributed.run "
            "--nproc_per_node=N ...` (torchrun), not with plain python"
        )
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    backend, device = choose_backend(local_world_size, local_rank, backend)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    if dist.get_rank() == 0:
        print(NOTE_PREFIX + backend_note(local_world_size, backend), flush=True)
    return dist.get_rank(), dist.get_world_size(), device


def shard_loader(
    images: torch.Tensor, labels: torch.Tensor, sampler: DistributedSampler, batch_size: int
) -> TensorLoader:
    """This process's share of the data for the sampler's current epoch, as a :class:`TensorLoader`.

    ``DistributedSampler`` shuffles all indices with the same seed in every process and gives
    process ``r`` every ``world_size``-th one starting at ``r``: the shards do not overlap.
    Call ``sampler.set_epoch(epoch)`` first for a new order each epoch.
    """
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} and {len(labels)}")
    index = torch.tensor(list(sampler), dtype=torch.long, device=images.device)
    return TensorLoader(images[index], labels[index.to(labels.device)], batch_size=batch_size)


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
        sampler: DistributedSampler = DistributedSampler(
            TensorDataset(images, labels), num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
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
            test = evaluate(
                model, TensorLoader(to_float_images(test_images), test_labels, batch_size=1000), device=device
            )
            result = {
                "world_size": world_size,
                "test_accuracy": test["accuracy"],
                "train_seconds": round(seconds, 1),
                "steps_per_epoch": len(loader),
                "images_per_process": len(loader.inputs),
            }
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
    imports. Rank 0's one-line notes (which backend runs) are printed here; a failed run raises
    ``RuntimeError`` with the end of its output.
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
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc_per_node}",
        *target,
    ]
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    lines = completed.stdout.splitlines()
    results = [line for line in lines if line.startswith("RESULT ")]
    if completed.returncode != 0 or not results:
        tail = (completed.stdout + completed.stderr)[-3000:]
        raise RuntimeError(f"the distributed run failed (exit status {completed.returncode}):\n{tail}")
    for line in lines:
        if line.startswith(NOTE_PREFIX):
            print(line.removeprefix(NOTE_PREFIX))
    return json.loads(results[-1].removeprefix("RESULT "))


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
