"""Synthetic fluorescence nuclei with exact ground truth, parameterised in physical units.

Introduced in notebook 01 (digital images) and used by every later notebook whenever images with
a known answer are needed. An image is made in two steps, mirroring how a real one comes about:

1. **The sample** (:func:`make_scene`): nuclei are placed in a field of view measured in
   micrometres, each with its own size, elongation, irregular outline, brightness, chromatin
   texture and dark nucleoli. Some are pressed against a neighbour, some are dividing.
2. **The acquisition** (:func:`render_nuclei`): the optics blur the sample (a Gaussian point
   spread function, plus out-of-focus haze), the illumination is uneven (smooth shading),
   photons arrive at random (Poisson shot noise), the camera adds read noise, an offset and
   rounds to its bit depth, saturating at the top.

The label image is exactly the set of objects drawn: pixel ``(r, c)`` belongs to nucleus ``i``
when the centre of that pixel lies inside the nucleus' outline; where two nuclei press against
each other, each pixel goes to the nucleus whose outline it lies deeper inside, and every
label is one 4-connected piece. Because the sample lives in micrometres, the same scene can be
rendered again at another pixel size, blur, brightness or noise level: domain shift on demand.

:func:`make_nuclei` does both steps at once and is what most notebooks call.

Examples
--------
>>> import numpy as np
>>> image, labels = make_nuclei((128, 128), preset="easy", rng=0)
>>> image.dtype, labels.dtype, image.shape == labels.shape
(dtype('uint16'), dtype('int32'), True)
>>> n = labels.max()
>>> bool(n > 0) and set(np.unique(labels)) == set(range(n + 1))
True
>>> scene = make_scene((128, 128), rng=1)
>>> coarse, coarse_labels = render_nuclei(scene, pixel_size_um=1.3, rng=2)
>>> coarse.shape
(64, 64)
"""

from .params import (  # noqa: F401 (re-exported)
    ACQUISITION_FIELDS,
    MAX_NUCLEOLI,
    N_ANGLES,
    N_WAVES,
    PRESETS,
    STAINS,
    NucleiParams,
    nuclei_params,
    photons_for_snr,
    random_nuclei_params,
    snr_of,
)
from .render import make_nuclei, render_nuclei  # noqa: F401 (re-exported)
from .scene import NucleiScene, make_scene  # noqa: F401 (re-exported)
