"""Object detection, built from its parts: boxes, IoU, NMS, box encoding, a one-stage detector and its metrics.

Week 4 builds every piece from scratch and checks it against the library version (``torchvision.ops``,
``torchmetrics``); this module keeps the reusable form:

- boxes: :func:`check_boxes`, :func:`box_area`, :func:`box_iou`, :func:`nms`, :func:`batched_nms`
- encoding against anchors: :func:`encode_boxes`, :func:`decode_boxes` (Faster R-CNN's deltas)
- a CenterNet-style detector: :class:`TinyCenterNet`, :func:`pack_targets`, :func:`centernet_targets`,
  :func:`centernet_loss`, :func:`decode_centernet`, :func:`detect`
- metrics: :func:`mabo`, :func:`match_detections`, :func:`precision_recall`, :func:`average_precision`,
  :func:`mean_average_precision` (by hand), :func:`coco_map` (torchmetrics)
- drawing: :func:`draw_boxes`, :func:`show_detections`

Boxes are ``xyxy`` in pixels: ``(x1, y1, x2, y2)`` with ``x2 >= x1`` and ``y2 >= y1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Detections = list[dict[str, torch.Tensor]]
"""One dict per image: ``boxes`` (K, 4) xyxy, ``scores`` (K,), ``labels`` (K,) (the torchvision format)."""

COCO_IOU_THRESHOLDS: list[float] = torch.linspace(0.5, 0.95, 10).tolist()
"""IoU thresholds 0.50, 0.55, ..., 0.95 of COCO's mAP, built in float32 exactly as torchmetrics builds them."""
COCO_RECALL_LEVELS: torch.Tensor = torch.linspace(0.0, 1.0, 101).double()
"""The 101 recall levels 0, 0.01, ..., 1 of COCO's AP, in float32 as torchmetrics builds them (0.85 is
0.8500000238): a class whose recall reaches exactly 0.85 is sampled at the next detection, so by-hand and
library agree to the last digit."""

PREDICTION_COLOR = "#E69F00"  # Okabe-Ito orange: readable for colour-blind students, on black and white
TARGET_COLOR = "#56B4E9"  # Okabe-Ito sky blue


# ----------------------------------------------------------------------------------------------- boxes


def check_boxes(boxes: torch.Tensor, name: str = "boxes") -> torch.Tensor:
    """Return ``boxes`` if it is a float tensor ``(N, 4)`` of finite ``xyxy`` boxes with x2 >= x1, y2 >= y1."""
    if not isinstance(boxes, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 4), got {type(boxes).__name__}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) (x1, y1, x2, y2), got {tuple(boxes.shape)}")
    if not boxes.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got {boxes.dtype}")
    if not torch.isfinite(boxes).all():
        raise ValueError(f"{name} contains NaN or infinite coordinates")
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        first = int(bad.nonzero()[0])
        raise ValueError(
            f"{name} must be xyxy with x2 >= x1 and y2 >= y1; box {first} is {boxes[first].tolist()} "
            "(is it in xywh or cxcywh format? convert it with torchvision.ops.box_convert)"
        )
    return boxes


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area of each ``xyxy`` box, shape ``(N,)``."""
    boxes = check_boxes(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every box of ``boxes1`` (N, 4) with every box of ``boxes2`` (M, 4): (N, M).

    Vectorised with broadcasting: the intersection's corners are the max of the top-left corners
    and the min of the bottom-right corners; an empty intersection is clamped to zero width.
    """
    area1, area2 = box_area(check_boxes(boxes1, "boxes1")), box_area(check_boxes(boxes2, "boxes2"))
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = area1[:, None] + area2[None, :] - inter
    return inter / union


