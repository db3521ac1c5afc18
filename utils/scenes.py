"""Deterministic scenes of real MNIST digits on a larger canvas, for detection and segmentation.

Each scene holds 1 to 5 real digits at random scales and positions (moderate overlap allowed), with
optional clutter (unlabelled fragments of other digits) and noise. For every scene we know the
boxes (``xyxy`` pixels, tight around each digit's strokes), the labels (0-9), a semantic mask
(0 = background, ``1 + digit`` where a digit's stroke is) and an instance mask (0 = background,
``k`` for the k-th digit). Training scenes use digits from the MNIST training split only, test
scenes from the test split only; validation scenes come from the training split with
``exclude_sources`` set to the training scenes' digits, so that no digit of them was trained on.
The same arguments and seed give the same scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from utils.data import load_mnist
from utils.detection import box_iou

NUM_SEMANTIC_CLASSES = 11
"""Background plus the ten digits."""

STROKE_THRESHOLD = 0.5
"""A resized digit's pixel belongs to its stroke (its mask) above this intensity."""


@dataclass
class Scenes:
    """A batch of scenes. ``boxes``/``labels``/``source_indices`` hold one tensor per scene."""

    images: torch.Tensor  # (N, 1, H, W) float32 in [0, 1]
    boxes: list[torch.Tensor]  # each (K, 4) float32, xyxy in pixels
    labels: list[torch.Tensor]  # each (K,) int64 in 0..9
    semantic_masks: torch.Tensor  # (N, H, W) int64 in 0..10
    instance_masks: torch.Tensor  # (N, H, W) int64 in 0..K
    source_indices: list[torch.Tensor]  # each (K,) int64: index of each digit in its MNIST split
    split: str

    def __len__(self) -> int:
        return len(self.images)

    def target(self, index: int) -> dict[str, torch.Tensor]:
        """Scene ``index`` as a torchvision detection target: ``boxes``, ``labels``, ``masks`` (K, H, W)."""
        k = len(self.labels[index])
        masks = self.instance_masks[index].unsqueeze(0) == torch.arange(
            1, k + 1, device=self.instance_masks.device
        ).view(k, 1, 1)
        return {"boxes": self.boxes[index], "labels": self.labels[index], "masks": masks.to(torch.uint8)}


def _check_arguments(
    n: int, split: str, canvas: int, min_digits: int, max_digits: int, min_size: int, max_size: int
) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not 1 <= min_digits <= max_digits:
        raise ValueError(f"need 1 <= min_digits <= max_digits, got {min_digits} and {max_digits}")
    if not 8 <= min_size <= max_size <= canvas:
        raise ValueError(f"need 8 <= min_size <= max_size <= canvas, got {min_size}, {max_size}, {canvas}")


def _allowed_sources(split_size: int, exclude_sources: torch.Tensor | Sequence[torch.Tensor] | None) -> torch.Tensor:
    """The MNIST indices a scene may draw from: all of the split, less ``exclude_sources``."""
    pool = torch.arange(split_size)
    if exclude_sources is None:
        return pool
    if isinstance(exclude_sources, torch.Tensor):
        excluded = exclude_sources.reshape(-1)
    else:
        parts = [torch.as_tensor(part).reshape(-1) for part in exclude_sources]
        excluded = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.int64)
    if excluded.is_floating_point() or excluded.is_complex():
        raise ValueError(f"exclude_sources must hold integer MNIST indices, got dtype {excluded.dtype}")
    excluded = excluded.long()
    if len(excluded) and (excluded.min() < 0 or excluded.max() >= split_size):
        raise ValueError(
            f"exclude_sources must lie in 0..{split_size - 1} (the split's indices), "
            f"got {int(excluded.min())}..{int(excluded.max())}"
        )
    keep = torch.ones(split_size, dtype=torch.bool)
    keep[excluded] = False
    if not keep.any():
        raise ValueError("exclude_sources leaves no digit of the split to draw from")
    return pool[keep]


