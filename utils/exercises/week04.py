"""Week 4 (object detection): checkers for per-class NMS and a horizontal flip that keeps boxes right.

References: ``torchvision.ops.batched_nms`` and ``torchvision.transforms.v2.functional.horizontal_flip``
(on a ``tv_tensors.BoundingBoxes``); IoUs in the messages come from ``utils.detection.box_iou``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torchvision
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from utils.detection import box_iou
from utils.exercises import Case, CheckFailed, CheckResult, call, expect_close, report

# ------------------------------------------------------------------------------------------ per-class NMS

NMS_HINT = (
    "loop over labels.unique(); for each class take its boxes (index = (labels == c).nonzero()[:, 0]), "
    "run torchvision.ops.nms on them, map the kept positions back with index[kept], concatenate the classes, "
    "then sort the kept indices by decreasing score."
)


def _random_detections(n: int, classes: int, seed: int, size: float = 64.0) -> tuple[torch.Tensor, ...]:
    """n boxes crowded into a small image (so many overlap), distinct random scores, random labels."""
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(n, 2, generator=generator) * size * 0.6
    boxes = torch.cat([corner, corner + torch.rand(n, 2, generator=generator) * size * 0.4 + 4], dim=1)
    scores = torch.randperm(n, generator=generator).double() / n + 0.01  # distinct: no ties to order
    labels = torch.randint(0, classes, (n,), generator=generator)
    return boxes, scores.float(), labels


def nms_cases() -> list[Case]:
    """Random crowded detections and the edge cases of per-class NMS."""
    boxes, scores, labels = _random_detections(60, 3, seed=0)
    sparse_boxes, sparse_scores, sparse_labels = _random_detections(30, 3, seed=2)
    wide_boxes, wide_scores, wide_labels = _random_detections(25, 2, seed=3)
    twins = torch.tensor([[10.0, 10, 30, 30], [10, 10, 30, 30], [11, 10, 31, 30], [50, 50, 60, 60]])
    return [
        Case("60 crowded boxes of 3 classes, IoU threshold 0.5", (boxes, scores, labels, 0.5)),
        Case("the same boxes at IoU threshold 0.3", (boxes, scores, labels, 0.3)),
        Case("40 boxes of one class only (plain NMS)", (*_random_detections(40, 1, seed=1), 0.5)),
        Case(
            "labels 2, 7 and 9 (not 0, 1, 2)",
            (sparse_boxes, sparse_scores, torch.tensor([2, 7, 9])[sparse_labels], 0.5),
        ),
        Case(
            "two identical boxes of different classes (both must stay) and a near-copy of the first",
            (twins, torch.tensor([0.9, 0.8, 0.7, 0.6]), torch.tensor([0, 1, 0, 1]), 0.5),
        ),
        Case("one box", (torch.tensor([[1.0, 2, 5, 9]]), torch.tensor([0.3]), torch.tensor([4]), 0.5)),
        Case("no boxes at all", (torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5)),
        Case("float64 boxes and scores", (wide_boxes.double(), wide_scores.double(), wide_labels, 0.5)),
    ]


def _explain_nms(answer: torch.Tensor, expected: torch.Tensor, case: Case) -> None:
    """Raise CheckFailed with the first difference between the kept indices and the reference's."""
    boxes, scores, labels, threshold = case.args
    if not isinstance(answer, torch.Tensor):
        raise CheckFailed(f"on {case.description}: return a tensor of indices, got {type(answer).__name__}")
    if answer.dtype != torch.int64:
        raise CheckFailed(f"on {case.description}: the indices should be int64 (torch.long), yours are {answer.dtype}")
    if answer.ndim != 1:
        raise CheckFailed(
            f"on {case.description}: return a 1-D tensor of indices, yours has shape {tuple(answer.shape)}"
        )
    if torch.equal(answer, expected):
        return
    mine, wanted = set(answer.tolist()), set(expected.tolist())
    if mine == wanted and len(answer) == len(expected):
        raise CheckFailed(
            f"on {case.description}, you keep the right boxes but in the wrong order: return them by decreasing "
            "score over all classes (not class by class)"
        )
    if len(answer) != len(mine):
        raise CheckFailed(
            f"on {case.description}, some indices appear twice in your answer (are they positions \
inside one class's subset? map them back to the original boxes with index[kept])"
        )
    for i in expected.tolist():
        if i not in mine:
            raise CheckFailed(
                f"on {case.description}, you dropped box {i} (class {int(labels[i])}, score {float(scores[i]):.2f}), "
                "which no higher-scoring box of its own class overlaps by more than the threshold: did a box of "
                "another class suppress it?"
            )
    extra = next(i for i in answer.tolist() if i not in wanted)
    same = (labels == labels[extra]) & (scores > scores[extra])
    kept_same = [j for j in expected.tolist() if bool(same[j])]
    if kept_same:
        ious = box_iou(boxes[extra][None].float(), boxes[kept_same].float())[0]
        j = kept_same[int(ious.argmax())]
        raise CheckFailed(
            f"on {case.description}, you kept box {extra}, but box {j} of the same class has a higher score and "
            f"overlaps it with IoU {float(ious.max()):.2f} > {threshold}: it should be suppressed"
        )
    raise CheckFailed(f"on {case.description}, you kept box {extra}, which the reference suppresses")