def _check_scores(scores: torch.Tensor, n: int, name: str = "scores") -> None:
    if not isinstance(scores, torch.Tensor) or scores.ndim != 1 or len(scores) != n:
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"{name} must be a 1-D tensor with one value per box ({n}), got {shape}")
    if scores.is_floating_point() and not torch.isfinite(scores).all():
        bad = int((~torch.isfinite(scores)).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s): did the model diverge?")


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Non-maximum suppression: indices of the boxes kept, by decreasing score (as ``torchvision.ops.nms``).

    Greedy: take the highest-scoring box left, keep it, drop every remaining box whose IoU with it
    is above ``iou_threshold``, repeat.
    """
    check_boxes(boxes)
    _check_scores(scores, len(boxes))
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
    order = torch.argsort(scores, descending=True, stable=True)
    ious = box_iou(boxes, boxes)
    keep = []
    alive = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    for i in order.tolist():
        if not alive[i]:
            continue
        keep.append(i)
        alive &= ious[i] <= iou_threshold
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class only (as ``torchvision.ops.batched_nms``): boxes of other classes never suppress.

    The trick: shift each class's boxes by its own large offset so boxes of different classes never overlap.
    """
    check_boxes(boxes)
    _check_scores(labels, len(boxes), "labels")
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64, device=boxes.device)
    offsets = labels.to(boxes) * (boxes.max() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


# ------------------------------------------------------------------------------------- anchor encoding

_LOG_CLIP = math.log(1000.0 / 16)  # torchvision's bbox_xform_clip: no box more than ~60x its anchor


def encode_boxes(
    boxes: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
) -> torch.Tensor:
    """Encode each box relative to its anchor as Faster R-CNN's deltas ``(dx, dy, dw, dh)``, shape (N, 4).

    ``dx = wx (x - xa) / wa``, ``dy = wy (y - ya) / ha`` (centres), ``dw = ww log(w / wa)``,
    ``dh = wh log(h / ha)``: shifts in units of the anchor's size and log scale ratios, so a
    network predicts small numbers whatever the object's size.
    """
    check_boxes(boxes)
    check_boxes(anchors, "anchors")
    if boxes.shape != anchors.shape:
        raise ValueError(f"need one anchor per box, got boxes {tuple(boxes.shape)} and anchors {tuple(anchors.shape)}")
    wx, wy, ww, wh = weights
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    bx, by = boxes[:, 0] + 0.5 * bw, boxes[:, 1] + 0.5 * bh
    if (aw <= 0).any() or (ah <= 0).any() or (bw <= 0).any() or (bh <= 0).any():
        raise ValueError("boxes and anchors need a positive width and height to be encoded (log of a size)")
    return torch.stack(
        [wx * (bx - ax) / aw, wy * (by - ay) / ah, ww * torch.log(bw / aw), wh * torch.log(bh / ah)], dim=1
    )


def decode_boxes(
    deltas: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0)
) -> torch.Tensor:
    """Invert :func:`encode_boxes`: deltas (N, 4) and their anchors (N, 4) back to ``xyxy`` boxes."""
    check_boxes(anchors, "anchors")
    if not isinstance(deltas, torch.Tensor) or deltas.shape != anchors.shape:
        shape = tuple(deltas.shape) if isinstance(deltas, torch.Tensor) else type(deltas).__name__
        raise ValueError(f"deltas must have the anchors' shape {tuple(anchors.shape)}, got {shape}")
    wx, wy, ww, wh = weights
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    ax, ay = anchors[:, 0] + 0.5 * aw, anchors[:, 1] + 0.5 * ah
    cx, cy = deltas[:, 0] / wx * aw + ax, deltas[:, 1] / wy * ah + ay
    w = torch.exp((deltas[:, 2] / ww).clamp(max=_LOG_CLIP)) * aw
    h = torch.exp((deltas[:, 3] / wh).clamp(max=_LOG_CLIP)) * ah
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=1)


# ------------------------------------------------------------------------------ CenterNet-style detector


def pack_targets(boxes: Sequence[torch.Tensor], labels: Sequence[torch.Tensor], max_objects: int = 5) -> torch.Tensor:
    """Pack per-image boxes and labels into one tensor ``(N, max_objects, 5)``: ``x1, y1, x2, y2, label``.

    Missing objects are rows of ``-1``. One tensor per batch is what ``TensorLoader`` and ``fit`` expect.
    """
    if len(boxes) != len(labels):
        raise ValueError(f"got {len(boxes)} box tensors but {len(labels)} label tensors")
    packed = torch.full((len(boxes), max_objects, 5), -1.0)
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        check_boxes(b, f"boxes[{i}]")
        if len(b) != len(lab):
            raise ValueError(f"image {i} has {len(b)} boxes but {len(lab)} labels")
        if len(b) > max_objects:
            raise ValueError(f"image {i} has {len(b)} objects, more than max_objects={max_objects}")
        packed[i, : len(b), :4] = b
        packed[i, : len(b), 4] = lab.float()
    return packed


