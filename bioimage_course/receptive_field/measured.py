"""The measured receptive field: which input pixels change one output pixel, and how much.

Notebook 06. :func:`dependency_mask` finds the input pixels with a non-zero gradient of one
output pixel (in a copy with positive weights, so nothing cancels); tests check it equals the
analytic box exactly. :func:`effective_receptive_field` measures what the network actually
uses (Luo et al., 2016): much smaller than the window and roughly Gaussian.

>>> mask_box(np.ones((2, 2), bool))
((0, 2), (0, 2))
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validate import as_rng, check_array, check_in_range, check_int
from ..device import evaluating, get_device
from ..models import input_channels
from .advice import min_patch_size
from .analytic import size_multiple


class _MeanPool(nn.Module):
    """Average pooling with dilation, standing in for a max pooling of the same geometry."""

    def __init__(self, kernel, stride, padding, dilation) -> None:
        super().__init__()
        self.kernel = nn.modules.utils._pair(kernel)
        self.stride = nn.modules.utils._pair(stride)
        self.padding = nn.modules.utils._pair(padding)
        self.dilation = nn.modules.utils._pair(dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        weight = x.new_full((channels, 1, *self.kernel), 1.0 / math.prod(self.kernel))
        return nn.functional.conv2d(
            x,
            weight,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=channels,
        )


def positive_probe(model: nn.Module) -> nn.Module:
    """A float64 copy of ``model`` in which every input pixel's influence is visible.

    Convolution weights become positive constants and biases zero (contributions only add);
    max pooling becomes average pooling of the same geometry (a max passes the gradient to one
    input only); normalisation layers become identities. The connections between pixels, and so
    the receptive field, are unchanged; ``model`` itself is not modified.

    >>> from bioimage_course.models import UNet
    >>> probe = positive_probe(UNet(depth=1, base_channels=2))
    >>> type(probe.pools[0]).__name__, probe.head.weight.dtype
    ('_MeanPool', torch.float64)
    """
    probe = copy.deepcopy(model).to(torch.float64).eval()
    for name, module in list(probe.named_modules()):
        if not name:
            continue
        parent_name, _, key = name.rpartition(".")
        parent = probe.get_submodule(parent_name) if parent_name else probe
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
        elif isinstance(module, nn.MaxPool2d):
            stride = module.stride if module.stride is not None else module.kernel_size
            setattr(
                parent, key, _MeanPool(module.kernel_size, stride, module.padding, module.dilation)
            )
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)):
            setattr(parent, key, nn.Identity())
    for parameter in probe.parameters():
        parameter.requires_grad_(False)
    return probe


def _check_input_shape(input_shape: Any) -> tuple[int, int]:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
        raise ValueError(f"`input_shape` must be (height, width), got {input_shape!r}")
    height, width = (int(v) for v in input_shape)
    if height < 1 or width < 1:
        raise ValueError(f"`input_shape` must be positive, got {input_shape!r}")
    return height, width


def _check_positions(positions: Any, output_shape: tuple[int, int]) -> list[tuple[int, int]]:
    arr = np.asarray(positions)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.dtype.kind not in "iu":
        raise ValueError(f"`position` must be (row, col) or a list of them, got {positions!r}")
    for r, c in arr:
        if not (0 <= r < output_shape[0] and 0 <= c < output_shape[1]):
            raise ValueError(
                f"`position` {(int(r), int(c))} is outside the output of shape {output_shape}"
            )
    return [(int(r), int(c)) for r, c in arr]


def dependency_mask(
    model: nn.Module,
    position: Any,
    *,
    input_shape: tuple[int, int],
    channel: int = 0,
    device: Any = None,
) -> np.ndarray:
    """Measure which input pixels an output pixel depends on: the non-zero input gradient.

    Taken in :func:`positive_probe` of the model (copied, never modified) on an all-ones input of
    ``input_shape``. One ``(row, col)`` gives a mask of ``input_shape``; several give a stack.

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, dilation=1), nn.MaxPool2d(2))
    >>> mask = dependency_mask(net, (2, 2), input_shape=(8, 8))
    >>> np.argwhere(mask).min(axis=0).tolist(), np.argwhere(mask).max(axis=0).tolist()
    ([3, 3], [6, 6])
    """
    height, width = _check_input_shape(input_shape)
    dev = get_device(device)
    if dev.type == "mps":  # MPS has no float64
        dev = torch.device("cpu")
    probe = positive_probe(model).to(dev)
    in_channels = input_channels(probe)
    with torch.no_grad():
        out_shape = probe(
            torch.ones(1, in_channels, height, width, dtype=torch.float64, device=dev)
        ).shape
    positions = _check_positions(position, tuple(out_shape[-2:]))
    if not 0 <= channel < out_shape[1]:
        raise ValueError(f"`channel` must be in [0, {out_shape[1] - 1}], got {channel}")
    x = torch.ones(len(positions), in_channels, height, width, dtype=torch.float64, device=dev)
    x.requires_grad_(True)
    y = probe(x)
    rows = torch.tensor([p[0] for p in positions], device=dev)
    cols = torch.tensor([p[1] for p in positions], device=dev)
    picked = y[torch.arange(len(positions), device=dev), channel, rows, cols]
    (grad,) = torch.autograd.grad(picked.sum(), x)  # samples are independent: one pass for all
    mask = (grad != 0).any(dim=1).cpu().numpy()
    return mask[0] if np.asarray(position).ndim == 1 else mask


def mask_box(mask: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Half-open ``((row_start, row_stop), (col_start, col_stop))`` bounding box of ``mask``.

    >>> mask_box(np.pad(np.ones((2, 3), bool), 1))
    ((1, 3), (1, 4))
    """
    mask = check_array(mask, "mask", ndim=2)
    where = np.argwhere(mask)
    if where.size == 0:
        raise ValueError("`mask` must contain at least one True pixel")
    lo, hi = where.min(axis=0), where.max(axis=0) + 1
    return (int(lo[0]), int(hi[0])), (int(lo[1]), int(hi[1]))