def check_nms_per_class(student: Callable[..., Any]) -> CheckResult:
    """Compare ``student(boxes, scores, labels, iou_threshold)`` with ``torchvision.ops.batched_nms``."""
    cases = nms_cases()

    def outcome() -> str:
        for case in cases:
            expected = torchvision.ops.batched_nms(*case.args)
            _explain_nms(call(student, case), expected, case)
        return f"the kept indices equal torchvision.ops.batched_nms on all {len(cases)} cases (random crowded boxes, \
one class, labels 2/7/9, identical boxes of two classes, one box, no boxes, float64)."

    return report("Per-class NMS", outcome, NMS_HINT)


# ----------------------------------------------------------------------------------- horizontal flip + boxes

FLIP_HINT = (
    "flip the image along its last axis (x.flip(-1)); with W = image.shape[-1], a box (x1, y1, x2, y2) becomes "
    "(W - x2, y1, W - x1, y2): the old right edge is the new left edge, and y does not change."
)


def reference_hflip(image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's v2 horizontal flip of an image and of its xyxy boxes (as plain tensors)."""
    canvas = (int(image.shape[-2]), int(image.shape[-1]))
    flipped = TF.horizontal_flip(tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas))
    return TF.horizontal_flip(image), flipped.as_subclass(torch.Tensor) + 0.0  # + 0.0: -0.0 becomes 0.0


def flip_cases() -> list[Case]:
    """A random image with boxes, a non-square image, a batch of images, edge-touching boxes, no boxes."""
    generator = torch.Generator().manual_seed(4)
    square = torch.rand(1, 32, 32, generator=generator)
    wide = torch.rand(3, 20, 48, generator=generator)
    batch = torch.rand(2, 1, 16, 24, generator=generator)
    boxes = torch.tensor([[2.0, 3, 10, 12], [15, 1, 30, 9], [0, 0, 32, 32]])
    return [
        Case("a 32x32 image with 3 boxes", (square, boxes)),
        Case(
            "a 20x48 colour image (W != H)",
            (wide, torch.tensor([[0.0, 2, 5, 10], [40, 5, 48, 19], [10.5, 3, 20.25, 7]])),
        ),
        Case("a batch of two 16x24 images (N, C, H, W)", (batch, torch.tensor([[1.0, 1, 7, 15], [12, 0, 24, 4]]))),
        Case("an image with no boxes", (square, torch.zeros(0, 4))),
    ]


def _explain_flip(answer: Any, expected: tuple[torch.Tensor, torch.Tensor], case: Case) -> None:
    image, boxes = case.args
    if not isinstance(answer, tuple) or len(answer) != 2:
        raise CheckFailed(f"on {case.description}: return a pair (flipped image, flipped boxes)")
    new_image, new_boxes = answer
    if isinstance(new_image, torch.Tensor) and new_image.shape == image.shape:
        if torch.equal(new_image, image.flip(-2)):
            raise CheckFailed(f"on {case.description}, your image is flipped upside down: flip the last axis (width)")
        if torch.equal(new_image, image):
            raise CheckFailed(f"on {case.description}, your image is not flipped")
    expect_close(new_image, expected[0], f"on {case.description}, the flipped image")
    if isinstance(new_boxes, torch.Tensor) and new_boxes.shape == boxes.shape and len(boxes):
        width, height = image.shape[-1], image.shape[-2]
        if bool((new_boxes[:, 2] < new_boxes[:, 0]).any()):
            raise CheckFailed(
                f"on {case.description}, some boxes have x2 < x1: after the flip the left edge is W - (old x2)"
            )
        if torch.allclose(new_boxes[:, [0, 2]], expected[1][:, [0, 2]] - 1):
            raise CheckFailed(
                f"on {case.description}, every x is 1 pixel too small: box coordinates are pixel edges (0 to W), "
                "so a flip maps x to W - x, not W - 1 - x"
            )
        if height != width and torch.allclose(
            new_boxes, expected[1] + torch.tensor([height - width, 0, height - width, 0])
        ):
            raise CheckFailed(f"on {case.description}, you flipped with the image's height; use its width")
        if not torch.allclose(new_boxes[:, [1, 3]], boxes[:, [1, 3]]):
            raise CheckFailed(f"on {case.description}, your y coordinates changed: a horizontal flip keeps them")
    expect_close(new_boxes, expected[1], f"on {case.description}, the flipped boxes")


def check_hflip_with_boxes(student: Callable[..., Any]) -> CheckResult:
    """Compare ``student(image, boxes)`` with torchvision's v2 horizontal flip of the image and the boxes."""
    cases = flip_cases()

    def outcome() -> str:
        for case in cases:
            _explain_flip(call(student, case), reference_hflip(*case.args), case)
        return (
            f"image and boxes equal torchvision.transforms.v2's horizontal flip on all {len(cases)} cases "
            "(square, 20x48, a batch, no boxes)."
        )

    return report("Horizontal flip with boxes", outcome, FLIP_HINT)