def _unpack(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The real objects of a packed batch: image index, boxes (O, 4), labels (O,)."""
    if not isinstance(packed, torch.Tensor) or packed.ndim != 3 or packed.shape[2] != 5:
        shape = tuple(packed.shape) if isinstance(packed, torch.Tensor) else type(packed).__name__
        raise ValueError(f"expected packed targets of shape (N, max_objects, 5) from pack_targets, got {shape}")
    image, slot = (packed[:, :, 4] >= 0).nonzero(as_tuple=True)
    objects = packed[image, slot]
    return image, objects[:, :4], objects[:, 4].long()


def centernet_targets(
    packed: torch.Tensor, num_classes: int = 10, image_size: int = 96, stride: int = 4
) -> dict[str, torch.Tensor]:
    """The CenterNet training targets of a packed batch (see :func:`pack_targets`) on a grid of stride ``stride``.

    Every object gets a Gaussian bump on the grid, peak exactly 1 at the cell holding its centre,
    spread proportional to its width and height (sigma = size / 6, at least half a cell). Returns

    - ``heatmap`` (N, C, H, W): per class, the largest bump of that class's objects at each cell;
    - ``offset`` (N, 2, H, W): where the centre of the cell's object lies, in cells from the cell's corner
      (in [0, 1) at the centre cell itself);
    - ``size`` (N, 2, H, W): log of the width and height, in cells, of the cell's object;
    - ``boxes`` (N, 4, H, W): the cell's object's box in pixels;
    - ``weight`` (N, H, W): how much the box regression counts at each cell (the bump's height, cut below 0.1);
    - ``mask`` (N, H, W): 1 at the centre cells, 0 elsewhere.

    A cell's object is the one whose bump is highest there.
    """
    if image_size % stride:
        raise ValueError(f"image_size ({image_size}) must be a multiple of stride ({stride})")
    _unpack(packed)  # validates the shape
    n, m, cells = packed.shape[0], packed.shape[1], image_size // stride
    device = packed.device
    valid = packed[:, :, 4] >= 0  # (N, M)
    labels = packed[:, :, 4].long().clamp(min=0)
    if valid.any() and labels[valid].max() >= num_classes:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {int(labels[valid].max())}")
    boxes = torch.where(valid[..., None], packed[:, :, :4], torch.tensor([0.0, 0.0, 1.0, 1.0], device=device))
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=1.0) / stride  # (N, M, 2) in cells
    centre = (boxes[..., :2] + boxes[..., 2:]) / 2 / stride
    cell = centre.floor().clamp(0, cells - 1)
    sigma = (wh / 6).clamp(min=0.5)
    grid = torch.arange(cells, dtype=torch.float32, device=device)
    gx = torch.exp(-((grid - cell[..., :1]) ** 2) / (2 * sigma[..., :1] ** 2))  # (N, M, W)
    gy = torch.exp(-((grid - cell[..., 1:]) ** 2) / (2 * sigma[..., 1:] ** 2))  # (N, M, H)
    bumps = gy[..., :, None] * gx[..., None, :] * valid[..., None, None]  # (N, M, H, W)
    one_hot = F.one_hot(labels, num_classes).float() * valid[..., None]  # (N, M, C)
    heatmap = (
        (bumps[:, :, None] * one_hot[..., None, None]).amax(dim=1)
        if m
        else grid.new_zeros(n, num_classes, cells, cells)
    )
    weight, owner = bumps.max(dim=1) if m else (grid.new_zeros(n, cells, cells), grid.new_zeros(n, cells, cells).long())

    def of_owner(values: torch.Tensor) -> torch.Tensor:  # (N, M, k) -> (N, k, H, W): each cell's object's values
        k = values.shape[-1]
        return values.gather(1, owner.view(n, -1, 1).expand(-1, -1, k)).view(n, cells, cells, k).permute(0, 3, 1, 2)

    offset = of_owner(centre) - torch.stack(torch.meshgrid(grid, grid, indexing="xy"))  # (x, y) order
    mask = grid.new_zeros(n, cells, cells)
    image, slot = valid.nonzero(as_tuple=True)
    mask[image, cell[image, slot, 1].long(), cell[image, slot, 0].long()] = 1.0
    return {
        "heatmap": heatmap,
        "offset": offset,
        "size": of_owner(torch.log(wh)),
        "boxes": of_owner(boxes),
        "weight": weight * (weight >= 0.1),
        "mask": mask,
    }


def focal_loss(logits: torch.Tensor, heatmap: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, summed and divided by the number of objects (peaks = 1)."""
    positive = heatmap.eq(1.0).float()
    p = torch.sigmoid(logits)
    positive_loss = F.logsigmoid(logits) * (1 - p) ** alpha * positive
    negative_loss = F.logsigmoid(-logits) * p**alpha * (1 - heatmap) ** beta * (1 - positive)
    return -(positive_loss.sum() + negative_loss.sum()) / positive.sum().clamp(min=1.0)


def centernet_loss(
    outputs: torch.Tensor,
    packed: torch.Tensor,
    image_size: int = 96,
    stride: int = 4,
    dense: bool = True,
    giou_weight: float = 1.0,
) -> torch.Tensor:
    """Training loss of :class:`TinyCenterNet`: focal loss on the heatmaps plus box regression.

    Box regression: L1 on the offsets and log sizes, plus ``giou_weight`` times the generalised IoU
    loss of the decoded boxes. ``dense=True`` trains it at every cell near a centre, weighted by the
    Gaussian bump (as TTFNet does, for faster training); ``dense=False`` only at the centre cells (CenterNet).
    ``packed`` are the batch's targets from :func:`pack_targets`, so the loss works with ``utils.fit``.
    """
    from torchvision.ops import generalized_box_iou_loss

    num_classes = outputs.shape[1] - 4
    targets = {k: v.to(outputs) for k, v in centernet_targets(packed, num_classes, image_size, stride).items()}
    heat = focal_loss(outputs[:, :num_classes], targets["heatmap"])
    weight = targets["weight"] if dense else targets["mask"]
    total = weight.sum().clamp(min=1e-6)
    offset, size = outputs[:, num_classes : num_classes + 2], outputs[:, num_classes + 2 :]
    l1 = ((offset - targets["offset"]).abs().sum(1) + (size - targets["size"]).abs().sum(1)) * weight
    loss = heat + l1.sum() / total
    if giou_weight:
        cells = image_size // stride
        grid = torch.arange(cells, dtype=outputs.dtype, device=outputs.device)
        cx = (grid.view(1, 1, -1) + offset[:, 0]) * stride
        cy = (grid.view(1, -1, 1) + offset[:, 1]) * stride
        w, h = torch.exp(size[:, 0].clamp(max=10)) * stride, torch.exp(size[:, 1].clamp(max=10)) * stride
        predicted = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
        giou = generalized_box_iou_loss(predicted, targets["boxes"].permute(0, 2, 3, 1), reduction="none")
        loss = loss + giou_weight * (giou * weight).sum() / total
    return loss


def decode_centernet(
    outputs: torch.Tensor,
    stride: int = 4,
    max_detections: int = 100,
    score_threshold: float = 0.05,
    nms_iou: float | None = 0.5,
    class_agnostic: bool = False,
    peak_kernel: int = 3,
) -> Detections:
    """Turn :class:`TinyCenterNet` outputs ``(N, C + 4, H, W)`` into detections, one dict per image.

    Peaks are the cells that are the maximum of their ``peak_kernel`` x ``peak_kernel`` neighbourhood
    in their class's heatmap (``peak_kernel=1``: every cell is a candidate); the top ``max_detections``
    peaks above ``score_threshold`` become boxes from their offset and size; then NMS (per class, or
    across classes with ``class_agnostic``) at ``nms_iou`` (None: no NMS).
    """
    if not isinstance(outputs, torch.Tensor) or outputs.ndim != 4 or outputs.shape[1] < 5:
        shape = tuple(outputs.shape) if isinstance(outputs, torch.Tensor) else type(outputs).__name__
        raise ValueError(f"expected detector outputs (N, num_classes + 4, H, W), got {shape}")
    outputs = outputs.contiguous()  # a channels-last model's output is not viewable as (N, -1)
    n, channels, height, width = outputs.shape
    num_classes = channels - 4
    heat = torch.sigmoid(outputs[:, :num_classes])
    if not isinstance(peak_kernel, int) or peak_kernel < 1 or peak_kernel % 2 == 0:
        raise ValueError(f"peak_kernel must be a positive odd int, got {peak_kernel!r}")
    peaks = heat * (F.max_pool2d(heat, peak_kernel, stride=1, padding=peak_kernel // 2) == heat)
    k = min(max_detections, num_classes * height * width)
    scores, index = peaks.view(n, -1).topk(k)
    labels = index // (height * width)
    cell = index % (height * width)
    ys, xs = cell // width, cell % width
    regression = outputs[:, num_classes:].flatten(2)  # (N, 4, H*W)
    picked = regression.gather(2, cell[:, None, :].expand(n, 4, k))  # (N, 4, k)
    cx = (xs + picked[:, 0]) * stride
    cy = (ys + picked[:, 1]) * stride
    w = torch.exp(picked[:, 2].clamp(max=10)) * stride
    h = torch.exp(picked[:, 3].clamp(max=10)) * stride
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=2)
    boxes[..., 0::2] = boxes[..., 0::2].clamp(0, width * stride)
    boxes[..., 1::2] = boxes[..., 1::2].clamp(0, height * stride)
    detections = []
    for i in range(n):
        keep = scores[i] >= score_threshold
        b, s, lab = boxes[i][keep], scores[i][keep], labels[i][keep]
        if nms_iou is not None and len(b):
            kept = nms(b, s, nms_iou) if class_agnostic else batched_nms(b, s, lab, nms_iou)
            b, s, lab = b[kept], s[kept], lab[kept]
        detections.append({"boxes": b, "scores": s, "labels": lab})
    return detections


def detect(model: nn.Module, images: torch.Tensor, batch_size: int = 256, **decode_options) -> Detections:
    """Run a :class:`TinyCenterNet` over ``images`` in batches and decode (options go to :func:`decode_centernet`)."""
    from utils.metrics import predict

    outputs = predict(model, images, batch_size=batch_size).float()
    return decode_centernet(outputs, stride=getattr(model, "stride", 4), **decode_options)


# -------------------------------------------------------------------------------------------- metrics


def mabo(
    proposals: Sequence[torch.Tensor], gt_boxes: Sequence[torch.Tensor], gt_labels: Sequence[torch.Tensor]
) -> tuple[float, dict[int, float]]:
    """Mean average best overlap (Uijlings et al., selective search): how well a set of boxes covers the objects.

    For every ground-truth box, its best overlap is the highest IoU with any proposal of its image
    (classes and scores ignored); the average best overlap (ABO) of a class averages those, and
    MABO is the mean of the classes' ABOs. Returns ``(mabo, {class: abo})``.
    """
    if not len(proposals) == len(gt_boxes) == len(gt_labels):
        raise ValueError(f"need one entry per image, got {len(proposals)}, {len(gt_boxes)} and {len(gt_labels)}")
    best, classes = [], []
    for props, boxes, labels in zip(proposals, gt_boxes, gt_labels, strict=True):
        if len(boxes) == 0:
            continue
        overlaps = box_iou(boxes, props).max(dim=1).values if len(props) else boxes.new_zeros(len(boxes))
        best.append(overlaps)
        classes.append(labels)
    if not best:
        raise ValueError("no ground-truth boxes: MABO is undefined")
    best_all, classes_all = torch.cat(best), torch.cat(classes)
    abo = {int(c): float(best_all[classes_all == c].mean()) for c in classes_all.unique()}
    return float(np.mean(list(abo.values()))), abo


def match_detections(
    boxes: torch.Tensor, scores: torch.Tensor, gt_boxes: torch.Tensor, iou_threshold: float = 0.5
) -> torch.Tensor:
    """Which detections of one image and one class are true positives, in order of decreasing score.

    COCO's greedy rule: by decreasing score, each detection takes the not-yet-matched ground-truth
    box it overlaps most, if that IoU is at least ``iou_threshold``; otherwise it is a false positive.
    Returns a bool tensor aligned with ``argsort(scores, descending=True, stable=True)``.
    """
    check_boxes(boxes)
    _check_scores(scores, len(boxes))
    order = torch.argsort(scores, descending=True, stable=True)
    true_positive = torch.zeros(len(boxes), dtype=torch.bool, device=boxes.device)
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return true_positive
    ious = box_iou(boxes[order], gt_boxes)
    taken = torch.zeros(len(gt_boxes), dtype=torch.bool, device=boxes.device)
    for d in range(len(order)):
        candidates = ious[d].masked_fill(taken, -1.0)
        best = int(candidates.argmax())
        if candidates[best] >= iou_threshold:
            taken[best] = True
            true_positive[d] = True
    return true_positive


class PrecisionRecall(TypedDict):
    """What :func:`precision_recall` returns: one entry per detection, and the class's ground-truth count."""

    scores: torch.Tensor
    true_positive: torch.Tensor
    precision: torch.Tensor
    recall: torch.Tensor
    num_gt: int


def precision_recall(
    predictions: Detections, targets: Detections, label: int, iou_threshold: float = 0.5, max_detections: int = 100
) -> PrecisionRecall:
    """Precision and recall of class ``label`` after each detection, all images pooled by decreasing score.

    Returns ``scores``, ``true_positive``, ``precision``, ``recall`` (one entry per detection) and
    ``num_gt`` (the class's ground-truth boxes). Each image keeps its ``max_detections`` best, as COCO does.
    """
    if len(predictions) != len(targets):
        raise ValueError(f"got {len(predictions)} predictions but {len(targets)} targets: need one per image")
    scores, hits, num_gt = [], [], 0
    for pred, target in zip(predictions, targets, strict=True):
        gt = target["boxes"][target["labels"] == label]
        num_gt += len(gt)
        mine = pred["labels"] == label
        b, s = pred["boxes"][mine], pred["scores"][mine]
        order = torch.argsort(s, descending=True, stable=True)[:max_detections]
        hits.append(match_detections(b[order], s[order], gt, iou_threshold))
        scores.append(s[order])
    scores_all, hits_all = torch.cat(scores), torch.cat(hits)
    order = torch.argsort(scores_all, descending=True, stable=True)
    scores_all, hits_all = scores_all[order], hits_all[order]
    tp = torch.cumsum(hits_all.double(), 0)
    fp = torch.cumsum((~hits_all).double(), 0)
    precision = tp / (tp + fp).clamp(min=1)
    recall = tp / max(num_gt, 1)
    return {"scores": scores_all, "true_positive": hits_all, "precision": precision, "recall": recall, "num_gt": num_gt}


def average_precision(precision: torch.Tensor, recall: torch.Tensor, method: str = "coco") -> float:
    """Area under a precision-recall curve, with precision made monotone (the best precision at any higher recall).

    ``method="coco"``: mean of that precision at the 101 recalls 0, 0.01, ..., 1 (COCO, torchmetrics);
    ``"all"``: the exact area under the monotone step curve (PASCAL VOC since 2010).
    """
    if method not in ("coco", "all"):
        raise ValueError(f"method must be 'coco' or 'all', got {method!r}")
    if len(precision) != len(recall):
        raise ValueError(f"precision and recall must have the same length, got {len(precision)} and {len(recall)}")
    if len(precision) == 0:
        return 0.0
    envelope = precision.double().flip(0).cummax(0).values.flip(0)  # best precision at this recall or beyond
    recall = recall.double()
    if method == "coco":
        index = torch.searchsorted(recall, COCO_RECALL_LEVELS.to(recall.device), side="left")
        sampled = torch.where(index < len(envelope), envelope[index.clamp(max=len(envelope) - 1)], 0.0)
        return float(sampled.mean())
    steps = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((steps * envelope).sum())


def mean_average_precision(
    predictions: Detections,
    targets: Detections,
    iou_thresholds: Sequence[float] | None = None,
    max_detections: int = 100,
) -> dict[str, float | dict[int, float]]:
    """mAP by hand, COCO style: AP per class (101-point) per IoU threshold, averaged over both.

    ``iou_thresholds`` default to 0.50, 0.55, ..., 0.95. A class with no ground-truth box is left out,
    a class never detected counts 0. Returns ``map``, ``map_50`` (if 0.5 is a threshold) and
    ``per_class`` ({class: AP averaged over the thresholds}).
    """
    thresholds = COCO_IOU_THRESHOLDS if iou_thresholds is None else list(iou_thresholds)
    classes = sorted({int(c) for t in targets for c in t["labels"]})
    if not classes:
        raise ValueError("no ground-truth boxes: mAP is undefined")
    table = np.zeros((len(thresholds), len(classes)))
    for j, c in enumerate(classes):
        for i, t in enumerate(thresholds):
            curve = precision_recall(predictions, targets, c, t, max_detections)
            table[i, j] = average_precision(curve["precision"], curve["recall"], "coco")
    result: dict[str, float | dict[int, float]] = {"map": float(table.mean())}
    if 0.5 in thresholds:
        result["map_50"] = float(table[thresholds.index(0.5)].mean())
    result["per_class"] = {c: float(table[:, j].mean()) for j, c in enumerate(classes)}
    return result


def coco_map(
    predictions: Detections, targets: Detections, class_metrics: bool = False, **options
) -> dict[str, torch.Tensor]:
    """COCO mAP with ``torchmetrics.detection.MeanAveragePrecision`` (faster-coco-eval backend, ``xyxy`` boxes).

    Keys include ``map`` (IoU 0.50:0.95), ``map_50``, ``map_75``; with ``class_metrics`` also
    ``map_per_class`` and ``classes``. ``options`` go to ``MeanAveragePrecision``.
    """
    from torchmetrics.detection import MeanAveragePrecision

    if len(predictions) != len(targets):
        raise ValueError(f"got {len(predictions)} predictions but {len(targets)} targets: need one per image")
    metric = MeanAveragePrecision(
        box_format="xyxy", iou_type="bbox", backend="faster_coco_eval", class_metrics=class_metrics, **options
    )
    metric.update(
        [{k: p[k] for k in ("boxes", "scores", "labels")} for p in predictions],
        [{k: t[k] for k in ("boxes", "labels")} for t in targets],
    )
    return metric.compute()


# -------------------------------------------------------------------------------------------- drawing


def _caption_spots(box: tuple[float, float, float, float], label_position: str) -> list[tuple[float, float, str, str]]:
    """Where a box's caption may go, best first: ``(x, y, horizontal, vertical alignment)``, pixels."""
    x1, y1, x2, y2 = box
    above, inside_top = (y1 - 1.5, "bottom"), (y1 + 0.5, "top")
    below, inside_bottom = (y2 + 0.5, "top"), (y2 - 1.5, "bottom")
    rows = [above, inside_top, below, inside_bottom]
    if label_position == "bottom":
        rows = [below, inside_bottom, above, inside_top]
    return [(x, y, ha, va) for y, va in rows for x, ha in ((x1 - 0.5, "left"), (x2 - 0.5, "right"))]


def _caption_style(x: float, y: float, caption: str, color: str, ha: str, va: str) -> dict:
    box_style = {"facecolor": color, "edgecolor": "none", "pad": 0.8, "alpha": 0.9}
    return {
        "x": x,
        "y": y,
        "s": caption,
        "color": "black",
        "fontsize": 7,
        "ha": ha,
        "va": va,
        "bbox": box_style,
        "clip_on": True,
        "gid": "box caption",
    }


def _place_caption(
    ax: plt.Axes, caption: str, box: tuple[float, float, float, float], color: str, label_position: str
) -> None:
    """Write ``caption`` at the first spot of :func:`_caption_spots` that lies inside the axes and
    covers no caption already drawn there, so that no caption is clipped or hidden by another; when
    every spot is taken, at the first one inside the axes."""
    renderer = ax.figure.canvas.get_renderer() if hasattr(ax.figure.canvas, "get_renderer") else None
    ax.apply_aspect()  # the image's place in the axes, as it will be drawn
    others = [t.get_window_extent(renderer).padded(1.0) for t in ax.texts if t.get_gid() == "box caption"]
    frame = ax.get_window_extent(renderer)
    fallback = None
    for spot in _caption_spots(box, label_position):
        text = ax.text(**_caption_style(*spot[:2], caption, color, *spot[2:]))
        if renderer is None:  # a canvas that cannot measure text: the preferred spot
            return
        extent = text.get_window_extent(renderer).padded(1.0)  # with the coloured background's margin
        inside = frame.x0 <= extent.x0 and extent.x1 <= frame.x1 and frame.y0 <= extent.y0 and extent.y1 <= frame.y1
        if inside and not any(extent.overlaps(other) for other in others):
            if fallback is not None:
                fallback.remove()
            return
        if inside and fallback is None:
            fallback = text
        else:
            text.remove()
    if fallback is None:  # no spot inside the axes (a box larger than the image): the first one, clipped
        spot = _caption_spots(box, label_position)[0]
        ax.text(**_caption_style(*spot[:2], caption, color, *spot[2:]))


def draw_boxes(
    ax: plt.Axes,
    boxes: torch.Tensor,
    labels: torch.Tensor | None = None,
    scores: torch.Tensor | None = None,
    color: str = PREDICTION_COLOR,
    linestyle: str = "-",
    class_names: Sequence[str] | None = None,
    label_position: str = "top",
) -> plt.Axes:
    """Draw ``xyxy`` boxes on ``ax`` (over an image shown with ``imshow``), captioned with label and score.

    A caption goes above the box (``label_position="top"``) or below it (``"bottom"``); where it
    would leave the image or cover another caption, it moves inside the box or to its other side.
    """
    boxes = check_boxes(boxes.detach().float().cpu() if isinstance(boxes, torch.Tensor) else boxes)
    for name, values in (("labels", labels), ("scores", scores)):
        if values is not None and len(values) != len(boxes):
            raise ValueError(f"got {len(boxes)} boxes but {len(values)} {name}")
    for i, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        ax.add_patch(
            plt.Rectangle(
                (x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=1.5, linestyle=linestyle
            )
        )
        caption = []
        if labels is not None:
            caption.append(class_names[int(labels[i])] if class_names is not None else str(int(labels[i])))
        if scores is not None:
            caption.append(f"{float(scores[i]):.2f}")
        if caption:
            _place_caption(ax, " ".join(caption), (x1, y1, x2, y2), color, label_position)
    return ax


def show_detections(
    images: torch.Tensor,
    predictions: Detections | None = None,
    targets: Detections | None = None,
    ncols: int = 6,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    size: float = 2.4,
    show_scores: bool = True,
) -> plt.Figure:
    """A grid of images with their ground-truth boxes (blue, dashed, label below) and predictions.

    Predictions are orange, with their label and score above the box.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got {getattr(images, 'shape', type(images))}")
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    for name, values in (("predictions", predictions), ("targets", targets), ("titles", titles)):
        if values is not None and len(values) != n:
            raise ValueError(f"got {n} images but {len(values)} {name}")
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    row_height = size + (0.35 if titles is not None else 0.1)  # room for the captions between rows
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, row_height * nrows + (0.5 if title else 0)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i, 0].cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        if targets is not None:
            draw_boxes(
                ax,
                targets[i]["boxes"],
                targets[i]["labels"],
                color=TARGET_COLOR,
                linestyle="--",
                label_position="bottom",
            )
        if predictions is not None:
            p = predictions[i]
            draw_boxes(ax, p["boxes"], p["labels"], p["scores"] if show_scores else None, color=PREDICTION_COLOR)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
