"""Shared fixtures: tiny tensors and models so the unit tests run in seconds."""

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@pytest.fixture
def tiny_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """256 real MNIST test digits as float images (N, 1, 28, 28) and their labels."""
    import utils

    images, labels = utils.load_mnist("test")
    return utils.to_float_images(images[:256]), labels[:256]


@pytest.fixture
def results_in_tmp(tmp_path, monkeypatch) -> Path:
    """Send utils.record's output to a temporary folder."""
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    return tmp_path
