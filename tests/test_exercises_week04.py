"""Week 4's coding exercises: the reference solutions pass, realistic wrong solutions fail with a reason."""

from __future__ import annotations

import pytest
import torch
import torchvision
from exercise_cells import solution_namespace

from utils.exercises import week04

SOLUTIONS = solution_namespace("week04_object_detection")


def _kept_by_class(boxes, scores, labels, threshold):
    """Per-class NMS without the final sort: the classes come one after the other."""
    keep = [(labels == c).nonzero()[:, 0][torchvision.ops.nms(boxes[labels == c], scores[labels == c], threshold)]
            for c in labels.unique()]
    return torch.cat(keep) if keep else torch.zeros(0, dtype=torch.int64)


def _ignores_labels(boxes, scores, labels, threshold):
    return torchvision.ops.nms(boxes, scores, threshold)


def _positions_inside_each_class(boxes, scores, labels, threshold):
    keep = [torchvision.ops.nms(boxes[labels == c], scores[labels == c], threshold) for c in labels.unique()]
    return torch.cat(keep) if keep else torch.zeros(0, dtype=torch.int64)


def _float_indices_when_empty(boxes, scores, labels, threshold):
    keep = _kept_by_class(boxes, scores, labels, threshold)
    return keep[torch.argsort(scores[keep], descending=True)] if len(keep) else torch.zeros(0)


def _edges(boxes):
    return boxes.unbind(dim=1)


def _no_swap(image, boxes):
    x1, y1, x2, y2 = _edges(boxes)
    return image.flip(-1), torch.stack([image.shape[-1] - x1, y1, image.shape[-1] - x2, y2], dim=1)


def _minus_one(image, boxes):
    x1, y1, x2, y2 = _edges(boxes)
    width = image.shape[-1]
    return image.flip(-1), torch.stack([width - 1 - x2, y1, width - 1 - x1, y2], dim=1)


def _uses_height(image, boxes):
    x1, y1, x2, y2 = _edges(boxes)
    return image.flip(-1), torch.stack([image.shape[-2] - x2, y1, image.shape[-2] - x1, y2], dim=1)


def _flips_axis_2(image, boxes):  # right for (C, H, W), upside down for a batch (N, C, H, W)
    x1, y1, x2, y2 = _edges(boxes)
    return image.flip(2), torch.stack([image.shape[-1] - x2, y1, image.shape[-1] - x1, y2], dim=1)


def _boxes_forgotten(image, boxes):
    return image.flip(-1), boxes


def test_the_reference_solutions_pass():
    assert week04.check_nms_per_class(SOLUTIONS["nms_per_class"])
    assert week04.check_hflip_with_boxes(SOLUTIONS["hflip_with_boxes"])


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (_kept_by_class, "in the wrong order"),
        (_ignores_labels, "did a box of another class suppress it?"),
        (_positions_inside_each_class, "map them back to the original boxes"),
        (_float_indices_when_empty, "should be int64"),
    ],
)
def test_a_wrong_nms_fails_with_the_reason(wrong, fragment, capsys):
    result = week04.check_nms_per_class(wrong)
    assert result.status == "failed" and fragment in result.message, result.message
    assert "Hint:" in capsys.readouterr().out


def test_keeping_a_box_that_should_go_names_the_box_that_suppresses_it():
    def keeps_too_much(boxes, scores, labels, threshold):
        return week04.torchvision.ops.batched_nms(boxes, scores, labels, min(1.0, threshold + 0.3))

    result = week04.check_nms_per_class(keeps_too_much)
    assert result.status == "failed" and "of the same class has a higher score and overlaps it" in result.message


@pytest.mark.parametrize(
    ("wrong", "fragment"),
    [
        (_no_swap, "x2 < x1"),
        (_minus_one, "not W - 1 - x"),
        (_uses_height, "with the image's height"),
        (_flips_axis_2, "upside down"),
        (_boxes_forgotten, "the flipped boxes"),
    ],
)
def test_a_wrong_flip_fails_with_the_reason(wrong, fragment):
    result = week04.check_hflip_with_boxes(wrong)
    assert result.status == "failed" and fragment in result.message, result.message


@pytest.mark.parametrize("checker", [week04.check_nms_per_class, week04.check_hflip_with_boxes])
def test_a_stub_is_not_done_yet(checker):
    def stub(*args):
        raise NotImplementedError("write it")

    assert checker(stub).status == "not implemented"
