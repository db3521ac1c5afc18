"""What a CNN looks at (weeks 8-9): saliency maps, Grad-CAM with hooks, occlusion sensitivity.

Each method returns one heat map per image, ``(N, H, W)`` at the input's resolution and scaled to
[0, 1] per image, so the three can be shown side by side and compared. ``place_on_canvas`` puts
digits at chosen places in a larger image, which is how the notebook checks that an explanation
moves when the digit moves.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn


def _check_batch(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(
            f"images must be a float batch of shape (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
        )


def _targets(model: nn.Module, images: torch.Tensor, target: torch.Tensor | Sequence[int] | int | None) -> torch.Tensor:
    """The class to explain for each image: given, or the model's prediction."""
    if target is None:
        with torch.no_grad():
            return model(images).argmax(1)
    target = torch.as_tensor(target, dtype=torch.long, device=images.device)
    if target.ndim == 0:
        target = target.expand(len(images))
    if target.shape != (len(images),):
        raise ValueError(
            f"target must be one class or one class per image ({len(images)}), got shape {tuple(target.shape)}"
        )
    return target


def _normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map of ``(N, H, W)`` to [0, 1] (an all-zero map stays zero)."""
    flat = maps.flatten(1)
    low = flat.min(1).values.view(-1, 1, 1)
    span = (flat.max(1).values.view(-1, 1, 1) - low).clamp_min(1e-12)
    return (maps - low) / span


def saliency_map(
    model: nn.Module, images: torch.Tensor, target: torch.Tensor | Sequence[int] | int | None = None
) -> torch.Tensor:
    """Vanilla gradient saliency (Simonyan et al., 2014): ``|d score_target / d pixel|``, max over channels.

    Returns ``(N, H, W)`` in [0, 1] per image. ``target`` defaults to the predicted class.
    """
    _check_batch(images)
    model.eval()
    target = _targets(model, images, target)
    x = images.detach().clone().requires_grad_(True)
    scores = model(x).gather(1, target.view(-1, 1)).sum()
    (gradient,) = torch.autograd.grad(scores, x)
    return _normalise(gradient.abs().amax(1))


class GradCAM:
    """Grad-CAM (Selvaraju et al., 2017) on one layer, recorded with a forward and a backward hook.

    The forward hook keeps the layer's output ``A`` (``(N, K, h, w)``), the backward hook the
    gradient of the target score with respect to it. Each channel's weight is its gradient averaged
    over the map; the heat map is ``ReLU(sum_k weight_k * A_k)``, upsampled to the input size.
    Use as a context manager (or call :meth:`remove`) so the hooks do not stay on the model.

    >>> with GradCAM(model, model.features[3]) as cam:
    ...     heat = cam(images)              # (N, H, W) in [0, 1]
    """

    def __init__(self, model: nn.Module, layer: nn.Module) -> None:
        if not isinstance(model, nn.Module) or not isinstance(layer, nn.Module):
            raise TypeError(
                f"model and layer must be nn.Modules, got {type(model).__name__} and {type(layer).__name__}"
            )
        if not any(module is layer for module in model.modules()):
            raise ValueError("layer must be one of model's modules (e.g. model.features[3])")
        if getattr(layer, "inplace", False):
            raise ValueError(
                "choose a layer that does not work in place (e.g. the convolution, not ReLU(inplace=True))"
            )
        self.model = model
        self.activations: torch.Tensor | None = None
        self.gradients: torch.Tensor | None = None
        self._handles = [
            layer.register_forward_hook(self._keep_activations),
            layer.register_full_backward_hook(self._keep_gradients),
        ]

    def _keep_activations(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self.activations = output.detach()

    def _keep_gradients(self, module: nn.Module, grad_input: tuple, grad_output: tuple) -> None:
        self.gradients = grad_output[0].detach()

    def __call__(self, images: torch.Tensor, target: torch.Tensor | Sequence[int] | int | None = None) -> torch.Tensor:
        _check_batch(images)
        self.model.eval()
        target = _targets(self.model, images, target)
        x = images.detach().clone().requires_grad_(True)  # so the backward hook fires even for a first layer
        self.model.zero_grad(set_to_none=True)
        scores = self.model(x).gather(1, target.view(-1, 1)).sum()
        scores.backward()
        self.model.zero_grad(set_to_none=True)
        if self.activations is None or self.gradients is None or self.activations.ndim != 4:
            raise RuntimeError("the chosen layer did not produce (N, K, h, w) feature maps in the forward pass")
        weights = self.gradients.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * self.activations).sum(1, keepdim=True))
        cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        return _normalise(cam)

    def remove(self) -> None:
        """Take the hooks off the layer."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> GradCAM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


