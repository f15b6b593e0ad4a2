"""Synthetic fluorescence nuclei with exact ground truth, parameterised in physical units.

Notebook 01, and every later notebook that needs images with a known answer. An image is made
in two steps, as a real one comes about:

1. **The sample** (:func:`make_scene`): nuclei in a field of view measured in micrometres,
   each with its own size, shape, brightness, texture and nucleoli; some touch, some divide.
2. **The acquisition** (:func:`render_nuclei`): blur, uneven illumination, photon noise,
   camera read noise, offset and bit depth.

The labels are exactly the objects drawn (:mod:`.raster`). Because the sample lives in
micrometres, the same scene can be rendered at another pixel size, blur or noise level: domain
shift on demand. :func:`make_nuclei` does both steps at once.

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
