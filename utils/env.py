"""The environment a notebook runs in: fast mode, seeds, device and a one-line report."""

from __future__ import annotations

import os
import platform
import random
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

FAST: bool = os.environ.get("COURSE_FAST", "0").strip() == "1"
"""True when ``COURSE_FAST=1``: the test suite's switch for fewer epochs and less data."""


def pick(full: T, fast: T) -> T:
    """Return ``fast`` in fast mode (``COURSE_FAST=1``) and ``full`` otherwise.

    >>> epochs = pick(full=10, fast=1)
    """
    return fast if FAST else full


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) so a run can be repeated.

    DataLoader workers are seeded from torch's seed through :func:`seed_worker`.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for a ``DataLoader``: give each worker its own NumPy/random seed.

    PyTorch already seeds torch in each worker from the loader's generator; this derives the other
    two libraries' seeds from that, as the PyTorch reproducibility notes recommend.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


def get_device() -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model lives on: that of its first parameter or buffer (the CPU if it has none).

    The one answer to "where do I put the inputs?": every function that runs a model moves its
    inputs there, so the same code runs on the CPU and on a GPU.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    for tensor in [*model.parameters(), *model.buffers()]:
        return tensor.device
    return torch.device("cpu")


def environment_report() -> str:
    """One line for the top of a notebook: versions, device, threads and whether fast mode is on."""
    import torchvision

    device = get_device()
    device_name = torch.cuda.get_device_name(0) if device.type == "cuda" else device.type
    mode = "FAST (COURSE_FAST=1)" if FAST else "full"
    return (
        f"Python {platform.python_version()} | torch {torch.__version__} | "
        f"torchvision {torchvision.__version__} | device: {device_name} | "
        f"CPU threads: {torch.get_num_threads()} | mode: {mode}"
    )