def make_scenes(
    n: int,
    split: str = "train",
    canvas: int = 96,
    min_digits: int = 1,
    max_digits: int = 5,
    min_size: int = 14,
    max_size: int = 40,
    max_overlap: float = 0.2,
    clutter: int = 2,
    noise: float = 0.03,
    seed: int = 0,
    exclude_sources: torch.Tensor | Sequence[torch.Tensor] | None = None,
) -> Scenes:
    """Make ``n`` scenes of real MNIST digits from ``split`` on a ``canvas`` x ``canvas`` image.

    Args:
        min_size, max_size: side of each pasted digit in pixels (a 28x28 digit resized).
        max_overlap: largest IoU allowed between the squares of two digits in one scene.
        clutter: number of unlabelled 6x6 fragments of other digits per scene (background).
        noise: standard deviation of Gaussian pixel noise.
        exclude_sources: indices into the MNIST ``split`` (one tensor, or a list such as another
            ``Scenes``' ``source_indices``) that neither the digits nor the clutter of these scenes
            may use: validation scenes disjoint from the training scenes' digits. ``None`` (the
            default) draws from the whole split.

    >>> train = make_scenes(1000, "train", seed=0)
    >>> train.images.shape, train.boxes[0], train.labels[0]
    >>> val = make_scenes(200, "train", seed=5, exclude_sources=train.source_indices)
    """
    _check_arguments(n, split, canvas, min_digits, max_digits, min_size, max_size)
    digits, digit_labels = load_mnist(split)
    pool = _allowed_sources(len(digits), exclude_sources)
    generator = torch.Generator().manual_seed(seed)
    randint = lambda low, high: int(torch.randint(low, high + 1, (1,), generator=generator))  # noqa: E731

    images = torch.zeros(n, 1, canvas, canvas)
    semantic = torch.zeros(n, canvas, canvas, dtype=torch.int64)
    instance = torch.zeros(n, canvas, canvas, dtype=torch.int64)
    all_boxes, all_labels, all_sources = [], [], []
    for scene in range(n):
        squares: list[torch.Tensor] = []
        boxes: list[torch.Tensor] = []
        labels: list[int] = []
        sources: list[int] = []
        for _ in range(randint(min_digits, max_digits)):
            for _attempt in range(20):  # find a place that overlaps little with the digits already placed
                size = randint(min_size, max_size)
                x, y = randint(0, canvas - size), randint(0, canvas - size)
                square = torch.tensor([x, y, x + size, y + size], dtype=torch.float32)
                if squares == [] or box_iou(square[None], torch.stack(squares)).max() <= max_overlap:
                    break
            else:
                continue  # no room for another digit
            source = int(pool[randint(0, len(pool) - 1)])
            digit = F.interpolate(
                digits[source].float().div(255).view(1, 1, 28, 28),
                size=(size, size),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )[0, 0].clamp(0, 1)
            stroke = digit > STROKE_THRESHOLD
            if not stroke.any():
                continue
            region = images[scene, 0, y : y + size, x : x + size]
            torch.maximum(region, digit, out=region)
            semantic[scene, y : y + size, x : x + size][stroke] = int(digit_labels[source]) + 1
            instance[scene, y : y + size, x : x + size][stroke] = len(labels) + 1
            rows, cols = stroke.any(dim=1).nonzero(), stroke.any(dim=0).nonzero()
            boxes.append(
                torch.tensor(
                    [x + cols.min(), y + rows.min(), x + cols.max() + 1, y + rows.max() + 1], dtype=torch.float32
                )
            )
            squares.append(square)
            labels.append(int(digit_labels[source]))
            sources.append(source)
        for _ in range(clutter):  # unlabelled fragments: the detector must learn to ignore them
            fragment = digits[int(pool[randint(0, len(pool) - 1)])].float().div(255)
            fy, fx = randint(4, 18), randint(4, 18)
            piece = fragment[fy : fy + 6, fx : fx + 6] * 0.6
            y, x = randint(0, canvas - 6), randint(0, canvas - 6)
            free = instance[scene, y : y + 6, x : x + 6] == 0
            region = images[scene, 0, y : y + 6, x : x + 6]
            region[free] = torch.maximum(region[free], piece[free])
        all_boxes.append(torch.stack(boxes) if boxes else torch.zeros(0, 4))
        all_labels.append(torch.tensor(labels, dtype=torch.int64))
        all_sources.append(torch.tensor(sources, dtype=torch.int64))
    if noise > 0:
        images = (images + noise * torch.randn(images.shape, generator=generator)).clamp_(0, 1)
    return Scenes(images, all_boxes, all_labels, semantic, instance, all_sources, split)
