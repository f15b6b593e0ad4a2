"""What a training loop is fed: datasets of ``(image, target)`` items, checked batch by batch.

Introduced in notebook 05 (U-Net training).

Examples
--------
>>> import numpy as np
>>> data = as_dataset([(np.zeros((8, 8), np.float32), np.ones((8, 8), np.float32))], "data")
>>> [tuple(t.shape) for t in data[0]]
[(1, 8, 8), (1, 8, 8)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validate import check_array


class ArrayPairs(Dataset):
    """A Dataset over a list of ``(image, mask)`` (or ``(image, mask, weight)``) arrays.

    Each item becomes float32 tensors of shape (C, H, W): 2D arrays get a channel axis, 3D
    arrays are taken as channels-first. Values are kept as they are (no rescaling). For random
    patches, augmentation and targets made from label images, use the datasets of
    :mod:`bioimage_course.data` (e.g. ``PairDataset(images, labels, patch_size=...)``).

    Examples
    --------
    >>> ds = ArrayPairs([(np.zeros((8, 8), np.uint16), np.ones((8, 8), bool))])
    >>> [tuple(t.shape) for t in ds[0]], ds[0][0].dtype
    ([(1, 8, 8), (1, 8, 8)], torch.float32)
    """

    def __init__(self, pairs: Sequence[Sequence[Any]]) -> None:
        self.items = []
        for i, pair in enumerate(pairs):
            if not isinstance(pair, (tuple, list)) or len(pair) not in (2, 3):
                raise TypeError(
                    f"`pairs[{i}]` must be an (image, mask) or (image, mask, weight) tuple, "
                    f"got {type(pair).__name__}"
                )
            arrays = [
                check_array(a, f"pairs[{i}][{j}]", ndim=(2, 3), finite=True)
                for j, a in enumerate(pair)
            ]
            tensors = [
                torch.from_numpy(np.array(a[None] if a.ndim == 2 else a, dtype=np.float32))
                for a in arrays
            ]
            if tensors[0].shape[1:] != tensors[1].shape[1:]:
                raise ValueError(
                    f"image and mask of `pairs[{i}]` must have the same height and width, got "
                    f"{tuple(arrays[0].shape)} and {tuple(arrays[1].shape)}"
                )
            self.items.append(tuple(tensors))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return self.items[index]


def as_dataset(data: Any, name: str) -> Dataset:
    """``data`` as a Dataset: a list of ``(image, mask)`` pairs becomes :class:`ArrayPairs`."""
    if data is None:
        raise TypeError(f"`{name}` must be a torch Dataset or a list of (image, mask) pairs")
    if isinstance(data, (list, tuple)):
        data = ArrayPairs(data)
    if not hasattr(data, "__getitem__") or not hasattr(data, "__len__"):
        raise TypeError(
            f"`{name}` must be a torch Dataset or a list of (image, mask) pairs, got "
            f"{type(data).__name__}"
        )
    if len(data) == 0:
        raise ValueError(f"`{name}` is empty: it must contain at least one (image, target) item")
    return data


def check_batch(batch: Any, where: str, *, binary: bool) -> tuple[torch.Tensor, ...]:
    """Check one batch from the DataLoader (still on the CPU) and return it as a tuple.

    ``where`` names the batch in error messages; ``binary`` requires 0/1 targets (the named
    losses).
    """
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        raise TypeError(
            f"{where}: a dataset item must be (image, target) or (image, target, weight), got "
            f"{type(batch).__name__} of length {len(batch) if hasattr(batch, '__len__') else '?'}"
        )
    image, target = batch[0], batch[1]
    if image.ndim != 4 or target.ndim != 4:
        raise ValueError(
            f"{where}: images and targets must be (C, H, W) tensors, got a batch of images of "
            f"shape {tuple(image.shape)} and targets {tuple(target.shape)}"
        )
    if image.shape[-2:] != target.shape[-2:] or image.shape[0] != target.shape[0]:
        raise ValueError(
            f"{where}: image and target shapes do not match: images {tuple(image.shape)}, "
            f"targets {tuple(target.shape)}"
        )
    if binary:
        outside = (target != 0) & (target != 1)
        if bool(outside.any()):
            values = torch.unique(target[outside])[:5].tolist()
            raise ValueError(
                f"{where}: targets of a binary loss must be 0 or 1, got values such as {values}; "
                "for instance label images use `labels > 0` as the mask"
            )
    return tuple(batch)


def compute_loss(loss_fn, logits: torch.Tensor, targets: list[torch.Tensor], where: str):
    """The loss of one batch, in float32 (also under autocast); ``targets`` is ``[target]`` or
    ``[target, weight]``. Raises if the channels disagree or the loss is not finite."""
    if logits.shape[1] != targets[0].shape[1]:
        raise ValueError(
            f"{where}: the model predicts {logits.shape[1]} channel(s) but the targets "
            f"have {targets[0].shape[1]}"
        )
    loss = loss_fn(logits.float(), *[t.float() for t in targets])
    if not torch.isfinite(loss):
        raise FloatingPointError(
            f"the loss is {loss.item()} at {where}; lower the learning rate or check that the "
            "images of this batch are finite and normalised"
        )
    return loss
