"""Receptive field: which input pixels a network looks at to decide one output pixel.

Notebook 06. Each output pixel is computed from a *window* of the input, its **receptive
field**: every 3x3 convolution widens it by 2 steps of the current grid, every 2x2 pooling
doubles the step, so a U-Net of depth 3 sees about a hundred pixels. An object larger than
that at the image's pixel size is seen from its inside only; where the inside looks like
background (``make_nuclei(..., stain="envelope")``) masks come out hollow. Three views:

* :func:`receptive_field`: the textbook recurrence (size, jump, centre), layer by layer.
* :func:`receptive_box`, :func:`receptive_field_by_position`: the *exact* window of each
  output pixel, by index arithmetic (skip connections included); after pooling and
  upsampling it depends on the position modulo ``2**depth``, and the textbook number is an
  average.
* :func:`dependency_mask` measures the window (non-zero gradients; tests check it equals the
  box); :func:`effective_receptive_field` measures what the network *uses* (Luo et al., 2016).

:func:`min_patch_size` and :func:`recommended_overlap` turn it into advice for training
patches and tiled prediction.

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

from .advice import context_margin, min_patch_size, receptive_field_report, recommended_overlap  # noqa: F401 (re-exported)
from .analytic import ReceptiveField, receptive_field, size_multiple  # noqa: F401 (re-exported)
from .exact import PositionalReceptiveField, receptive_box, receptive_field_by_position  # noqa: F401 (re-exported)
from .graph import POINTWISE_LAYERS, SUPPORTED  # noqa: F401 (re-exported)
from .measured import (  # noqa: F401 (re-exported)
    dependency_mask,
    effective_receptive_field,
    erf_radius,
    gaussian_sigma,
    mask_box,
    positive_probe,
    radial_profile,
)
from .plots import plot_effective_receptive_field, plot_receptive_fields, plot_windows_by_position  # noqa: F401 (re-exported)
