"""A simulated CUDA GPU for a CPU-only machine, to test that code keeps its tensors on one device.

Inside ``with simulated_gpu():``

- ``torch.cuda.is_available()`` is True (one device), so ``utils.get_device()`` returns ``cuda``;
- ``tensor.to("cuda")``, ``tensor.cuda()``, ``module.to("cuda")`` and factories given
  ``device="cuda"`` return :class:`SimulatedGpuTensor`: real values computed on the CPU, whose
  ``.device`` says ``cuda:0``;
- an operation that meets a simulated-GPU tensor and a CPU tensor (other than a 0-dim scalar, which
  PyTorch accepts) raises ``RuntimeError("Expected all tensors to be on the same device ...")``, as
  CUDA does; so do ``.numpy()`` on a GPU tensor and a CPU generator used for a GPU factory.

What it cannot see: code that takes data-dependent shortcuts around torch (pure Python on
``.tolist()`` results is fine on a real GPU too), and CUDA kernels' own numerics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

CUDA = torch.device("cuda", 0)


class SimulatedGpuTensor(torch.Tensor):
    """A CPU tensor that plays a tensor on ``cuda:0`` (see the module docstring)."""

    __torch_function__ = torch._C._disabled_torch_function_impl  # the mode below does the work

    def __deepcopy__(self, memo: dict) -> "SimulatedGpuTensor":
        with torch._C.DisableTorchFunctionSubclass():
            copied = self.detach().clone().requires_grad_(self.requires_grad)
        memo[id(self)] = _mark(copied, gpu=True)
        return copied

    def __reduce_ex__(self, protocol: int) -> Any:
        # torch.save writes a CUDA tensor as a plain tensor (loaded with map_location="cpu" it is one)
        with torch._C.DisableTorchFunctionSubclass():
            plain = _mark(self.detach().clone(), gpu=False)
        return plain.__reduce_ex__(protocol)


def _is_gpu(value: Any) -> bool:
    return isinstance(value, SimulatedGpuTensor)


def _mark(value: Any, gpu: bool) -> Any:
    """Mark a tensor that an operation just made as on the GPU (or the CPU), in place: no alias, so
    leaves stay leaves and ``.grad`` keeps working."""
    if isinstance(value, torch.Tensor) and _is_gpu(value) != gpu:
        value.__class__ = SimulatedGpuTensor if gpu else torch.Tensor
    return value


def _is_cuda(device: Any) -> bool:
    if isinstance(device, int):
        return True  # tensor.to(0) / cuda(0)
    return device is not None and torch.device(device).type == "cuda"


_MOVES = {torch.Tensor.to, torch.Tensor.cuda, torch.Tensor.cpu}
_GPU_ATTRIBUTES = {
    torch.Tensor.device.__get__: lambda t: CUDA,
    torch.Tensor.is_cuda.__get__: lambda t: True,
    torch.Tensor.get_device: lambda t: 0,
}
# Indexing a GPU tensor with CPU indices, and copying between devices, are allowed by PyTorch.
_MIXING_ALLOWED = {
    torch.Tensor.__getitem__, torch.Tensor.__setitem__, torch.Tensor.copy_, torch.Tensor.to,
    torch.Tensor.module_load,  # load_state_dict of a CPU checkpoint into a GPU model copies, as on CUDA
}
# Bookkeeping that computes nothing: passed through untouched.
_PASS_THROUGH = {torch._has_compatible_shallow_copy_type}


class _SimulatedGpuMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: C901 - one dispatcher
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        tensors = [value for value in flat if isinstance(value, torch.Tensor)]
        on_gpu = any(_is_gpu(t) for t in tensors)
        self_on_gpu = bool(args) and _is_gpu(args[0])

        if func in _PASS_THROUGH:
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs)
        if func in _GPU_ATTRIBUTES and self_on_gpu:
            return _GPU_ATTRIBUTES[func](args[0])
        if func in (torch.Tensor.numpy, torch.Tensor.__array__) and self_on_gpu:
            raise TypeError(
                "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first."
            )
        if func in _MOVES:
            return self._move(func, args, kwargs)

        wants_gpu = _is_cuda(kwargs.get("device"))
        if wants_gpu:
            generator = kwargs.get("generator")
            if isinstance(generator, torch.Generator) and generator.device.type != "cuda":
                raise RuntimeError("Expected a 'cuda' device type for generator but found 'cpu'")
            kwargs = {**kwargs, "device": "cpu"}
        if func in (torch.Tensor.__getitem__, torch.Tensor.__setitem__) and not self_on_gpu:
            indices, _ = tree_flatten(args[1])
            if any(_is_gpu(t) and t.ndim > 0 for t in indices):
                raise RuntimeError("indices should be either on cpu or on the same device as the indexed tensor (cpu)")
        if on_gpu and func not in _MIXING_ALLOWED:
            cpu_tensors = [t for t in tensors if not _is_gpu(t) and t.ndim > 0]
            if cpu_tensors:
                raise RuntimeError(
                    f"Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! "
                    f"(in {getattr(func, '__name__', func)}, simulated GPU)"
                )

        with torch._C.DisableTorchFunctionSubclass():
            result = func(*args, **kwargs)
        if (on_gpu or wants_gpu) and func is not torch.Tensor.__setitem__:
            inputs = {id(t) for t in tensors}
            return tree_map(lambda out: out if id(out) in inputs else _mark(out, gpu=True), result)
        return result

    @staticmethod
    def _move(func: Any, args: tuple, kwargs: dict) -> Any:
        """``Tensor.to/.cuda/.cpu``: change the dtype for real, the device by marking a copy."""
        source, rest = args[0], args[1:]
        dtype, non_blocking = None, False
        copy = bool(kwargs.pop("copy", False)) if func is torch.Tensor.to else False
        if func is torch.Tensor.cuda:
            to_gpu = True
        elif func is torch.Tensor.cpu:
            to_gpu = False
        elif rest and isinstance(rest[0], torch.Tensor):  # tensor.to(other)
            to_gpu, dtype = _is_gpu(rest[0]), rest[0].dtype
        else:
            with torch._C.DisableTorchFunctionSubclass():
                device, dtype, non_blocking, _ = torch._C._nn._parse_to(*rest, **kwargs)
            to_gpu = _is_gpu(source) if device is None else device.type == "cuda"
        with torch._C.DisableTorchFunctionSubclass():
            moved = source.to(dtype=dtype or source.dtype, non_blocking=non_blocking)
            if moved is source and (copy or to_gpu != _is_gpu(source)):
                moved = source.clone()  # a real move copies the tensor (and autograd follows the copy)
        return moved if moved is source else _mark(moved, gpu=to_gpu)


def _module_on_gpu(module: torch.nn.Module) -> bool:
    return any(_is_gpu(t) for t in [*module.parameters(), *module.buffers()])


def _hook_sees_gpu_gradients(register: Any) -> Any:
    """Wrap ``Module.register_full_backward_hook``: the gradients autograd hands a hook are made in C++,
    unmarked; on a real GPU they are on the module's device, so mark them for a module on the GPU."""

    def register_marked(module: torch.nn.Module, hook: Any, *args: Any, **kwargs: Any) -> Any:
        def marked_hook(mod: torch.nn.Module, grad_input: Any, grad_output: Any) -> Any:
            if _module_on_gpu(mod):
                grad_input, grad_output = (tree_map(lambda t: _mark(t, gpu=True), g) for g in (grad_input, grad_output))
                with _SimulatedGpuMode():  # autograd runs hooks outside the mode's stack
                    return hook(mod, grad_input, grad_output)
            return hook(mod, grad_input, grad_output)

        return register(module, marked_hook, *args, **kwargs)

    return register_marked


