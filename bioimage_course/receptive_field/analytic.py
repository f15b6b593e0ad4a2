"""The textbook receptive field: a recurrence of size, jump and centre, layer by layer.

Introduced in notebook 06 (receptive field). Every 3x3 convolution widens the window by 2 steps
of the current grid, every 2x2 pooling doubles the grid step; :func:`receptive_field` walks
that recurrence along the longest path of the network (:mod:`.graph` reduces the network to
its layers along one axis).

Examples
--------
>>> from bioimage_course.models import UNet
>>> receptive_field(UNet(depth=3, base_channels=2)).size  # 13 * 2**3 - 8
(96, 96)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from torch import nn

from ..models import UNet
from .graph import Chain, Op, layer_graph


# -- textbook recurrence: size, jump and centre -------------------------------------------------
@dataclass(frozen=True)
class _RF:
    size: Fraction
    jump: Fraction
    center: Fraction  # centre of output 0's window, in input pixels


def _op_forward(op: Op, rf: _RF) -> _RF:
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
    if isinstance(node, Op):
        return _op_forward(node, rf)
    if isinstance(node, Chain):
        for item in node.items:
            rf = _forward(item, rf)
        return rf
    return max((_forward(b, rf) for b in node.branches), key=lambda r: r.size)


def grid_steps(node, jump: Fraction) -> tuple[Fraction, Fraction]:
    """(output jump, coarsest jump met on the way): the grid steps, in input pixels."""
    if node is None:
        return jump, jump
    if isinstance(node, Op):
        out = jump * node.stride if node.kind == "conv" else jump / node.stride
        return out, max(jump, out)
    coarsest = jump
    if isinstance(node, Chain):
        for item in node.items:
            jump, deepest = grid_steps(item, jump)
            coarsest = max(coarsest, deepest)
        return jump, coarsest
    results = [grid_steps(b, jump) for b in node.branches]
    return results[0][0], max(r[1] for r in results)


def _as_number(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)


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
    ``(k_eff - s) * j / s``, nearest upsampling nothing, bilinear ``j``. Of concatenated branches
    (skip connections) the largest counts. Exact for convolutions and poolings; after upsampling
    an *average* (:func:`receptive_field_by_position`): ``13 * 2**depth - 8`` for the course's
    U-Net. A layer whose pixel connections are unknown raises ``TypeError`` naming it. After
    Araujo, Norris and Sim, "Computing receptive fields of convolutional neural networks",
    Distill 2019.

    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 1, 3))
    >>> receptive_field(net)
    ReceptiveField(size=(8, 8), jump=(2, 2), center=(3.5, 3.5))
    >>> from bioimage_course.models import UNet
    >>> [receptive_field(UNet(depth=d, base_channels=2)).size[0] for d in (1, 2, 3)]
    [18, 44, 96]
    """
    fields = [
        _forward(layer_graph(model, axis), _RF(Fraction(1), Fraction(1), Fraction(0)))
        for axis in (0, 1)
    ]
    return ReceptiveField(
        size=tuple(_as_number(f.size) for f in fields),
        jump=tuple(_as_number(f.jump) for f in fields),
        center=tuple(_as_number(f.center) for f in fields),
    )


def size_multiple(model: nn.Module) -> int:
    """Input sizes the model accepts are multiples of this (``2**depth`` for a U-Net).

    >>> from bioimage_course.models import UNet
    >>> size_multiple(UNet(depth=3, base_channels=2)), size_multiple(nn.Conv2d(1, 1, 3))
    (8, 1)
    """
    if isinstance(model, UNet):
        return 2**model.depth
    _, coarsest = grid_steps(layer_graph(model, 0), Fraction(1))
    return max(1, math.ceil(coarsest))
