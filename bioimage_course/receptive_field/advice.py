"""From the receptive field to practice: training patch size and the overlap of tiles.

Notebook 06; :func:`recommended_overlap` is the default overlap of tiled prediction (05).

>>> from bioimage_course.models import UNet
>>> min_patch_size(UNet(depth=1, base_channels=2))
18
"""

from __future__ import annotations

from torch import nn

from .._validate import check_in_range
from .analytic import receptive_field, size_multiple
from .exact import receptive_field_by_position


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def min_patch_size(model: nn.Module) -> int:
    """The smallest square training patch in which one output pixel sees its whole window.

    The largest exact receptive field, rounded up to a size the model accepts. In such a patch
    only pixels near the centre see real content; trained on smaller patches a network never
    learns the context it could use, and large objects come out hollow. Take 2-4 times this.

    >>> from bioimage_course.models import UNet
    >>> min_patch_size(UNet(depth=3, base_channels=2))  # largest window 100, multiple of 8
    104
    """
    biggest = max(receptive_field_by_position(model, axis=a).max for a in (0, 1))
    return _round_up(biggest, size_multiple(model))


def context_margin(model: nn.Module) -> int:
    """How far (input pixels) the window of an output pixel reaches beyond it, at most.

    A pixel at least this far from an image or tile border is computed from real content only.

    >>> net = nn.Sequential(nn.Conv2d(1, 1, 5, padding=2), nn.Conv2d(1, 1, 3, padding=1))
    >>> context_margin(net)
    3
    """
    fields = [receptive_field_by_position(model, axis=a) for a in (0, 1)]
    return int(max(max(f.before.max(), f.after.max()) for f in fields))


def recommended_overlap(model: nn.Module) -> int:
    """Tile overlap that makes tiled prediction equal whole-image prediction.

    ``2 * context_margin(model)``, rounded up to a multiple of ``2**depth`` so tile origins stay
    on the pooling grid (each pixel keeps its phase, :func:`receptive_field_by_position`); see
    :mod:`bioimage_course.patches` for the rule. Layers with image-wide statistics (group norm,
    batch norm in training mode) break the equality whatever the overlap.

    >>> from bioimage_course.models import UNet
    >>> model = UNet(depth=2, base_channels=2)
    >>> context_margin(model), recommended_overlap(model)
    (23, 48)
    """
    return _round_up(2 * context_margin(model), size_multiple(model))


def receptive_field_report(model: nn.Module, *, pixel_size_um: float | None = None) -> str:
    """A short text: textbook and exact receptive field, patch size and tile overlap advice.

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
