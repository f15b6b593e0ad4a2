"""Applying a trained network to images of any size: whole, or tile by tile (notebook 05).

A slide scan does not fit through a network at once. :func:`predict_tiled` cuts the image into
the overlapping tiles of notebook 04 (:func:`bioimage_course.patches.tile_slices`), predicts a
batch of tiles at a time and blends them with :func:`bioimage_course.patches.stitch`, so memory
stays bounded: the output is the only large array. With the overlap rule of
:mod:`bioimage_course.patches` (the default) the result equals :func:`predict_image`, the
whole-image prediction, up to float rounding.

>>> import numpy as np
>>> from bioimage_course.models import UNet
>>> _ = torch.manual_seed(0)
>>> model = UNet(depth=2, base_channels=4)
>>> image = np.random.default_rng(0).random((100, 140)).astype(np.float32)
>>> tiled = predict_tiled(model, image, tile=64, device="cpu")
>>> whole = predict_image(model, image, device="cpu")
>>> tiled.shape, bool(np.allclose(tiled, whole, atol=1e-5))
((100, 140), True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from skimage.measure import label as connected_components
from skimage.segmentation import expand_labels
from torch import nn

from ._validate import check_array, check_choice, check_in_range, check_int
from .device import autocast, evaluating, get_device, prefers_channels_last, to_device
from .models import input_channels, pad_to_multiple
from .normalize import percentile_range
from .patches import blend_profile, stitch, tile_slices  # noqa: F401 (re-exported)
from .receptive_field import context_margin, recommended_overlap, size_multiple

BLENDS = ("smooth", "uniform")
OUTPUTS = ("probability", "logits")


# ---------------------------------------------------------------------------------------------
# Small helpers shared by whole-image and tiled prediction
# ---------------------------------------------------------------------------------------------
def _channels_first(image: Any, channel_axis: int | None, n_channels: int) -> np.ndarray:
    """Return ``image`` as a (C, H, W) array (a view when possible)."""
    arr = check_array(image, "image", ndim=(2, 3), finite=True)
    if channel_axis is None:
        if arr.ndim != 2:
            raise ValueError(
                f"`image` has shape {arr.shape}: pass `channel_axis` for a multichannel image"
            )
        arr = arr[None]
    else:
        if arr.ndim != 3:
            raise ValueError(f"`image` must be 3D with `channel_axis`, got shape {arr.shape}")
        arr = np.moveaxis(arr, channel_axis, 0)
    if arr.shape[0] != n_channels:
        raise ValueError(
            f"the model expects {n_channels} input channel(s), `image` has {arr.shape[0]}"
        )
    return arr


def _normalizer(image: np.ndarray, normalize: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A function applied to each tile, turning raw values into the model's input scale.

    Percentiles are computed once over the whole image, so every tile is scaled the same way.
    """
    if normalize is None:
        return lambda tile: tile.astype(np.float32, copy=False)
    if callable(normalize):
        return lambda tile: np.asarray(normalize(tile), dtype=np.float32)
    check_choice(normalize, "normalize", (None, "percentile"))
    low, high = percentile_range(image, 1.0, 99.8, axis=(1, 2))
    low = low.astype(np.float32)
    scale = (1.0 / (high - low + 1e-20)).astype(np.float32)
    return lambda tile: (tile.astype(np.float32) - low) * scale


def _activation(logits: torch.Tensor, output: str) -> torch.Tensor:
    logits = logits.float()
    if output == "logits":
        return logits
    if logits.shape[1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)


def _result(out: np.ndarray) -> np.ndarray:
    return out[0] if out.shape[0] == 1 else out