def effective_receptive_field(
    model: nn.Module,
    *,
    input_shape: tuple[int, int] | None = None,
    position: tuple[int, int] | None = None,
    images: Any = None,
    n_samples: int = 8,
    channel: int = 0,
    rng: Any = None,
    device: Any = None,
) -> np.ndarray:
    """The effective receptive field: how strongly each input pixel moves one output pixel.

    Luo et al. (NeurIPS 2016) back-propagate the gradient of one output pixel (default the
    centre) to the input; averaged over inputs, its magnitude shows which part of the window the
    network really uses: roughly Gaussian and much smaller, as the centre is reached through many
    paths and the border through few. Inputs are ``images`` (normalised) or ``n_samples`` of
    noise of ``input_shape`` (default just larger than :func:`min_patch_size`). The model runs in
    eval mode on ``device`` and is left as it was. Returns the map, scaled to sum 1.

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    >>> erf = effective_receptive_field(net, input_shape=(9, 9), rng=0)
    >>> erf.shape, round(float(erf.sum()), 6), int(np.count_nonzero(erf))
    ((9, 9), 1.0, 25)
    """
    dev = get_device(device)
    in_channels = input_channels(model)
    if images is not None:
        arr = check_array(images, "images", ndim=(3, 4), finite=True)
        if arr.ndim == 3:
            arr = arr[:, None]
        x = torch.as_tensor(arr, dtype=torch.float32, device=dev)
    else:
        if input_shape is None:
            side = min_patch_size(model) + 2 * size_multiple(model)
            input_shape = (side, side)
        height, width = _check_input_shape(input_shape)
        check_int(n_samples, "n_samples", 1)
        noise = as_rng(rng).standard_normal((n_samples, in_channels, height, width))
        x = torch.as_tensor(noise, dtype=torch.float32, device=dev)
    home = next((p.device for p in model.parameters()), dev)
    try:
        with evaluating(model.to(dev), gradients=True):  # on `dev`, then put back where it was
            x.requires_grad_(True)
            y = model(x)
            if position is None:
                position = (y.shape[-2] // 2, y.shape[-1] // 2)
            (r, c) = _check_positions(position, tuple(y.shape[-2:]))[0]
            if not 0 <= channel < y.shape[1]:
                raise ValueError(f"`channel` must be in [0, {y.shape[1] - 1}], got {channel}")
            (grad,) = torch.autograd.grad(y[:, channel, r, c].sum(), x)
    finally:
        model.to(home)
    erf = grad.abs().sum(dim=1).mean(dim=0).double().cpu().numpy()
    total = erf.sum()
    return erf / total if total > 0 else erf


def default_center(shape: tuple[int, ...], center: Any) -> tuple[float, float]:
    if center is None:  # the pixel effective_receptive_field uses by default
        return (shape[0] // 2, shape[1] // 2)
    return float(center[0]), float(center[1])


def radial_profile(
    image: Any, *, center: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``image`` over rings of width 1 around ``center`` (default the ERF's centre pixel).

    Ring ``k`` holds the pixels at distance ``[k - 0.5, k + 0.5)``; returns radii and means.

    >>> rr, cc = np.mgrid[:5, :5]
    >>> radius, profile = radial_profile(np.hypot(rr - 2, cc - 2))
    >>> radius.tolist(), np.round(profile, 2).tolist()
    ([0, 1, 2, 3], [0.0, 1.21, 2.16, 2.83])
    """
    arr = check_array(image, "image", ndim=2, finite=True).astype(np.float64)
    cy, cx = default_center(arr.shape, center)
    rr, cc = np.indices(arr.shape)
    ring = np.floor(np.hypot(rr - cy, cc - cx) + 0.5).astype(int).ravel()
    sums = np.bincount(ring, weights=arr.ravel())
    counts = np.bincount(ring)
    keep = counts > 0
    return np.flatnonzero(keep), sums[keep] / counts[keep]


def erf_radius(erf: Any, *, mass: float = 0.95, center: tuple[float, float] | None = None) -> float:
    """Radius (pixels) of the smallest disc around ``center`` that holds ``mass`` of ``erf``.

    >>> erf = np.zeros((7, 7)); erf[3, 3] = 0.5; erf[3, 5] = 0.5
    >>> erf_radius(erf, mass=0.5), erf_radius(erf, mass=1.0)
    (0.0, 2.0)
    """
    arr = check_array(erf, "erf", ndim=2, finite=True).astype(np.float64)
    mass = check_in_range(mass, "mass", 0, 1, low_inclusive=False)
    if arr.min() < 0:
        raise ValueError(f"`erf` must be non-negative, got minimum {arr.min()}")
    if arr.sum() <= 0:
        raise ValueError("`erf` must have a positive sum")
    cy, cx = default_center(arr.shape, center)
    rr, cc = np.indices(arr.shape)
    distance = np.hypot(rr - cy, cc - cx).ravel()
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(arr.ravel()[order]) / arr.sum()
    index = int(np.searchsorted(cumulative, mass - 1e-12))
    return float(distance[order][min(index, order.size - 1)])


def gaussian_sigma(erf: Any, *, center: tuple[float, float] | None = None) -> float:
    """Standard deviation (pixels) of the isotropic 2D Gaussian with the same spread as ``erf``.

    For a 2D Gaussian the mean squared distance from the centre is ``2 sigma**2``.

    Examples
    --------
    >>> rr, cc = np.mgrid[-30:31, -30:31]
    >>> round(gaussian_sigma(np.exp(-(rr**2 + cc**2) / (2 * 4.0**2))), 3)
    4.0
    """
    arr = check_array(erf, "erf", ndim=2, finite=True).astype(np.float64)
    if arr.min() < 0 or arr.sum() <= 0:
        raise ValueError("`erf` must be non-negative with a positive sum")
    cy, cx = default_center(arr.shape, center)
    rr, cc = np.indices(arr.shape)
    mean_sq = float(((rr - cy) ** 2 + (cc - cx) ** 2).ravel() @ arr.ravel() / arr.sum())
    return math.sqrt(mean_sq / 2)
