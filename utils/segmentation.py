"""Semantic and instance segmentation: metrics from scratch, losses, a small FCN and U-Net, plots.

Metrics are accumulated over a whole data set in one confusion matrix (rows: true class, columns:
predicted class), so each figure equals torchmetrics' ``MulticlassJaccardIndex`` and friends:
pixel accuracy, per-class IoU, mean IoU and Dice. Instances come from connected components of a
semantic mask (SciPy), scored against the true instances by matched IoU or by mask AP.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from scipy import ndimage
from scipy.optimize import linear_sum_assignment
from torch import nn

from utils.loaders import TensorLoader
from utils.metrics import predict
from utils.scenes import NUM_SEMANTIC_CLASSES

SEGMENTATION_CLASS_NAMES = ["background"] + [f"digit {d}" for d in range(10)]
"""Names of the 11 classes of the scenes' semantic masks: 0 = background, ``1 + d`` = digit d."""


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------
def _check_mask_pair(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> None:
    """Raise a clear TypeError/ValueError unless both are integer masks of one shape with ids < num_classes."""
    for name, mask in (("predictions", predictions), ("targets", targets)):
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of class ids, got {type(mask).__name__}")
        if mask.is_floating_point() or mask.is_complex() or mask.dtype == torch.bool:
            raise TypeError(
                f"{name} must hold integer class ids, got dtype {mask.dtype} "
                "(for logits (N, C, H, W), take .argmax(dim=1) first)"
            )
    if predictions.shape != targets.shape:
        raise ValueError(
            f"predictions and targets must have the same shape, got {tuple(predictions.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    for name, mask in (("predictions", predictions), ("targets", targets)):
        if mask.numel() and (mask.min() < 0 or mask.max() >= num_classes):
            raise ValueError(
                f"{name} must hold class ids in [0, {num_classes - 1}], got values {int(mask.min())}..{int(mask.max())}"
            )


def _check_confusion(matrix: torch.Tensor) -> torch.Tensor:
    if not isinstance(matrix, torch.Tensor) or matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square confusion matrix (C, C), got {getattr(matrix, 'shape', type(matrix))}")
    return matrix.double()


# --------------------------------------------------------------------------------------------------
# Metrics from scratch (dataset-level: one confusion matrix over every pixel of every image)
# --------------------------------------------------------------------------------------------------
def segmentation_confusion_matrix(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int = NUM_SEMANTIC_CLASSES
) -> torch.Tensor:
    """Pixel counts ``(C, C)``: entry ``[t, p]`` counts pixels of true class t predicted as p.

    Masks of any shape (one image ``(H, W)`` or a batch ``(N, H, W)``); both must agree.
    """
    _check_mask_pair(predictions, targets, num_classes)
    index = targets.reshape(-1).long() * num_classes + predictions.reshape(-1).long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def pixel_accuracy(matrix: torch.Tensor) -> float:
    """Share of pixels whose class is right: trace / total."""
    m = _check_confusion(matrix)
    return float(m.diag().sum() / m.sum())


def iou_per_class(matrix: torch.Tensor) -> torch.Tensor:
    """IoU of each class, TP / (TP + FP + FN); NaN for a class absent from both prediction and truth."""
    m = _check_confusion(matrix)
    true_positive = m.diag()
    union = m.sum(dim=0) + m.sum(dim=1) - true_positive  # predicted + true - both
    return torch.where(union > 0, true_positive / union.clamp(min=1), torch.tensor(float("nan"), dtype=m.dtype))


def dice_per_class(matrix: torch.Tensor) -> torch.Tensor:
    """Dice (F1) of each class, 2 TP / (2 TP + FP + FN); NaN for a class absent from both."""
    m = _check_confusion(matrix)
    true_positive = m.diag()
    total = m.sum(dim=0) + m.sum(dim=1)  # predicted + true
    return torch.where(total > 0, 2 * true_positive / total.clamp(min=1), torch.tensor(float("nan"), dtype=m.dtype))


def mean_iou(matrix: torch.Tensor) -> float:
    """Mean of the per-class IoUs over the classes that occur (in prediction or truth)."""
    return float(iou_per_class(matrix).nanmean())


def mean_dice(matrix: torch.Tensor) -> float:
    """Mean of the per-class Dice scores over the classes that occur (in prediction or truth)."""
    return float(dice_per_class(matrix).nanmean())


class SegmentationMeter:
    """Accumulate one confusion matrix over batches, then read every metric from it.

    >>> meter = SegmentationMeter(11)
    >>> for images, masks in loader: meter.update(model(images).argmax(1), masks)
    >>> meter.summary()["mean_iou"]
    """

    def __init__(self, num_classes: int = NUM_SEMANTIC_CLASSES) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> None:
        """Add a batch of predicted and true masks (same shape, integer class ids)."""
        self.matrix += segmentation_confusion_matrix(predictions.cpu(), targets.cpu(), self.num_classes)

    def summary(self) -> dict[str, float]:
        """``pixel_accuracy``, ``mean_iou`` and ``mean_dice`` of everything seen so far."""
        if self.matrix.sum() == 0:
            raise ValueError("no pixels seen yet: call update() first")
        return {
            "pixel_accuracy": pixel_accuracy(self.matrix),
            "mean_iou": mean_iou(self.matrix),
            "mean_dice": mean_dice(self.matrix),
        }


def segmentation_scores(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int = NUM_SEMANTIC_CLASSES
) -> dict[str, float]:
    """Pixel accuracy, mean IoU and mean Dice of whole sets of masks, accumulated over all pixels."""
    meter = SegmentationMeter(num_classes)
    meter.update(predictions, targets)
    return meter.summary()


def per_image_mean_iou(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int = NUM_SEMANTIC_CLASSES
) -> float:
    """Image-level averaging: the IoU of every (image, class) pair that occurs, averaged.

    This is what ``torchmetrics.segmentation.MeanIoU`` computes; it weighs a class's tiny
    appearance in one image as much as its large appearance in another, so it differs from the
    dataset-level :func:`mean_iou`.
    """
    _check_mask_pair(predictions, targets, num_classes)
    if predictions.ndim != 3:
        raise ValueError(f"expected a batch of masks (N, H, W), got shape {tuple(predictions.shape)}")
    scores = torch.cat(
        [
            iou_per_class(segmentation_confusion_matrix(p, t, num_classes))
            for p, t in zip(predictions, targets, strict=True)
        ]
    )
    return float(scores.nanmean())


# --------------------------------------------------------------------------------------------------
# Batches of random crops
# --------------------------------------------------------------------------------------------------
class RandomCropLoader(TensorLoader):
    """A :class:`~utils.loaders.TensorLoader` over images and masks that cuts the same random
    ``crop_size`` x ``crop_size`` window out of each image and its mask.

    A fully convolutional network does not care about the input size, so it can train on crops
    (cheaper steps, more of them) and still predict whole scenes. ``crop_size=None`` keeps whole images.

    >>> loader = RandomCropLoader(scenes.images, scenes.semantic_masks, batch_size=16, crop_size=48, shuffle=True)
    """

    def __init__(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        batch_size: int = 16,
        crop_size: int | None = 48,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
    ) -> None:
        super().__init__(images, masks, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
        if images.ndim != 4 or masks.ndim != 3 or images.shape[-2:] != masks.shape[-2:]:
            raise ValueError(
                f"expected images (N, C, H, W) and masks (N, H, W) of one size, got "
                f"{tuple(images.shape)} and {tuple(masks.shape)}"
            )
        if crop_size is not None and not (isinstance(crop_size, int) and 1 <= crop_size <= min(masks.shape[-2:])):
            raise ValueError(f"crop_size must be an int between 1 and {min(masks.shape[-2:])}, got {crop_size!r}")
        self.crop_size = crop_size

    def __iter__(self):
        for images, masks in super().__iter__():
            if self.crop_size is None:
                yield images, masks
                continue
            c, (height, width) = self.crop_size, masks.shape[-2:]
            tops = torch.randint(0, height - c + 1, (len(images),), generator=self.generator).tolist()
            lefts = torch.randint(0, width - c + 1, (len(images),), generator=self.generator).tolist()
            yield (
                torch.stack(
                    [im[:, top : top + c, left : left + c] for im, top, left in zip(images, tops, lefts, strict=True)]
                ),
                torch.stack(
                    [m[top : top + c, left : left + c] for m, top, left in zip(masks, tops, lefts, strict=True)]
                ),
            )


# --------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------
def _check_logits(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch.Tensors")
    if (
        logits.ndim != 4
        or targets.ndim != 3
        or logits.shape[0] != targets.shape[0]
        or logits.shape[2:] != targets.shape[1:]
    ):
        raise ValueError(
            f"expected logits (N, C, H, W) and targets (N, H, W) of matching N, H, W, got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer class ids, got {targets.dtype}")


def dice_loss(logits: torch.Tensor, targets: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft multi-class Dice loss: 1 - mean over classes of 2|P∩G| / (|P| + |G|), with softmax P.

    Sums run over the whole batch; every class counts equally, however few pixels it has.
    """
    _check_logits(logits, targets)
    num_classes = logits.shape[1]
    probabilities = logits.softmax(dim=1)
    one_hot = F.one_hot(targets.long(), num_classes).permute(0, 3, 1, 2).to(probabilities.dtype)
    dims = (0, 2, 3)
    intersection = (probabilities * one_hot).sum(dims)
    total = probabilities.sum(dims) + one_hot.sum(dims)
    return 1 - ((2 * intersection + smooth) / (total + smooth)).mean()


class CrossEntropyDiceLoss(nn.Module):
    """``cross_entropy + dice_weight * dice_loss``: the pixel-wise loss plus the overlap loss.

    ``class_weights`` (one per class) reweigh the cross-entropy, e.g. a small weight for the
    background that covers most pixels.
    """

    class_weights: torch.Tensor | None  # a buffer (it moves with the model)

    def __init__(self, dice_weight: float = 1.0, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        if dice_weight < 0:
            raise ValueError(f"dice_weight must be >= 0, got {dice_weight}")
        if class_weights is not None and (not isinstance(class_weights, torch.Tensor) or class_weights.ndim != 1):
            raise ValueError(f"class_weights must be a 1-D tensor (one weight per class), got {class_weights!r}")
        self.dice_weight = dice_weight
        self.register_buffer("class_weights", class_weights.float() if class_weights is not None else None)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_logits(logits, targets)
        weight = self.class_weights.to(logits.device) if self.class_weights is not None else None
        loss = F.cross_entropy(logits, targets, weight=weight)
        if self.dice_weight:
            loss = loss + self.dice_weight * dice_loss(logits, targets)
        return loss


# --------------------------------------------------------------------------------------------------
# Upsampling arithmetic
# --------------------------------------------------------------------------------------------------
def transposed_conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    """Spatial output size of ``nn.ConvTranspose2d`` along one dimension.

    ``(size - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``, the formula
    in the PyTorch documentation: a convolution's size formula solved for its input.

    >>> transposed_conv_output_size(12, kernel_size=2, stride=2)
    24
    """
    for name, value, minimum in [
        ("size", size, 1),
        ("kernel_size", kernel_size, 1),
        ("stride", stride, 1),
        ("padding", padding, 0),
        ("output_padding", output_padding, 0),
        ("dilation", dilation, 1),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    if output_padding >= max(stride, dilation):
        raise ValueError(f"output_padding must be smaller than stride or dilation, got {output_padding}")
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(f"these settings give an empty output ({out} pixels)")
    return out


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------


@torch.inference_mode()
def predict_masks(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int = 64,
    device: torch.device | None = None,
    return_probabilities: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Predicted class-id masks ``(N, H, W)`` for images ``(N, C, H, W)``, computed in batches on ``device``.

    With ``return_probabilities=True`` also returns the winning class's softmax probability per pixel.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got {getattr(images, 'shape', type(images))}")

    def winning_class(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        confidence, mask = logits.softmax(dim=1).max(dim=1)
        return mask, confidence

    masks, confidences = predict(model, images, batch_size=batch_size, device=device, postprocess=winning_class)
    return (masks, confidences) if return_probabilities else masks


# --------------------------------------------------------------------------------------------------
# Instances from a semantic mask
# --------------------------------------------------------------------------------------------------
def connected_instances(
    semantic_mask: torch.Tensor, per_class: bool = True, min_pixels: int = 1, connectivity: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a semantic mask ``(H, W)`` into instances by connected components (``scipy.ndimage.label``).

    Args:
        per_class: components of each class separately (touching digits of different classes stay
            apart); otherwise components of all foreground pixels, each labelled by its majority class.
        min_pixels: drop components smaller than this (specks).
        connectivity: 1 = 4-neighbours, 2 = 8-neighbours.

    Returns ``(instance_mask, classes)``: instance ids 1..K per pixel (0 = background) and the
    semantic class (1..C-1) of each instance.
    """
    if not isinstance(semantic_mask, torch.Tensor) or semantic_mask.ndim != 2 or semantic_mask.is_floating_point():
        raise ValueError(
            f"expected one integer mask (H, W), got {getattr(semantic_mask, 'shape', type(semantic_mask))}"
        )
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    mask = semantic_mask.cpu().numpy()
    structure = ndimage.generate_binary_structure(2, connectivity)
    instances = np.zeros(mask.shape, dtype=np.int64)
    classes: list[int] = []
    groups = [(mask == c) for c in np.unique(mask) if c != 0] if per_class else [mask != 0]
    for region in groups:
        labelled, count = ndimage.label(region, structure=structure)
        for k in range(1, count + 1):
            component = labelled == k
            if component.sum() < min_pixels:
                continue
            values, counts = np.unique(mask[component], return_counts=True)
            classes.append(int(values[counts.argmax()]))
            instances[component] = len(classes)
    device = semantic_mask.device
    return torch.from_numpy(instances).to(device), torch.tensor(classes, dtype=torch.int64, device=device)


def instance_intersections(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Pixels shared by every predicted instance (rows) and every true instance (columns) of one image.

    A row with two or more non-zero entries is a predicted instance that merges true ones; a column
    with two or more, a true instance split between predicted ones.
    """
    if predicted.shape != true.shape or predicted.ndim != 2:
        raise ValueError(
            f"expected two instance masks (H, W) of one shape, got {tuple(predicted.shape)} and {tuple(true.shape)}"
        )
    negative = predicted.numel() > 0 and bool(predicted.min() < 0 or true.min() < 0)
    if predicted.is_floating_point() or true.is_floating_point() or negative:
        raise ValueError("instance masks must hold integer ids >= 0 (0 = background)")
    p, t = int(predicted.max()), int(true.max())
    if p == 0 or t == 0:
        return torch.zeros(p, t, dtype=torch.int64, device=predicted.device)
    pred_one_hot = F.one_hot(predicted.reshape(-1).long(), p + 1)[:, 1:].double()
    true_one_hot = F.one_hot(true.reshape(-1).long(), t + 1)[:, 1:].double()
    return (pred_one_hot.T @ true_one_hot).round().long()


def instance_ious(predicted: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """IoU between every predicted instance (rows) and every true instance (columns) of one image."""
    intersection = instance_intersections(predicted, true).double()
    if intersection.numel() == 0:
        return intersection.float()
    pred_area = torch.bincount(predicted.reshape(-1).long(), minlength=intersection.shape[0] + 1)[1:].double()
    true_area = torch.bincount(true.reshape(-1).long(), minlength=intersection.shape[1] + 1)[1:].double()
    union = pred_area[:, None] + true_area[None, :] - intersection
    return (intersection / union.clamp(min=1)).float()


def match_instance_ids(predicted: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Renumber ``predicted``'s instances after ``reference``'s, so that one object keeps one colour.

    Predicted and reference instances are paired one to one (Hungarian algorithm on IoU, pairs that
    overlap at all); a paired instance takes its partner's id, an unpaired one the next free id
    after ``reference``'s largest, in its old order. Background (0) stays 0.
    """
    ious = instance_ious(predicted, reference)
    new_ids = torch.zeros(ious.shape[0] + 1, dtype=torch.int64)
    if ious.numel():
        rows, cols = linear_sum_assignment(ious.cpu().numpy(), maximize=True)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if ious[row, col] > 0:
                new_ids[row + 1] = col + 1
    present = torch.bincount(predicted.reshape(-1).long().cpu(), minlength=len(new_ids)) > 0
    next_id = int(reference.max()) + 1
    for k in range(1, len(new_ids)):
        if new_ids[k] == 0 and present[k]:  # ids that no pixel carries take no new id
            new_ids[k], next_id = next_id, next_id + 1
    return new_ids.to(predicted.device)[predicted.long()]


def matched_instance_iou(predicted: Sequence[torch.Tensor], true: Sequence[torch.Tensor]) -> dict[str, float]:
    """Match predicted to true instances one to one (Hungarian algorithm on IoU) over many images.

    Returns the mean IoU over all true instances (an unmatched one scores 0), and precision, recall
    and F1 of matches with IoU >= 0.5, the counting that panoptic quality uses.
    """
    if len(predicted) != len(true):
        raise ValueError(f"got {len(predicted)} predicted and {len(true)} true instance masks")
    iou_sum, true_count, pred_count, hits = 0.0, 0, 0, 0
    for p, t in zip(predicted, true, strict=True):
        ious = instance_ious(p, t)
        pred_count += ious.shape[0]
        true_count += ious.shape[1]
        if ious.numel():
            rows, cols = linear_sum_assignment(ious.cpu().numpy(), maximize=True)
            matched = ious[rows, cols]
            iou_sum += float(matched.sum())
            hits += int((matched >= 0.5).sum())
    precision = hits / pred_count if pred_count else 0.0
    recall = hits / true_count if true_count else 0.0
    return {
        "mean_matched_iou": iou_sum / true_count if true_count else 0.0,
        "precision_at_50": precision,
        "recall_at_50": recall,
        "f1_at_50": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    }


def instances_to_detections(
    instance_mask: torch.Tensor, classes: torch.Tensor, confidence: torch.Tensor | None = None
) -> dict[str, torch.Tensor]:
    """One image's instances as a torchmetrics/torchvision prediction: ``masks`` (K, H, W) bool,
    ``labels`` (digits 0-9, i.e. semantic class - 1) and ``scores`` (mean pixel confidence, or 1)."""
    k = len(classes)
    device = instance_mask.device
    masks = instance_mask.unsqueeze(0) == torch.arange(1, k + 1, device=device).view(k, 1, 1)
    if confidence is None:
        scores = torch.ones(k, device=device)
    else:
        scores = torch.stack([confidence[m].mean() for m in masks]) if k else torch.zeros(0, device=device)
    return {"masks": masks, "labels": classes - 1, "scores": scores.float()}


# --------------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------------
def _palette(name: str) -> list[tuple[float, ...]]:
    """The RGB colours of a qualitative matplotlib colormap such as ``tab10``."""
    colormap = plt.get_cmap(name)
    if not isinstance(colormap, ListedColormap):
        raise ValueError(f"{name!r} is not a listed (qualitative) colormap such as 'tab10'")
    return [tuple(rgb) for rgb in np.asarray(colormap.colors, dtype=float).tolist()]


def class_colors(num_classes: int = NUM_SEMANTIC_CLASSES) -> np.ndarray:
    """RGB colours ``(C, 3)`` in [0, 1]: black for background, tab10 for the digits 0-9."""
    if not 2 <= num_classes <= 11:
        raise ValueError(f"class_colors covers 2 to 11 classes (background + tab10), got {num_classes}")
    tab10 = _palette("tab10")
    return np.array([(0.0, 0.0, 0.0), *tab10[: num_classes - 1]])


def colorize_mask(mask: torch.Tensor, num_classes: int = NUM_SEMANTIC_CLASSES) -> np.ndarray:
    """An RGB image ``(H, W, 3)`` of a class-id mask ``(H, W)``."""
    if not isinstance(mask, torch.Tensor) or mask.ndim != 2:
        raise ValueError(f"expected one mask (H, W), got {getattr(mask, 'shape', type(mask))}")
    ids = mask.cpu().numpy()
    if ids.min() < 0 or ids.max() >= num_classes:
        raise ValueError(f"mask ids must lie in [0, {num_classes - 1}], got {ids.min()}..{ids.max()}")
    return class_colors(num_classes)[ids]


def colorize_instances(instance_mask: torch.Tensor) -> np.ndarray:
    """An RGB image ``(H, W, 3)`` of an instance-id mask: black background, one colour per id (the ten
    distinct colours of tab10 for ids 1-10, then the light half of tab20), the same colour for the same
    id in every figure."""
    if not isinstance(instance_mask, torch.Tensor) or instance_mask.ndim != 2:
        raise ValueError(
            f"expected one instance mask (H, W), got {getattr(instance_mask, 'shape', type(instance_mask))}"
        )
    ids = instance_mask.cpu().numpy()
    palette = np.array([(0.0, 0.0, 0.0), *_palette("tab10"), *_palette("tab20")[1::2]])
    return palette[np.where(ids > 0, (ids - 1) % 20 + 1, 0)]


def overlay_mask(
    image: torch.Tensor, mask: torch.Tensor, alpha: float = 0.6, num_classes: int = NUM_SEMANTIC_CLASSES
) -> np.ndarray:
    """The grey image with each non-background pixel tinted by its class colour, as RGB ``(H, W, 3)``."""
    grey = image.detach().cpu().reshape(image.shape[-2:]).numpy()
    if grey.shape != tuple(mask.shape):
        raise ValueError(f"image {grey.shape} and mask {tuple(mask.shape)} differ in size")
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float64)
    colours = colorize_mask(mask, num_classes)
    foreground = (mask.cpu().numpy() > 0)[..., None]
    return np.where(foreground, (1 - alpha) * rgb + alpha * colours, rgb).clip(0, 1)


def class_legend(ax: plt.Axes | plt.Figure, num_classes: int = NUM_SEMANTIC_CLASSES, **kwargs) -> None:
    """A legend of the class colours (background + digits), right of an axes or of a whole figure
    (outside the figure's edge: Jupyter's inline backend and ``bbox_inches="tight"`` keep it in view)."""
    colours = class_colors(num_classes)
    handles = [
        Patch(color=colours[c], label=SEGMENTATION_CLASS_NAMES[c] if c < len(SEGMENTATION_CLASS_NAMES) else str(c))
        for c in range(num_classes)
    ]
    ax.legend(handles=handles, **{"loc": "center left", "bbox_to_anchor": (1.0, 0.5), "fontsize": 8, **kwargs})


def show_segmentations(
    images: torch.Tensor,
    columns: dict[str, torch.Tensor],
    overlay: bool = True,
    title: str | None = None,
    size: float = 1.9,
    row_labels: Sequence[str] | None = None,
) -> plt.Figure:
    """A grid: one row per image; first the image, then one column per named set of masks.

    ``row_labels`` names each row (default ``"scene 0"``, ``"scene 1"``, ...: pass the scenes' own
    indices when the images are not the first ones).

    ``columns`` maps a caption (e.g. ``"ground truth"``, ``"U-Net"``) to class-id masks ``(N, H, W)``,
    drawn as colour overlays. A column whose name contains ``"differ"`` (boolean masks) is drawn as
    red pixels on the dimmed image; one whose name contains ``"instance"`` as one colour per instance.
    """
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    if row_labels is not None and len(row_labels) != n:
        raise ValueError(f"got {n} images but {len(row_labels)} row labels")
    for name, masks in columns.items():
        if len(masks) != n:
            raise ValueError(f"got {n} images but {len(masks)} masks in column {name!r}")
    ncols = 1 + len(columns)
    fig, axes = plt.subplots(n, ncols, figsize=(size * ncols, size * n + (0.4 if title else 0)), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(images[i].reshape(images.shape[-2:]).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        for j, (name, masks) in enumerate(columns.items(), start=1):
            mask = masks[i]
            if "differ" in name:
                grey = images[i].reshape(images.shape[-2:]).cpu().numpy() * 0.5
                rgb = np.repeat(grey[..., None], 3, axis=2)
                rgb[mask.cpu().numpy().astype(bool)] = (1.0, 0.15, 0.15)
                axes[i, j].imshow(rgb)
            elif "instance" in name:
                axes[i, j].imshow(colorize_instances(mask), interpolation="nearest")
            else:
                axes[i, j].imshow(
                    overlay_mask(images[i], mask) if overlay else colorize_mask(mask), interpolation="nearest"
                )
        for j, name in enumerate(["image", *columns], start=0):
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel(row_labels[i] if row_labels is not None else f"scene {i}", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if any("differ" not in name and "instance" not in name for name in columns):
        class_legend(fig)  # outside the grid, on the right
    return fig


def show_instances(
    image: torch.Tensor, instance_masks: dict[str, torch.Tensor], title: str | None = None, size: float = 2.6
) -> plt.Figure:
    """The image, then each named instance mask ``(H, W)`` with one colour per instance (tab20)."""
    fig, axes = plt.subplots(1, 1 + len(instance_masks), figsize=(size * (1 + len(instance_masks)), size + 0.5))
    axes[0].imshow(image.reshape(image.shape[-2:]).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("image", fontsize=9)
    for ax, (name, mask) in zip(axes[1:], instance_masks.items(), strict=True):
        ids = mask.cpu().numpy()
        ax.imshow(colorize_instances(mask), interpolation="nearest")
        ax.set_title(f"{name}: {int(len(np.unique(ids[ids > 0])))} instances", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_iou_per_class(ious: dict[str, torch.Tensor], title: str = "IoU per class") -> plt.Figure:
    """Grouped bars: the per-class IoU of each named model, over the 11 class names."""
    fig, ax = plt.subplots(figsize=(9, 3.4))
    width = 0.8 / max(len(ious), 1)
    colours = _palette("tab10")
    for k, (name, values) in enumerate(ious.items()):
        positions = np.arange(len(values)) + (k - (len(ious) - 1) / 2) * width
        ax.bar(positions, values.numpy(), width=width, label=name, color=colours[k % 10])
    count = len(next(iter(ious.values())))
    ax.set_xticks(range(count), [SEGMENTATION_CLASS_NAMES[c].replace("digit ", "") for c in range(count)])
    ax.set_xlabel("class (background, digits 0-9)")
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig
