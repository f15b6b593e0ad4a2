"""The exact receptive field: the input window of every output pixel, by index arithmetic.

Notebook 06. With pooling followed by upsampling the window depends on the pixel's position
modulo ``2**depth``; the textbook :func:`~bioimage_course.receptive_field.receptive_field` is
only an average.

>>> from torch import nn
>>> receptive_box(nn.Conv2d(1, 1, 3, padding=1), (0, 0))
((-1, 2), (-1, 2))
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np
from torch import nn

from .analytic import grid_steps
from .graph import Chain, Op, layer_graph

# -- exact: which input indices does a set of output indices depend on? ------------------------
# Sets rather than intervals: the bounds of an interval would do for most layers, but a dilated
# transposed convolution reads inputs that do not grow monotonically with the output index
# (output 6 may read input 2 and output 7 input 1), and only sets stay exact through that.


def _op_back(op: Op, outputs: np.ndarray) -> np.ndarray:
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


def input_indices(node, outputs: np.ndarray) -> np.ndarray:
    """The sorted input indices that output indices ``outputs`` of ``node`` depend on."""
    if node is None or outputs.size == 0:
        return outputs
    if isinstance(node, Op):
        return _op_back(node, outputs)
    if isinstance(node, Chain):
        for item in reversed(node.items):
            outputs = input_indices(item, outputs)
        return outputs
    found = [input_indices(branch, outputs) for branch in node.branches]
    return np.unique(np.concatenate(found))  # concatenated branches: the union


def input_interval(graph, o: int) -> tuple[int, int] | None:
    """Inclusive bounds of the inputs output ``o`` depends on; None if it reads no input."""
    inputs = input_indices(graph, np.array([o], dtype=np.int64))
    return (int(inputs[0]), int(inputs[-1])) if inputs.size else None


def receptive_box(model: nn.Module, position: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """The exact input window ``((row_start, row_stop), (col_start, col_stop))`` of an output pixel.

    Half-open bounds in input pixels; near the border they extend past it (the zero padding).
    Walking backwards one axis at a time, each layer maps its output indices to the input indices
    they read; skip connections take the union. With dilation, pixels inside are not all read.

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1))
    >>> receptive_box(net, (10, 20))
    ((8, 13), (18, 23))
    """
    if len(position) != 2:
        raise ValueError(f"`position` must be (row, col), got {position!r}")
    box = []
    for axis, o in enumerate(position):
        interval = input_interval(layer_graph(model, axis), int(o))
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

    A U-Net of depth 3 treats output pixels differently depending on where they sit on the 8x8
    pooling grid: windows differ in size and in how far they reach either side. ``axis``: 0 rows,
    1 columns.

    >>> from bioimage_course.models import UNet
    >>> rf = receptive_field_by_position(UNet(depth=1, base_channels=2))
    >>> rf.period, rf.size.tolist()
    (2, [18, 18])
    >>> rf.before.tolist(), rf.after.tolist()  # same size, but not centred on the pixel
    ([8, 9], [9, 8])
    """
    if axis not in (0, 1):
        raise ValueError(f"`axis` must be 0 (rows) or 1 (columns), got {axis!r}")
    graph = layer_graph(model, axis)
    out_jump, coarsest = grid_steps(graph, Fraction(1))
    if out_jump.denominator != 1:
        raise ValueError(
            f"the model's output pixels do not sit on input pixels (jump {out_jump} between "
            "output pixels, in input pixels); receptive_field_by_position needs a whole jump"
        )
    # output o and o + period meet every intermediate grid at the same phase
    period = max(1, math.ceil(coarsest / out_jump))
    before, after = [], []
    for o in range(period):
        interval = input_interval(graph, o)
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