@torch.no_grad()
def occlusion_sensitivity(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor | Sequence[int] | int | None = None,
    patch: int = 6,
    stride: int = 2,
    baseline: float = 0.0,
) -> torch.Tensor:
    """Occlusion sensitivity (Zeiler & Fergus, 2014): how much the target's probability drops when a
    ``patch`` x ``patch`` square at each place is set to ``baseline``.

    Each pixel gets the mean drop over the patches covering it; negative drops count as zero.
    Returns ``(N, H, W)`` in [0, 1] per image. Cost: one forward pass per patch position.
    """
    _check_batch(images)
    height, width = images.shape[-2:]
    for name, value in (("patch", patch), ("stride", stride)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if patch > min(height, width):
        raise ValueError(f"patch {patch} is larger than the images ({height}x{width})")
    model.eval()
    target = _targets(model, images, target)
    rows = torch.arange(len(images), device=images.device)
    base = model(images).softmax(1)[rows, target]
    drops = torch.zeros(images.shape[0], height, width, device=images.device)
    cover = torch.zeros(height, width, device=images.device)
    for top in range(0, height - patch + 1, stride):
        for left in range(0, width - patch + 1, stride):
            occluded = images.clone()
            occluded[..., top : top + patch, left : left + patch] = baseline
            drop = (base - model(occluded).softmax(1)[rows, target]).clamp_min(0)
            drops[:, top : top + patch, left : left + patch] += drop.view(-1, 1, 1)
            cover[top : top + patch, left : left + patch] += 1
    return _normalise(drops / cover.clamp_min(1))


def place_on_canvas(
    images: torch.Tensor, canvas_size: int, positions: torch.Tensor | Sequence[Sequence[int]]
) -> torch.Tensor:
    """Paste each image ``(N, C, h, w)`` into an empty ``canvas_size`` x ``canvas_size`` canvas with its
    top-left corner at ``positions[i] = (top, left)``. Returns ``(N, C, canvas_size, canvas_size)``."""
    _check_batch(images)
    n, channels, h, w = images.shape
    positions = torch.as_tensor(positions, dtype=torch.long)
    if positions.shape != (n, 2):
        raise ValueError(
            f"positions must be (top, left) pairs, one per image: shape ({n}, 2), got {tuple(positions.shape)}"
        )
    if positions.min() < 0 or positions[:, 0].max() + h > canvas_size or positions[:, 1].max() + w > canvas_size:
        raise ValueError(f"every {h}x{w} image must fit inside the {canvas_size}x{canvas_size} canvas")
    canvas = images.new_zeros(n, channels, canvas_size, canvas_size)
    for i, (top, left) in enumerate(positions.tolist()):
        canvas[i, :, top : top + h, left : left + w] = images[i]
    return canvas


def random_positions(
    n: int, image_size: int, canvas_size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``n`` random (top, left) positions that keep an ``image_size`` square inside the canvas."""
    if canvas_size < image_size:
        raise ValueError(f"canvas_size {canvas_size} is smaller than image_size {image_size}")
    return torch.randint(0, canvas_size - image_size + 1, (n, 2), generator=generator)


def centre_of_mass(maps: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """The (row, column) centre of mass of each heat map ``(N, H, W)``, in pixels: ``(N, 2)``.

    Only the heat above ``threshold`` counts (``0.5``: the hot region, values above half of a
    [0, 1]-scaled map's peak), so a faint haze over the whole image does not pull the centre.
    """
    if not isinstance(maps, torch.Tensor) or maps.ndim != 3:
        raise ValueError(f"maps must be a tensor of shape (N, H, W), got {getattr(maps, 'shape', type(maps))}")
    weights = (maps - threshold).clamp_min(0)
    total = weights.sum((1, 2)).clamp_min(1e-12)
    rows = torch.arange(maps.shape[1], dtype=maps.dtype, device=maps.device)
    cols = torch.arange(maps.shape[2], dtype=maps.dtype, device=maps.device)
    return torch.stack([(weights.sum(2) * rows).sum(1) / total, (weights.sum(1) * cols).sum(1) / total], dim=1)


def show_explanations(
    images: torch.Tensor,
    maps: dict[str, torch.Tensor],
    titles: Sequence[str] | None = None,
    size: float = 1.9,
    suptitle: str | None = None,
) -> plt.Figure:
    """One row per image: the image, then each method's heat map (viridis) laid over it."""
    _check_batch(images)
    n = len(images)
    for name, heat in maps.items():
        if heat.shape != (n, *images.shape[-2:]):
            raise ValueError(f"map {name!r} has shape {tuple(heat.shape)}, expected {(n, *images.shape[-2:])}")
    columns = 1 + len(maps)
    fig, axes = plt.subplots(n, columns, figsize=(size * columns, size * n + 0.5), squeeze=False)
    for i in range(n):
        picture = images[i].detach().cpu().mean(0).numpy()
        axes[i, 0].imshow(picture, cmap="gray")
        axes[i, 0].set_title(titles[i] if titles is not None else "input", fontsize=9)
        for j, (name, heat) in enumerate(maps.items(), start=1):
            axes[i, j].imshow(picture, cmap="gray")
            axes[i, j].imshow(heat[i].detach().cpu().numpy(), cmap="viridis", alpha=0.6, vmin=0, vmax=1)
            if i == 0:
                axes[i, j].set_title(name, fontsize=9)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def explanation_inside_box(
    maps: torch.Tensor, positions: torch.Tensor, box_size: int, threshold: float = 0.0
) -> torch.Tensor:
    """For each map, whether its centre of mass (of the heat above ``threshold``) falls inside the
    ``box_size`` square at ``positions[i]``."""
    centres = centre_of_mass(maps, threshold)
    positions = torch.as_tensor(positions, dtype=centres.dtype, device=centres.device)
    return ((centres >= positions) & (centres < positions + box_size)).all(1)


class TieSharingMaxPool2d(nn.Module):
    """``nn.MaxPool2d(k)`` (stride = k, no padding) with the same output, whose backward pass shares a
    window's gradient equally among its tied maxima.

    PyTorch's max-pool sends all of a window's gradient to *one* maximum, the first in reading order.
    On a flat background (a padded image's black border, a blank canvas) every window is a tie, so
    the whole gradient lands on the top-left pixel of every window: a regular lattice in a saliency
    map that says nothing about the model. Sharing the gradient among the tied maxima removes it.
    """

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1:
            raise ValueError(f"kernel_size must be a positive int, got {kernel_size!r}")
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        h, w = (x.shape[-2] // k) * k, (x.shape[-1] // k) * k
        x = x[..., :h, :w]  # what MaxPool2d's floor mode ignores
        peak = F.interpolate(F.max_pool2d(x, k).detach(), scale_factor=k, mode="nearest")
        is_max = (x == peak).to(x.dtype)
        share = is_max / F.interpolate(F.avg_pool2d(is_max, k) * k * k, scale_factor=k, mode="nearest")
        return F.avg_pool2d(x * share, k) * k * k  # = the max; its gradient is ``share``


def share_pooling_ties(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose ``nn.MaxPool2d`` layers (square, stride = kernel, no padding) are
    :class:`TieSharingMaxPool2d`: the same outputs, gradients without the max-pool lattice."""
    twin = copy.deepcopy(model)
    for name, module in list(twin.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool2d):
                k, s, p = child.kernel_size, child.stride, child.padding
                if not (isinstance(k, int) and s in (k, (k, k)) and p in (0, (0, 0)) and child.dilation in (1, (1, 1))):
                    raise ValueError(f"{name}.{child_name}: only square max-pooling with stride = kernel, no padding")
                setattr(module, child_name, TieSharingMaxPool2d(k))
    return twin


def lattice_share(maps: torch.Tensor, mask: torch.Tensor, period: int = 2) -> torch.Tensor:
    """How a heat map's energy (squared values) on the pixels of ``mask`` ``(H, W)`` splits over the
    ``period x period`` phases of the pixel grid: ``(period, period)``, summing to 1. A map without a
    lattice gives about ``1 / period^2`` everywhere; max-pool tie routing piles it on one phase."""
    if maps.ndim != 3 or mask.shape != maps.shape[-2:] or mask.dtype != torch.bool:
        raise ValueError(f"maps must be (N, H, W) and mask a bool (H, W), got {tuple(maps.shape)}, {tuple(mask.shape)}")
    if not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a positive int, got {period!r}")
    energy = torch.zeros(period, period, dtype=torch.float64)
    for a in range(period):
        for b in range(period):
            phase = torch.zeros_like(mask)
            phase[a::period, b::period] = True
            energy[a, b] = maps[:, phase & mask].double().square().sum()
    return energy / energy.sum().clamp_min(1e-300)
