"""Receptive field: which input pixels a network looks at to decide one output pixel.

Introduced in notebook 06 (receptive field and resolution).

A convolutional network computes each output pixel from a *window* of the input, its
**receptive field**. Every 3x3 convolution widens the window by 2 steps of the current grid,
and every 2x2 pooling doubles the grid step, so deep networks see far: a U-Net of depth 3 with
two 3x3 convolutions per level sees about a hundred pixels. If an object is larger than that at
the image's pixel size, a pixel in its middle sees only the object's inside; where the inside
looks like background (a stained outline, a flat interior), the network returns hollow or empty
masks. Images of that kind: :func:`bioimage_course.data.make_nuclei` with ``stain="envelope"``.

This module gives three views of the same idea:

* :func:`receptive_field`: the textbook recurrence (size, jump and centre of a layer's window),
  walked along the longest path of the network.
* :func:`receptive_box` and :func:`receptive_field_by_position`: the *exact* input window of
  each output pixel, by index arithmetic through the layer graph (skip connections
  included). With pooling followed by upsampling the window depends on the pixel's position
  modulo ``2**depth``; the textbook number is only an average.
* :func:`dependency_mask` measures the window: the input pixels with a non-zero gradient of one
  output pixel, in a copy of the network with positive weights (so nothing cancels). Tests check
  that it equals the analytic box exactly. :func:`effective_receptive_field` measures what the
  network *actually uses* (Luo et al., 2016): the mean gradient magnitude, much smaller than the
  window and roughly Gaussian.

:func:`min_patch_size` and :func:`recommended_overlap` turn the receptive field into advice for
training patches and for tiled prediction.

Examples
--------
>>> from bioimage_course.models import UNet
>>> model = UNet(depth=3, base_channels=2)
>>> receptive_field(model).size           # the textbook number, 13 * 2**3 - 8
(96, 96)
>>> rf = receptive_field_by_position(model)
>>> rf.period, rf.min, rf.max             # the exact window depends on the position mod 8
(8, 92, 100)
>>> rf.size.tolist()                      # the textbook number is their average
[92, 92, 100, 100, 100, 100, 92, 92]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from ._validate import as_rng, check_array, check_in_range
from .device import get_device
from .models import UNet

# ---------------------------------------------------------------------------------------------
# The layer graph, one spatial axis at a time
# ---------------------------------------------------------------------------------------------
# A network is reduced to a small graph whose nodes say how output indices map to input indices
# along one axis: a layer (_Op), layers one after the other (_Chain) or branches whose outputs
# are concatenated (_Concat, the skip connection). All the layers handled here act separably on
# rows and columns, so the bounding box of a 2D receptive field is the product of two 1D ones.

POINTWISE_LAYERS = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Dropout,
    nn.Dropout2d,
    nn.AlphaDropout,
    nn.BatchNorm2d,
    nn.GroupNorm,
    nn.InstanceNorm2d,
)
"""Layers that map each pixel to itself (activations, normalisation, dropout)."""

SUPPORTED = (
    "Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, Upsample (nearest, nearest-exact, "
    "bilinear without align_corners), nn.Sequential, bioimage_course.models.UNet and pointwise "
    "layers (activations, normalisation, dropout)"
)


@dataclass(frozen=True)
class _Op:
    """One layer along one axis: ``kind`` in conv, transposed, nearest, nearest-exact, linear."""

    kind: str
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    name: str = ""


@dataclass(frozen=True)
class _Chain:
    items: tuple


@dataclass(frozen=True)
class _Concat:
    branches: tuple


def _pair(value: Any, axis: int) -> int:
    if isinstance(value, (tuple, list)):
        return int(value[axis])
    return int(value)


def _unsupported(name: str, module: nn.Module, why: str = "") -> TypeError:
    label = f"`{name}`" if name else "the model itself"
    extra = f" ({why})" if why else ""
    return TypeError(
        f"cannot compute the receptive field of layer {label} ({type(module).__name__}){extra}; "
        f"supported: {SUPPORTED}"
    )


def _layer_op(module: nn.Module, name: str, axis: int) -> _Op | None:
    """The index map of one layer along ``axis``; ``None`` for pointwise layers."""
    if isinstance(module, POINTWISE_LAYERS):
        return None
    if isinstance(module, nn.Conv2d):
        kernel = _pair(module.kernel_size, axis)
        dilation = _pair(module.dilation, axis)
        if module.padding == "same":
            padding = dilation * (kernel - 1) // 2
        elif module.padding == "valid":
            padding = 0
        else:
            padding = _pair(module.padding, axis)
        stride = _pair(module.stride, axis)
        return _Op("conv", kernel, stride, padding, dilation, name)
    if isinstance(module, nn.ConvTranspose2d):
        return _Op(
            "transposed",
            _pair(module.kernel_size, axis),
            _pair(module.stride, axis),
            _pair(module.padding, axis),
            _pair(module.dilation, axis),
            name,
        )
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kernel = _pair(module.kernel_size, axis)
        stride = module.stride if module.stride is not None else module.kernel_size
        dilation = getattr(module, "dilation", 1)
        return _Op(
            "conv",
            kernel,
            _pair(stride, axis),
            _pair(module.padding, axis),
            _pair(dilation, axis),
            name,
        )
    if isinstance(module, nn.Upsample):
        if module.size is not None or module.scale_factor is None:
            raise _unsupported(name, module, "an output `size` instead of a `scale_factor`")
        scale = module.scale_factor
        if isinstance(scale, (tuple, list)):
            scale = scale[axis]
        if float(scale) != int(scale) or int(scale) < 1:
            raise _unsupported(name, module, f"non-integer scale factor {module.scale_factor}")
        scale = int(scale)
        if module.mode in ("nearest", "nearest-exact"):
            return _Op(module.mode, scale, scale, 0, 1, name)
        if module.mode in ("bilinear", "linear") and not module.align_corners:
            return _Op("linear", scale, scale, 0, 1, name)
        raise _unsupported(
            name, module, f"mode={module.mode!r}, align_corners={module.align_corners}"
        )
    raise _unsupported(name, module)


def _graph(model: nn.Module, axis: int, name: str = "") -> _Op | _Chain | _Concat | None:
    """Reduce ``model`` to the index-map graph along ``axis``."""

    def child(prefix: str, key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    if isinstance(model, UNet):
        level = _graph(model.bottleneck, axis, child(name, "bottleneck"))
        for i in reversed(range(model.depth)):
            deeper = _Chain(
                (
                    _graph(model.pools[i], axis, child(name, f"pools.{i}")),
                    level,
                    _graph(model.upsamples[i], axis, child(name, f"upsamples.{i}")),
                )
            )
            level = _Chain(
                (
                    _graph(model.encoder[i], axis, child(name, f"encoder.{i}")),
                    _Concat((_Chain(()), deeper)),  # skip connection beside the deeper path
                    _graph(model.decoder[i], axis, child(name, f"decoder.{i}")),
                )
            )
        return _Chain((level, _graph(model.head, axis, child(name, "head"))))
    if isinstance(model, nn.Sequential):
        # not named_children(): it skips a layer object used twice, the forward pass does not
        items = model._modules.items()
        return _Chain(tuple(_graph(m, axis, child(name, k)) for k, m in items))
    if list(model.children()) and not isinstance(model, POINTWISE_LAYERS):
        raise _unsupported(
            name,
            model,
            "a custom module: its forward pass may branch, so its layers alone do "
            "not determine how it connects pixels",
        )
    return _layer_op(model, name, axis)


# -- exact: which input indices does a set of output indices depend on? ------------------------
# Sets rather than intervals: the bounds of an interval would do for most layers, but a dilated
# transposed convolution reads inputs that do not grow monotonically with the output index
# (output 6 may read input 2 and output 7 input 1), and only sets stay exact through that.


def _op_back(op: _Op, outputs: np.ndarray) -> np.ndarray:
    """The sorted input indices that the output indices ``outputs`` of one layer read."""
    s, k, p, d = op.stride, op.kernel, op.padding, op.dilation
    taps = d * np.arange(k)
    if op.kind == "conv":  # output o reads inputs o*s - p + d*m, m = 0..k-1
        return np.unique((outputs[:, None] * s - p + taps).ravel())
    if op.kind == "transposed":  # input i writes outputs i*s - p + d*m
        shifted = (outputs[:, None] + p - taps).ravel()
        return np.unique(shifted[shifted % s == 0] // s)
    if op.kind == "nearest":  # output o copies input floor(o / s)
        return np.unique(outputs // s)
    if op.kind == "nearest-exact":  # floor((o + 1/2) / s)
        return np.unique((2 * outputs + 1) // (2 * s))
    # linear interpolation: source x = (o + 1/2)/s - 1/2, read at floor(x) and floor(x) + 1
    # (the second weight is zero when x is a whole number)
    numerator = 2 * outputs + 1 - s
    first = numerator // (2 * s)
    second = first[numerator % (2 * s) != 0] + 1
    return np.unique(np.concatenate([first, second]))


def _back(node, outputs: np.ndarray) -> np.ndarray:
    """The sorted input indices that output indices ``outputs`` of ``node`` depend on."""
    if node is None or outputs.size == 0:
        return outputs
    if isinstance(node, _Op):
        return _op_back(node, outputs)
    if isinstance(node, _Chain):
        for item in reversed(node.items):
            outputs = _back(item, outputs)
        return outputs
    found = [_back(branch, outputs) for branch in node.branches]
    return np.unique(np.concatenate(found))  # concatenated branches: the union


def _input_interval(graph, o: int) -> tuple[int, int] | None:
    """Inclusive bounds of the inputs output ``o`` depends on; None if it reads no input."""
    inputs = _back(graph, np.array([o], dtype=np.int64))
    return (int(inputs[0]), int(inputs[-1])) if inputs.size else None


# -- textbook recurrence: size, jump and centre -------------------------------------------------
@dataclass(frozen=True)
class _RF:
    size: Fraction
    jump: Fraction
    center: Fraction  # centre of output 0's window, in input pixels


def _op_forward(op: _Op, rf: _RF) -> _RF:
    k_eff = op.dilation * (op.kernel - 1) + 1
    if op.kind == "conv":
        return _RF(
            rf.size + (k_eff - 1) * rf.jump,
            rf.jump * op.stride,
            rf.center + (Fraction(k_eff - 1, 2) - op.padding) * rf.jump,
        )
    jump = rf.jump / op.stride
    if op.kind == "transposed":  # on average k_eff / s inputs per output
        return _RF(
            rf.size + (k_eff - op.stride) * jump,
            jump,
            rf.center + (op.padding - Fraction(k_eff - 1, 2)) * jump,
        )
    if op.kind == "nearest":  # one input per output, like a transposed conv with k = s
        return _RF(rf.size, jump, rf.center - Fraction(op.stride - 1, 2) * jump)
    if op.kind == "nearest-exact":
        return _RF(rf.size, jump, rf.center + (Fraction(1, 2) - Fraction(op.stride, 2)) * jump)
    # linear interpolation: two inputs per output, source x = (o + 1/2)/s - 1/2
    center = rf.center + (Fraction(1, 2) - Fraction(op.stride, 2)) * jump
    return _RF(rf.size + rf.jump, jump, center)


def _forward(node, rf: _RF) -> _RF:
    if node is None:
        return rf
    if isinstance(node, _Op):
        return _op_forward(node, rf)
    if isinstance(node, _Chain):
        for item in node.items:
            rf = _forward(item, rf)
        return rf
    return max((_forward(b, rf) for b in node.branches), key=lambda r: r.size)


def _max_jump(node, jump: Fraction) -> tuple[Fraction, Fraction]:
    """(output jump, coarsest jump met on the way): the grid steps, in input pixels."""
    if node is None:
        return jump, jump
    if isinstance(node, _Op):
        out = jump * node.stride if node.kind == "conv" else jump / node.stride
        return out, max(jump, out)
    coarsest = jump
    if isinstance(node, _Chain):
        for item in node.items:
            jump, deepest = _max_jump(item, jump)
            coarsest = max(coarsest, deepest)
        return jump, coarsest
    results = [_max_jump(b, jump) for b in node.branches]
    return results[0][0], max(r[1] for r in results)


def _as_number(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)


# ---------------------------------------------------------------------------------------------
# Public API: analytic receptive field
# ---------------------------------------------------------------------------------------------
class ReceptiveField(NamedTuple):
    """Textbook receptive field of a network, per axis ``(rows, cols)``.

    ``size``: width of the window in input pixels. ``jump``: distance in input pixels between
    neighbouring output pixels (the total stride). ``center``: input coordinate of the centre of
    output pixel 0's window; output pixel ``o`` is centred at ``center + o * jump``.
    """

    size: tuple
    jump: tuple
    center: tuple


def receptive_field(model: nn.Module) -> ReceptiveField:
    """The textbook receptive field of ``model``: size, jump and centre, walked layer by layer.

    Each layer with kernel ``k``, stride ``s``, padding ``p`` and dilation ``d`` updates the
    receptive field ``r``, the jump ``j`` and the centre ``c`` (all in input pixels)::

        k_eff = d * (k - 1) + 1
        r <- r + (k_eff - 1) * j      c <- c + ((k_eff - 1) / 2 - p) * j      j <- j * s

    Upsampling by ``s`` divides the jump by ``s``; a transposed convolution adds
    ``(k_eff - s) * j / s`` (the average number of inputs per output is ``k_eff / s``), nearest
    upsampling adds nothing and bilinear upsampling adds ``j`` (two inputs per output). Where
    branches are concatenated (the U-Net's skip connections) the largest branch counts: for a
    U-Net that is the path through the bottleneck.

    Parameters
    ----------
    model : torch.nn.Module
        An ``nn.Sequential`` of supported layers (see :data:`SUPPORTED`), or a
        :class:`bioimage_course.models.UNet`.

    Returns
    -------
    ReceptiveField
        ``size``, ``jump`` and ``center`` as ``(rows, cols)`` tuples (ints where whole).

    Raises
    ------
    TypeError
        If the model contains a layer whose pixel connections are unknown here; the message
        names the layer.

    Notes
    -----
    For stacks of convolutions and poolings the recurrence is exact. After upsampling it is an
    *average*: see :func:`receptive_field_by_position` for the exact window of every pixel. For
    a U-Net with two 3x3 convolutions per level, 2x2 pooling and 2x2 transposed convolutions
    it gives ``13 * 2**depth - 8``, the average of the exact windows over positions.

    Normalisation layers count as pointwise. Group and instance normalisation also rescale each
    feature map by statistics of the whole image, a global but unstructured dependence that a
    receptive field does not describe.

    References: A. Araujo, W. Norris, J. Sim, "Computing receptive fields of convolutional
    neural networks", Distill 2019.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 1, 3))
    >>> receptive_field(net)
    ReceptiveField(size=(8, 8), jump=(2, 2), center=(3.5, 3.5))
    >>> from bioimage_course.models import UNet
    >>> [receptive_field(UNet(depth=d, base_channels=2)).size[0] for d in (1, 2, 3)]
    [18, 44, 96]
    """
    fields = [
        _forward(_graph(model, axis), _RF(Fraction(1), Fraction(1), Fraction(0))) for axis in (0, 1)
    ]
    return ReceptiveField(
        size=tuple(_as_number(f.size) for f in fields),
        jump=tuple(_as_number(f.jump) for f in fields),
        center=tuple(_as_number(f.center) for f in fields),
    )


def receptive_box(model: nn.Module, position: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """The exact input window that output pixel ``position`` depends on.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.
    position : (int, int)
        ``(row, col)`` of the output pixel.

    Returns
    -------
    ((row_start, row_stop), (col_start, col_stop))
        Half-open bounds in input pixels (like ``range``), for an image large enough that the
        window does not reach its border: near the border the window extends past it (those
        inputs are the convolutions' zero padding).

    Notes
    -----
    Computed by index arithmetic, one axis at a time: walking backwards from the output pixel,
    each layer maps the set of its output indices to the set of input indices they read;
    concatenated branches (skip connections) take the union. The window is the bounding box of
    the result: with dilation, some pixels inside it are not read.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    >>> receptive_box(net, (10, 20))
    ((8, 13), (18, 23))
    """
    if len(position) != 2:
        raise ValueError(f"`position` must be (row, col), got {position!r}")
    box = []
    for axis, o in enumerate(position):
        interval = _input_interval(_graph(model, axis), int(o))
        if interval is None:
            box.append((int(o), int(o)))  # depends on no input at all (bias only)
        else:
            box.append((interval[0], interval[1] + 1))
    return tuple(box)


class PositionalReceptiveField(NamedTuple):
    """Exact receptive field of every output position along one axis.

    Output pixel ``o`` with ``o % period == q`` reads the inputs
    ``o * jump - before[q]`` to ``o * jump + after[q]`` (inclusive), so its window is
    ``size[q] = before[q] + after[q] + 1`` pixels wide.
    """

    period: int
    before: np.ndarray
    after: np.ndarray
    size: np.ndarray
    min: int
    max: int


def receptive_field_by_position(model: nn.Module, *, axis: int = 0) -> PositionalReceptiveField:
    """The exact receptive field of each output position modulo the network's period.

    A network that pools by 2 three times and then upsamples back (a U-Net of depth 3) treats
    output pixels differently depending on where they sit on the 8x8 pooling grid: the window of
    pixel 0 and pixel 1 differ in size and in how far they reach left and right. The pattern
    repeats with the period ``2**depth``.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.
    axis : {0, 1}
        0 for rows, 1 for columns.

    Returns
    -------
    PositionalReceptiveField
        ``period``, per-phase ``before``/``after``/``size`` arrays and the ``min`` and ``max``
        size over positions.

    Examples
    --------
    >>> from bioimage_course.models import UNet
    >>> rf = receptive_field_by_position(UNet(depth=1, base_channels=2))
    >>> rf.period, rf.size.tolist()
    (2, [18, 18])
    >>> rf.before.tolist(), rf.after.tolist()  # same size, but not centred on the pixel
    ([8, 9], [9, 8])
    """
    if axis not in (0, 1):
        raise ValueError(f"`axis` must be 0 (rows) or 1 (columns), got {axis!r}")
    graph = _graph(model, axis)
    out_jump, coarsest = _max_jump(graph, Fraction(1))
    if out_jump.denominator != 1:
        raise ValueError(
            f"the model's output pixels do not sit on input pixels (jump {out_jump} between "
            "output pixels, in input pixels); receptive_field_by_position needs a whole jump"
        )
    # output o and o + period meet every intermediate grid at the same phase
    period = max(1, math.ceil(coarsest / out_jump))
    before, after = [], []
    for o in range(period):
        interval = _input_interval(graph, o)
        anchor = o * int(out_jump)
        if interval is None:
            interval = (anchor, anchor - 1)  # reads nothing: size 0
        before.append(anchor - interval[0])
        after.append(interval[1] - anchor)
    before_arr = np.asarray(before, dtype=int)
    after_arr = np.asarray(after, dtype=int)
    size = before_arr + after_arr + 1
    return PositionalReceptiveField(
        period, before_arr, after_arr, size, int(size.min()), int(size.max())
    )


def _size_multiple(model: nn.Module) -> int:
    """Input sizes the model accepts are multiples of this (``2**depth`` for a U-Net)."""
    if isinstance(model, UNet):
        return 2**model.depth
    _, coarsest = _max_jump(_graph(model, 0), Fraction(1))
    return max(1, math.ceil(coarsest))


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def min_patch_size(model: nn.Module) -> int:
    """The smallest square training patch in which one output pixel sees its whole window.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.

    Returns
    -------
    int
        The largest exact receptive field over positions and axes, rounded up to a size the
        model accepts (a multiple of ``2**depth`` for a U-Net).

    Notes
    -----
    In a patch of this size only the pixels near its centre are computed from real image
    content; the others partly see the zero padding at the patch border. A network trained on
    smaller patches never learns to use the context it could see, and large objects come out
    hollow. In practice take 2-4 times this size, so that most pixels of a patch see their full
    window.

    Examples
    --------
    >>> from bioimage_course.models import UNet
    >>> min_patch_size(UNet(depth=3, base_channels=2))  # largest window 100, multiple of 8
    104
    """
    biggest = max(receptive_field_by_position(model, axis=a).max for a in (0, 1))
    return _round_up(biggest, _size_multiple(model))


def context_margin(model: nn.Module) -> int:
    """How far (in input pixels) the window of an output pixel reaches beyond it, at most.

    The largest of ``before`` and ``after`` of :func:`receptive_field_by_position` over both
    axes: a pixel at least this far from an image or tile border is computed from real content
    only.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.Conv2d(1, 1, 3, padding=1))
    >>> context_margin(net)
    3
    """
    fields = [receptive_field_by_position(model, axis=a) for a in (0, 1)]
    return int(max(max(f.before.max(), f.after.max()) for f in fields))


def recommended_overlap(model: nn.Module) -> int:
    """Tile overlap for tiled prediction that makes tiles agree with whole-image prediction.

    Neighbouring tiles share ``overlap`` pixels; if each tile keeps only its own half of the
    shared strip (discarding ``overlap // 2`` pixels at each inner border), every kept pixel is
    at least :func:`context_margin` pixels from its tile's border, so it sees the same input as
    in a prediction of the whole image. The overlap is also a multiple of the model's size
    multiple (``2**depth`` for a U-Net), so tile origins stay on the pooling grid and every pixel
    keeps its phase (:func:`receptive_field_by_position`).

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.

    Returns
    -------
    int
        ``2 * context_margin(model)`` rounded up to a multiple of the size multiple.

    Notes
    -----
    Used by :mod:`bioimage_course.predict` as the default overlap. Layers whose output depends
    on image-wide statistics (group or instance normalisation, batch normalisation in training
    mode) break the equality whatever the overlap.

    Examples
    --------
    >>> from bioimage_course.models import UNet
    >>> model = UNet(depth=2, base_channels=2)
    >>> context_margin(model), recommended_overlap(model)
    (23, 48)
    """
    return _round_up(2 * context_margin(model), _size_multiple(model))


def receptive_field_report(model: nn.Module, *, pixel_size_um: float | None = None) -> str:
    """A short text: textbook and exact receptive field, patch size and tile overlap advice.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.
    pixel_size_um : float, optional
        Pixel size of the images; adds the sizes in micrometres.

    Examples
    --------
    >>> from bioimage_course.models import UNet
    >>> print(receptive_field_report(UNet(depth=1, base_channels=2), pixel_size_um=0.5))
    receptive field (textbook): 18 px = 9 um
    receptive field (exact, over positions): 18 to 18 px = 9 to 9 um
    smallest training patch: 18 px (better 2-4x larger)
    tile overlap for prediction: 18 px
    """
    um = pixel_size_um is not None
    if um:
        pixel_size_um = check_in_range(pixel_size_um, "pixel_size_um", 0, low_inclusive=False)

    def fmt(px: float) -> str:
        return f"{px:g} px" + (f" = {px * pixel_size_um:g} um" if um else "")

    textbook = max(receptive_field(model).size)
    fields = [receptive_field_by_position(model, axis=a) for a in (0, 1)]
    lo, hi = min(f.min for f in fields), max(f.max for f in fields)
    exact = f"{lo} to {hi} px"
    if um:
        exact += f" = {lo * pixel_size_um:g} to {hi * pixel_size_um:g} um"
    return "\n".join(
        [
            f"receptive field (textbook): {fmt(textbook)}",
            f"receptive field (exact, over positions): {exact}",
            f"smallest training patch: {min_patch_size(model)} px (better 2-4x larger)",
            f"tile overlap for prediction: {recommended_overlap(model)} px",
        ]
    )


# ---------------------------------------------------------------------------------------------
# Measured: gradients
# ---------------------------------------------------------------------------------------------
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

    Convolution weights become positive constants and biases zero, so contributions can only
    add, never cancel; max pooling becomes average pooling of the same geometry (a max pooling
    passes the gradient to one input of its window only); normalisation layers become identities
    (in evaluation mode batch normalisation is a per-pixel affine map anyway). The connections
    between pixels, and so the receptive field, are unchanged. ``model`` itself is not modified.

    Examples
    --------
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

    The gradient is taken in :func:`positive_probe` of the model, so that no contribution cancels
    by chance and no max pooling hides its non-maximal inputs.

    Parameters
    ----------
    model : torch.nn.Module
        Any model mapping (N, C, H, W) to (N, C', H', W'); it is copied, never modified.
    position : (int, int) or sequence of (int, int)
        Output pixel(s) ``(row, col)``.
    input_shape : (int, int)
        Height and width of the (all-ones) input image.
    channel : int
        Output channel.
    device : str or torch.device, optional
        Where to compute (see :func:`bioimage_course.device.get_device`).

    Returns
    -------
    numpy.ndarray of bool
        Shape ``input_shape`` for one position, ``(n_positions, *input_shape)`` for several.

    Examples
    --------
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
    in_channels = _first_in_channels(probe)
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


def _first_in_channels(model: nn.Module) -> int:
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            return module.in_channels
    return 1


def mask_box(mask: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Half-open ``((row_start, row_stop), (col_start, col_stop))`` bounding box of ``mask``.

    Examples
    --------
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

    Luo et al. (2016) set the gradient of one output pixel to 1 and back-propagate to the input;
    averaged over inputs, the gradient magnitude shows which part of the (theoretical) receptive
    field the network really uses. It is roughly Gaussian and much smaller than the window:
    the centre is reached through many paths, the border through few.

    Parameters
    ----------
    model : torch.nn.Module
        The network, with its own weights (random or trained). It is evaluated in evaluation
        mode on ``device`` and left as it was (mode and device).
    input_shape : (int, int), optional
        Size of the random inputs; default a square just larger than :func:`min_patch_size`.
    position : (int, int), optional
        Output pixel; default the centre.
    images : array_like, optional
        Inputs to use instead of random noise: (N, H, W) or (N, C, H, W), already normalised.
    n_samples : int
        Number of random inputs (standard normal noise) when ``images`` is not given.
    channel : int
        Output channel.
    rng : None, int or numpy.random.Generator
        Seed for the random inputs.
    device : str or torch.device, optional
        Where to compute.

    Returns
    -------
    numpy.ndarray of float64
        Mean absolute input gradient, shape ``(H, W)``, scaled to sum to 1.

    References
    ----------
    W. Luo, Y. Li, R. Urtasun, R. Zemel, "Understanding the effective receptive field in deep
    convolutional neural networks", NeurIPS 2016.

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 1, 3, padding=1))
    >>> erf = effective_receptive_field(net, input_shape=(9, 9), rng=0)
    >>> erf.shape, round(float(erf.sum()), 6), int(np.count_nonzero(erf))
    ((9, 9), 1.0, 25)
    """
    dev = get_device(device)
    in_channels = _first_in_channels(model)
    if images is not None:
        arr = check_array(images, "images", ndim=(3, 4), finite=True)
        if arr.ndim == 3:
            arr = arr[:, None]
        x = torch.as_tensor(arr, dtype=torch.float32, device=dev)
    else:
        if input_shape is None:
            side = min_patch_size(model) + 2 * _size_multiple(model)
            input_shape = (side, side)
        height, width = _check_input_shape(input_shape)
        if not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"`n_samples` must be a positive int, got {n_samples!r}")
        noise = as_rng(rng).standard_normal((n_samples, in_channels, height, width))
        x = torch.as_tensor(noise, dtype=torch.float32, device=dev)
    was_training = model.training
    home = next((p.device for p in model.parameters()), dev)
    model.eval().to(dev)  # computed on `dev`, then put back where it was
    try:
        x.requires_grad_(True)
        y = model(x)
        if position is None:
            position = (y.shape[-2] // 2, y.shape[-1] // 2)
        (r, c) = _check_positions(position, tuple(y.shape[-2:]))[0]
        if not 0 <= channel < y.shape[1]:
            raise ValueError(f"`channel` must be in [0, {y.shape[1] - 1}], got {channel}")
        (grad,) = torch.autograd.grad(y[:, channel, r, c].sum(), x)
    finally:
        model.train(was_training).to(home)
    erf = grad.abs().sum(dim=1).mean(dim=0).double().cpu().numpy()
    total = erf.sum()
    return erf / total if total > 0 else erf


def _default_center(shape: tuple[int, ...], center: Any) -> tuple[float, float]:
    if center is None:  # the pixel effective_receptive_field uses by default
        return (shape[0] // 2, shape[1] // 2)
    return float(center[0]), float(center[1])


def radial_profile(
    image: Any, *, center: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``image`` over rings of width 1 pixel around ``center``.

    Parameters
    ----------
    image : array_like
        2D array, e.g. an effective receptive field.
    center : (float, float), optional
        ``(row, col)``; default ``(H // 2, W // 2)``, the pixel used by
        :func:`effective_receptive_field`.

    Returns
    -------
    radius, profile : numpy.ndarray
        Ring radii 0, 1, 2, ... (pixels) and the mean value in each ring
        (ring ``k`` holds pixels at distance in ``[k - 0.5, k + 0.5)``).

    Examples
    --------
    >>> rr, cc = np.mgrid[:5, :5]
    >>> radius, profile = radial_profile(np.hypot(rr - 2, cc - 2))
    >>> radius.tolist(), np.round(profile, 2).tolist()
    ([0, 1, 2, 3], [0.0, 1.21, 2.16, 2.83])
    """
    arr = check_array(image, "image", ndim=2, finite=True).astype(np.float64)
    cy, cx = _default_center(arr.shape, center)
    rr, cc = np.indices(arr.shape)
    ring = np.floor(np.hypot(rr - cy, cc - cx) + 0.5).astype(int).ravel()
    sums = np.bincount(ring, weights=arr.ravel())
    counts = np.bincount(ring)
    keep = counts > 0
    return np.flatnonzero(keep), sums[keep] / counts[keep]


def erf_radius(erf: Any, *, mass: float = 0.95, center: tuple[float, float] | None = None) -> float:
    """Radius (pixels) of the smallest disc around ``center`` that holds ``mass`` of ``erf``.

    Parameters
    ----------
    erf : array_like
        Non-negative 2D map, e.g. from :func:`effective_receptive_field`.
    mass : float
        Fraction of the total, in (0, 1].
    center : (float, float), optional
        Default ``(H // 2, W // 2)``.

    Examples
    --------
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
    cy, cx = _default_center(arr.shape, center)
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
    cy, cx = _default_center(arr.shape, center)
    rr, cc = np.indices(arr.shape)
    mean_sq = float(((rr - cy) ** 2 + (cc - cx) ** 2).ravel() @ arr.ravel() / arr.sum())
    return math.sqrt(mean_sq / 2)


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------
def plot_receptive_fields(
    image: Any,
    boxes: Mapping[str, Any],
    *,
    ax=None,
    pixel_size_um: float | None = None,
    title: str | None = None,
):
    """Draw receptive-field windows as squares over ``image`` at true scale.

    Parameters
    ----------
    image : array_like
        2D image.
    boxes : mapping of str to model or box
        Label -> a model (its :func:`receptive_box` at the image centre is drawn) or a box
        ``((row_start, row_stop), (col_start, col_stop))``.
    ax : matplotlib Axes, optional
    pixel_size_um : float, optional
        Adds the window size in micrometres to the legend, and a scale bar.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = plot_receptive_fields(np.zeros((32, 32)), {"3x3": ((15, 18), (15, 18))})
    >>> len(ax.patches)
    1
    """
    import matplotlib.pyplot as plt

    from .plot import add_scalebar

    arr = check_array(image, "image", ndim=2)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(arr, cmap="gray", interpolation="nearest")
    center = (arr.shape[0] // 2, arr.shape[1] // 2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, item) in enumerate(boxes.items()):
        box = receptive_box(item, center) if isinstance(item, nn.Module) else item
        (r0, r1), (c0, c1) = box
        text = f"{label}: {r1 - r0} px"
        if pixel_size_um is not None:
            text += f" = {(r1 - r0) * pixel_size_um:.3g} µm"
        ax.add_patch(
            plt.Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0,
                r1 - r0,
                fill=False,
                lw=2,
                color=colors[i % len(colors)],
                label=text,
            )
        )
    ax.plot(center[1], center[0], "+", color="yellow", ms=8)
    ax.set_xlim(-0.5, arr.shape[1] - 0.5)
    ax.set_ylim(arr.shape[0] - 0.5, -0.5)
    ax.set_axis_off()
    if boxes:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
    if pixel_size_um is not None:
        extent = arr.shape[1] * pixel_size_um
        length = float(f"{extent / 5:.1g}")
        add_scalebar(ax, pixel_size_um, length)
    if title:
        ax.set_title(title)
    return ax


def plot_windows_by_position(model: nn.Module, *, axis: int = 0, ax=None, title: str | None = None):
    """Draw the exact window of each output position modulo the period as a horizontal bar.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`receptive_field`.
    axis : {0, 1}
        Rows or columns.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from bioimage_course.models import UNet
    >>> ax = plot_windows_by_position(UNet(depth=2, base_channels=1))
    >>> len(ax.lines)  # one bar per position, and the line at offset 0
    5
    """
    import matplotlib.pyplot as plt

    exact = receptive_field_by_position(model, axis=axis)
    textbook = receptive_field(model).size[axis]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * exact.period + 1.2))
    for q in range(exact.period):
        ax.plot([-exact.before[q], exact.after[q]], [q, q], lw=7, solid_capstyle="butt")
        ax.text(exact.after[q] + 1, q, f" {exact.size[q]} px", va="center", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(exact.period))
    ax.set_ylim(exact.period - 0.5, -0.5)
    ax.set_xlabel("input pixels, relative to the output pixel")
    ax.set_ylabel(f"position mod {exact.period}")
    ax.set_xlim(-exact.before.max() - 2, exact.after.max() + 16)
    ax.set_title(
        title or f"exact windows: {exact.min} to {exact.max} px (textbook {textbook:g} px)",
        fontsize=10,
    )
    return ax


def plot_effective_receptive_field(
    erf: Any,
    *,
    box: Any = None,
    mass: float = 0.95,
    log: bool = True,
    axes: Any = None,
    title: str | None = None,
):
    """Show an effective receptive field beside its radial profile and a Gaussian of equal spread.

    Parameters
    ----------
    erf : array_like
        2D map from :func:`effective_receptive_field` (computed for its pixel ``(H//2, W//2)``).
    box : ((int, int), (int, int)), optional
        The analytic window (:func:`receptive_box`) drawn as a square for comparison.
    mass : float
        The disc holding this fraction of the ERF is drawn.
    log : bool
        Logarithmic axis for the profile, so that faint tails stay visible (a Gaussian is then
        a parabola).
    axes : pair of matplotlib Axes, optional
        Where to draw the map and the profile; default a new figure.
    title : str, optional
        Title of the map panel.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: the map, and the radial profile with the Gaussian of the same mass and
        spread (:func:`gaussian_sigma`).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> rr, cc = np.mgrid[-8:9, -8:9]
    >>> fig = plot_effective_receptive_field(np.exp(-(rr**2 + cc**2) / 8.0))
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt

    arr = check_array(erf, "erf", ndim=2, finite=True).astype(np.float64)
    if arr.min() < 0 or arr.sum() <= 0:
        raise ValueError("`erf` must be non-negative with a positive sum")
    arr = arr / arr.sum()
    if axes is None:
        fig, (ax_map, ax_profile) = plt.subplots(1, 2, figsize=(9, 4))
    else:
        ax_map, ax_profile = axes
        fig = ax_map.figure
    ax_map.imshow(arr, cmap="magma", interpolation="nearest")
    cy, cx = _default_center(arr.shape, None)
    radius = erf_radius(arr, mass=mass)
    ax_map.add_patch(
        plt.Circle(
            (cx, cy),
            radius,
            fill=False,
            color="cyan",
            lw=1.5,
            label=f"{mass:.0%} of the ERF: radius {radius:.1f} px",
        )
    )
    if box is not None:
        (r0, r1), (c0, c1) = box
        ax_map.add_patch(
            plt.Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0,
                r1 - r0,
                fill=False,
                color="white",
                lw=1.5,
                ls="--",
                label=f"receptive field: {r1 - r0} px",
            )
        )
    ax_map.set_xlim(-0.5, arr.shape[1] - 0.5)
    ax_map.set_ylim(arr.shape[0] - 0.5, -0.5)
    ax_map.legend(loc="upper left", fontsize=7)
    ax_map.set_axis_off()
    ax_map.set_title(title or "effective receptive field", fontsize=10)

    radius_px, profile = radial_profile(arr)
    sigma = gaussian_sigma(arr)
    gaussian = np.exp(-(radius_px**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    ax_profile.plot(radius_px, profile, "o-", ms=2, label="ERF (mean over a ring)")
    ax_profile.plot(radius_px, gaussian, "--", label=f"Gaussian, same spread: sigma {sigma:.1f} px")
    if box is not None:
        ax_profile.axvline(
            (box[0][1] - box[0][0]) / 2, color="gray", ls=":", label="half the receptive field"
        )
    if log:
        ax_profile.set_yscale("log")
        ax_profile.set_ylim(profile.max() * 1e-5, profile.max() * 2)
    ax_profile.set_xlabel("distance from the output pixel (px)")
    ax_profile.set_ylabel("share of the influence per pixel")
    ax_profile.legend(fontsize=7)
    if axes is None:
        fig.tight_layout()
    return fig
