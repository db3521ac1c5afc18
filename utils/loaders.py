"""A fast in-memory batch iterator for datasets that fit in memory, such as MNIST.

``torchvision.datasets.MNIST`` + ``DataLoader`` turns every image into a PIL image, converts it
back to a tensor and collates the batch one item at a time. For 28x28 digits that bookkeeping
costs more than the network itself on a CPU. :class:`TensorLoader` slices whole batches out of one
tensor instead, and applies an optional augmentation to the whole batch at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

BatchTransform = Callable[[torch.Tensor], torch.Tensor]


class TensorLoader:
    """Iterate over ``(inputs, targets)`` in mini-batches, like a ``DataLoader`` over tensors.

    Args:
        inputs: tensor whose first dimension indexes examples, e.g. images ``(N, 1, 28, 28)``.
        targets: tensor with the same first dimension, e.g. labels ``(N,)``.
        batch_size: examples per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: draw a new random order every epoch.
        transform: optional function applied to each batch of inputs (on-the-fly augmentation).
        seed: seed of this loader's own random generator, so its order does not depend on
            whatever else consumed random numbers.
        drop_last: drop the last incomplete batch.

    >>> loader = TensorLoader(images, labels, batch_size=128, shuffle=True)
    >>> for x, y in loader: ...
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int = 128,
        shuffle: bool = False,
        transform: BatchTransform | None = None,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
            raise TypeError(
                f"inputs and targets must be tensors, got {type(inputs).__name__} and {type(targets).__name__}"
            )
        if inputs.ndim == 0 or targets.ndim == 0 or len(inputs) != len(targets):
            raise ValueError(
                "inputs and targets must have the same first dimension, got shapes "
                f"{tuple(inputs.shape)} and {tuple(targets.shape)}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.inputs = inputs
        self.targets = targets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.transform = transform
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        full, rest = divmod(len(self.inputs), self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    @property
    def num_examples(self) -> int:
        """Number of examples in one epoch (what a DataLoader calls ``len(dataset)``)."""
        return len(self) * self.batch_size if self.drop_last else len(self.inputs)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.inputs)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for batch in range(len(self)):
            start = batch * self.batch_size
            stop = min(start + self.batch_size, n)
            if order is None:
                x, y = self.inputs[start:stop], self.targets[start:stop]
            else:
                index = order[start:stop]
                x, y = self.inputs[index], self.targets[index]
            if self.transform is not None:
                x = self.transform(x)
            yield x, y
