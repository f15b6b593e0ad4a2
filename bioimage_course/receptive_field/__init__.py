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