# ---------------------------------------------------------------------------------------------
# Whole-image prediction
# ---------------------------------------------------------------------------------------------
def predict_image(
    model: nn.Module,
    image: Any,
    *,
    normalize: str | Callable | None = None,
    output: str = "probability",
    channel_axis: int | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Predict a whole image in one forward pass; float32 (H, W), or (C, H, W) for several outputs.

    The image (2D, or 3D with ``channel_axis``) is padded by reflection to a multiple of
    ``2**depth`` and the output cropped back. ``normalize``: ``None`` feeds the values as they are
    (normalise as for training), ``"percentile"`` maps the 1st and 99.8th percentile of each
    channel to 0 and 1, a function is applied to the image. ``output``: sigmoid (one channel) or
    softmax of the logits, or the logits.

    >>> model = nn.Conv2d(1, 1, kernel_size=1)
    >>> predict_image(model, np.zeros((5, 7)), device="cpu").shape
    (5, 7)
    """
    check_choice(output, "output", OUTPUTS)
    dev = get_device(device)
    arr = _channels_first(image, channel_axis, input_channels(model))
    x = torch.from_numpy(np.ascontiguousarray(_normalizer(arr, normalize)(arr)))[None]
    x, crop = pad_to_multiple(x, _input_multiple(model))
    model.to(dev)
    x = to_device(x, dev, channels_last=prefers_channels_last(dev))
    with evaluating(model), autocast(dev):
        y = _activation(model(x), output)
    return _result(y[0][:, crop[0], crop[1]].cpu().numpy())


# ---------------------------------------------------------------------------------------------
# Tiled prediction
# ---------------------------------------------------------------------------------------------
def default_overlap(model: nn.Module) -> tuple[int, int]:
    """``(overlap, margin)`` for :func:`predict_tiled`, from the model's receptive field.

    ``margin`` is the reach of the zero padding at a tile edge
    (:func:`~bioimage_course.receptive_field.context_margin`), ``overlap`` twice that, rounded up
    to a multiple of ``2**depth``; ``(64, 32)`` for a network that cannot be analysed.

    >>> from bioimage_course.models import UNet
    >>> default_overlap(UNet(depth=2, base_channels=2))
    (48, 23)
    """
    try:
        return recommended_overlap(model), context_margin(model)
    except (TypeError, ValueError):
        return 64, 32


def _input_multiple(model: nn.Module) -> int:
    """Height and width given to the model must be multiples of this (``2**depth``)."""
    try:
        return size_multiple(model)
    except (TypeError, ValueError):  # a network the receptive-field analysis cannot read
        return 1


def _tile_and_overlap(model, tile, overlap, multiple: int, shape) -> tuple[tuple, tuple, int]:
    """Checked ``(tile_hw, overlap_hw, margin)``; the tile is clipped to the (padded) image."""
    tiles_hw = (tile, tile) if np.isscalar(tile) else tuple(tile)
    if len(tiles_hw) != 2:
        raise ValueError(f"`tile` must be an int or (height, width), got {tile!r}")
    for t in tiles_hw:
        check_int(t, "tile", 1)
        if t % multiple:
            raise ValueError(f"`tile` must be a multiple of 2**depth = {multiple}, got {tile!r}")
    default, reach = default_overlap(model)
    chosen = overlap is not None
    overlap = check_int(overlap, "overlap", 0) if chosen else default
    if overlap % multiple:
        raise ValueError(f"`overlap` must be a multiple of 2**depth = {multiple}, got {overlap}")
    tiles_hw = tuple(min(t, n) for t, n in zip(tiles_hw, shape, strict=True))
    for t, n in zip(tiles_hw, shape, strict=True):
        if t < n and overlap >= t:
            if not chosen:
                raise ValueError(
                    f"`tile` {tile!r} is too small for this model: tiles must be larger than "
                    f"the overlap its receptive field needs ({overlap} px); use at least "
                    f"{overlap + multiple} or pass a smaller `overlap`"
                )
            raise ValueError(f"`overlap` must be smaller than `tile`, got {overlap} and {tile!r}")
    # along an axis that one tile covers there is nothing to overlap
    overlaps = tuple(overlap if t < n else 0 for t, n in zip(tiles_hw, shape, strict=True))
    return tiles_hw, overlaps, min(reach, overlap // 2)


def _predicted_tiles(model, arr, windows, *, batch_size, normalizer, output, device, bar):
    """Yield the model's output for every window, computing ``batch_size`` tiles at a time."""
    channels_last = prefers_channels_last(device)
    with evaluating(model):
        for first in range(0, len(windows), batch_size):
            chunk = windows[first : first + batch_size]
            x = torch.from_numpy(np.stack([normalizer(arr[(slice(None), *w)]) for w in chunk]))
            if device.type == "cuda":
                x = x.pin_memory()
            x = to_device(x, device, channels_last=channels_last)
            with autocast(device):
                y = _activation(model(x), output).cpu().numpy()
            if bar is not None:
                bar.update(len(chunk))
            yield from y


def predict_tiled(
    model: nn.Module,
    image: Any,
    *,
    tile: int | tuple[int, int] = 256,
    overlap: int | None = None,
    batch_size: int = 4,
    blend: str = "smooth",
    normalize: str | Callable | None = None,
    output: str = "probability",
    channel_axis: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Predict an image of any size tile by tile, blending overlapping tiles smoothly.

    ``tile`` and ``overlap`` are multiples of ``2**depth``, so tile origins lie on the pooling
    grid; the default overlap (:func:`default_overlap`) makes the result equal
    :func:`predict_image` for a network without image-wide statistics (batch norm in eval mode is
    fine). ``blend`` as in :func:`~bioimage_course.patches.stitch`; ``normalize`` and ``output``
    as in :func:`predict_image` (percentiles over the whole image, a callable per tile). The image
    is read tile by tile, copied once only if it needs padding.

    >>> model = nn.Conv2d(1, 1, kernel_size=1)
    >>> with torch.no_grad():
    ...     _ = model.weight.fill_(1.0), model.bias.zero_()
    >>> image = np.random.default_rng(0).random((50, 70)).astype(np.float32)
    >>> out = predict_tiled(model, image, tile=16, overlap=4, output="logits", device="cpu")
    >>> bool(np.allclose(out, image))
    True
    """
    check_choice(blend, "blend", BLENDS)
    check_choice(output, "output", OUTPUTS)
    check_int(batch_size, "batch_size", 1)
    dev = get_device(device)
    multiple = _input_multiple(model)
    arr = _channels_first(image, channel_axis, input_channels(model))
    height, width = arr.shape[1:]
    if height % multiple or width % multiple:  # pad (a copy) only if the model needs it
        arr = pad_to_multiple(torch.from_numpy(np.ascontiguousarray(arr)), multiple)[0].numpy()
    tile_hw, overlap, margin = _tile_and_overlap(model, tile, overlap, multiple, arr.shape[1:])
    windows = tile_slices(arr.shape[1:], tile_hw, overlap)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(windows), desc="tiles", unit="tile")
    model.to(dev)
    tiles = _predicted_tiles(
        model, arr, windows, batch_size=batch_size, normalizer=_normalizer(arr, normalize),
        output=output, device=dev, bar=bar,
    )  # fmt: skip
    try:
        out = stitch(tiles, windows, arr.shape[1:], blend=blend, margin=margin)
    finally:
        if bar is not None:
            bar.close()
    return _result(out[:, :height, :width])


# ---------------------------------------------------------------------------------------------
# From probabilities to objects
# ---------------------------------------------------------------------------------------------
def instances_from_probability(
    probability: Any, *, threshold: float = 0.5, min_size: int = 0, grow_px: int = 0
) -> np.ndarray:
    """Label the objects of a foreground probability map: threshold, 8-connected components.

    Objects under ``min_size`` pixels are removed; ``grow_px`` grows every object into the
    background without merging (:func:`skimage.segmentation.expand_labels`), giving back the
    gaps that :func:`bioimage_course.losses.separated_mask` targets took away. Touching objects
    merge unless the network predicts background between them (notebook 08 does better).

    >>> p = np.zeros((5, 8)); p[1:3, 1:3] = 0.9; p[1:4, 5:7] = 0.8; p[4, 0] = 0.7
    >>> labels = instances_from_probability(p, min_size=2)
    >>> labels.max(), (labels > 0).sum()
    (np.int32(2), np.int64(10))
    >>> (instances_from_probability(p, min_size=2, grow_px=1) > 0).sum()
    np.int64(28)
    """
    prob = check_array(probability, "probability", ndim=2, finite=True)
    check_in_range(threshold, "threshold", 0, 1)
    check_in_range(min_size, "min_size", 0)
    check_in_range(grow_px, "grow_px", 0)
    labels = connected_components(prob > threshold, connectivity=2)
    if min_size > 1:
        sizes = np.bincount(labels.ravel())
        too_small = sizes < min_size
        too_small[0] = False
        labels = connected_components(~too_small[labels] & (labels > 0), connectivity=2)
    if grow_px > 0:
        labels = expand_labels(labels, distance=grow_px)
    return labels.astype(np.int32)
