"""Weeks 6-7: measuring architectures without training them: FLOPs, CPU latency, receptive fields, and
torchvision's model zoo (parameter counts from the builders on the meta device, ImageNet top-1 from
the weights' metadata, no download). The networks themselves live in ``utils.models.architectures``.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from utils.models.classifiers import count_parameters


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if len(shape) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape):
        raise ValueError(f"input_shape must be positive ints like (1, 3, 224, 224), got {input_shape!r}")
    return shape


def count_flops(model: nn.Module, input_shape: Sequence[int] = (1, 3, 224, 224)) -> int:
    """Floating-point operations of one forward pass (a multiply-add counts 2), by ``FlopCounterMode``.

    The input is made on the model's device: on the meta device nothing is computed, only shapes.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    shape = _check_shape(input_shape)
    first = next(iter(model.parameters()), None)
    x = torch.zeros(shape, device=first.device if first is not None else "cpu")
    was_training = model.training
    model.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def cpu_latency(
    model: nn.Module, input_shape: Sequence[int] = (1, 3, 224, 224), repeats: int = 3, warmup: int = 1
) -> float:
    """Median wall-clock seconds of one forward pass on the CPU (eval mode, no gradients)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    if not isinstance(repeats, int) or repeats < 1 or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"repeats must be an int >= 1 and warmup an int >= 0, got {repeats!r} and {warmup!r}")
    x = torch.rand(_check_shape(input_shape))
    model = model.cpu().eval()
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field in input pixels of a stack of ``(kernel_size, stride)`` layers (convolutions or pools).

    Each layer adds ``(kernel - 1) * jump`` pixels, where ``jump`` is the product of the strides before it:
    three 3x3 stride-1 convolutions see 7x7 pixels, as one 7x7 does.
    """
    field, jump = 1, 1
    for layer in layers:
        if len(layer) != 2 or any(not isinstance(v, int) or v < 1 for v in layer):
            raise ValueError(f"each layer is a (kernel_size, stride) pair of positive ints, got {layer!r}")
        kernel, stride = layer
        field += (kernel - 1) * jump
        jump *= stride
    return field


def classification_models() -> list[str]:
    """The names of torchvision's ImageNet classification models (``torchvision.models.list_models``)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


@contextmanager
def _tensors_of_new_modules_on_meta() -> Iterator[None]:
    """Move every parameter and buffer to the meta device as it is registered. For builders that compute
    with tensors while building (RegNet's widths), which ``with torch.device("meta")`` cannot run."""
    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(module, name, param)

    def buffer(module: nn.Module, name: str, tensor: torch.Tensor | None, persistent: bool = True) -> None:
        register_buffer(module, name, tensor.to("meta") if tensor is not None else None, persistent)

    nn.Module.register_parameter, nn.Module.register_buffer = parameter, buffer  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, register_buffer  # type: ignore[method-assign]


def meta_model(name: str, **kwargs: Any) -> nn.Module:
    """torchvision's builder ``name`` run on the meta device: the full-size network, no memory, no weights."""
    import torchvision

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # GoogLeNet/Inception-v3 announce a new default init
        try:
            with torch.device("meta"):
                return torchvision.models.get_model(name, **kwargs)
        except NotImplementedError:  # the builder needs real numbers (RegNet)
            with _tensors_of_new_modules_on_meta():
                return torchvision.models.get_model(name, **kwargs)


def model_zoo(names: Sequence[str] | None = None, count_ops: bool = True) -> pd.DataFrame:
    """One row per torchvision classification model, nothing downloaded, nothing computed but shapes.

    Columns: ``model``; ``params`` (its builder, built on the meta device); ``top1`` (ImageNet-1K acc@1
    of its default weights, from their metadata); ``weights_params``, ``weights_gflops`` (the
    metadata's ``num_params`` and ``_ops``: torchvision's "GFLOPS" count a multiply-add once) and
    ``resolution`` (the weights' evaluation crop); ``gflops`` (``count_flops`` at that resolution,
    a multiply-add counted twice) when ``count_ops``.
    """
    import torchvision

    rows = []
    for name in names if names is not None else classification_models():
        weights = torchvision.models.get_model_weights(name).DEFAULT
        resolution = int(weights.transforms().crop_size[0])
        model = meta_model(name)
        row = {
            "model": name,
            "params": count_parameters(model, trainable_only=False),
            "top1": float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            "weights_params": int(weights.meta["num_params"]),
            "weights_gflops": float(weights.meta["_ops"]),
            "resolution": resolution,
        }
        if count_ops:
            if name.startswith("vit_") and weights.meta["num_params"] != row["params"]:  # ViT-H's are for 518x518
                model = meta_model(name, image_size=resolution)
            row["gflops"] = count_flops(model, (1, 3, resolution, resolution)) / 1e9
        rows.append(row)
    return pd.DataFrame(rows)
