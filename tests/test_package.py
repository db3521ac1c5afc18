"""The `utils` package itself: a lazy, explicit public API."""

import subprocess
import sys
from pathlib import Path

import pytest

import utils

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_course_slug_does_not_load_torch():
    code = "import sys; import utils.course; print('torch' in sys.modules, 'utils.training' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["False", "False"], "tools that only need the slug must not pay for torch"


def test_every_public_name_resolves_and_the_flat_api_stays_small():
    for name in utils.__all__:
        assert getattr(utils, name) is not None, name
    assert len(utils.__all__) <= 80, "weeks 1-3's names are flat; later weeks reach their task module by name"


def test_submodules_are_reached_by_name_and_nothing_else_leaks():
    from utils import segmentation as seg

    assert utils.detection.nms.__module__ == "utils.detection" and seg.mean_iou is utils.segmentation.mean_iou
    assert utils.models.SmallUNet.__module__ == "utils.models.segmenters"
    assert not {"torch", "importlib", "Any", "annotations"} & set(dir(utils)), "no helper names leak into the API"
    assert set(utils.__all__) <= set(dir(utils))
    with pytest.raises(AttributeError, match="no attribute 'fitt'"):
        utils.fitt  # noqa: B018 - a typo gets a clear error