def _fake_rng_state() -> torch.Tensor:
    return torch.zeros(16, dtype=torch.uint8)


@contextlib.contextmanager
def simulated_gpu() -> Iterator[torch.device]:
    """Run the block as if one CUDA GPU were present; yields ``torch.device("cuda", 0)``."""
    patches = [
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.device_count", return_value=1),
        mock.patch("torch.cuda.get_device_name", return_value="Simulated GPU"),
        mock.patch("torch.cuda.current_device", return_value=0),
        mock.patch("torch.cuda.synchronize", return_value=None),
        mock.patch("torch.cuda.get_rng_state", side_effect=_fake_rng_state),
        mock.patch("torch.cuda.get_rng_state_all", side_effect=lambda: [_fake_rng_state()]),
        mock.patch("torch.cuda.set_rng_state", return_value=None),
        mock.patch("torch.cuda.set_rng_state_all", return_value=None),
        mock.patch("torch.cuda.manual_seed", return_value=None),
        mock.patch("torch.cuda.manual_seed_all", return_value=None),
        mock.patch("torch.cuda.is_current_stream_capturing", return_value=False),
        mock.patch.object(torch.nn.Module, "register_full_backward_hook",
                          _hook_sees_gpu_gradients(torch.nn.Module.register_full_backward_hook)),
        mock.patch("torch.accelerator.current_stream", return_value=mock.Mock(is_capturing=lambda: False)),
    ]
    swap = torch.__future__.get_swap_module_params_on_conversion()
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        # module.to("cuda") swaps each parameter in place, so optimizers built before the move stay valid
        torch.__future__.set_swap_module_params_on_conversion(True)
        stack.callback(torch.__future__.set_swap_module_params_on_conversion, swap)
        stack.enter_context(_SimulatedGpuMode())
        yield CUDA


def on_gpu(value: Any) -> bool:
    """True when every tensor in ``value`` (a tensor, a model or a nested structure) is a simulated-GPU one."""
    if isinstance(value, torch.nn.Module):
        value = list(value.parameters()) + list(value.buffers())
    flat, _ = tree_flatten(value)
    tensors = [v for v in flat if isinstance(v, torch.Tensor)]
    return bool(tensors) and all(_is_gpu(t) for t in tensors)
