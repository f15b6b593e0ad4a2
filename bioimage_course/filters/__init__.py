"""Convolution and correlation written out, the classic filter kernels, and learning a kernel.

Notebook 02. A *linear filter* replaces every pixel by a weighted sum of its neighbours; the
table of weights is the *kernel*. **Correlation** lays the kernel on the image as it is,
**convolution** flips it first::

    correlation:  out[r, c] = sum over (i, j) of kernel[i, j] * image[r + i - ci, c + j - cj]
    convolution:  out[r, c] = sum over (i, j) of kernel[i, j] * image[r - (i - ci), c - (j - cj)]

The centre ``(ci, cj)`` is index ``size // 2`` (for an even size, the element just after the
geometric centre), as in ``scipy.ndimage`` with ``origin=0``, which these functions reproduce
exactly. Symmetric kernels give the same image both ways; a network's "convolutional" layer
computes a correlation. Near the border the image is *padded* (:func:`pad`). Learning a filter
(:func:`learn_kernel`) finds the kernel from examples by gradient descent, as a CNN does.

The lecture's worked example, a 3 x 3 mean: the slides show 0.66 and 0.77; exactly 6/9, 7/9.

>>> import numpy as np
>>> pattern = np.array([[1.0, 0.5, 0.5, 0.5, 1.0],
...                     [0.5, 1.0, 0.5, 1.0, 0.5],
...                     [0.5, 0.5, 1.0, 0.5, 0.5],
...                     [0.5, 1.0, 0.5, 1.0, 0.5],
...                     [1.0, 0.5, 0.5, 0.5, 1.0]])
>>> filtered = correlate(pattern, mean_kernel(3))
>>> print(np.round(filtered[1:-1, 1:-1], 3))  # where the kernel lies fully inside the image
[[0.667 0.667 0.667]
 [0.667 0.778 0.667]
 [0.667 0.667 0.667]]
"""

from .convolution import MODES, convolve, correlate, correlate_naive, pad  # noqa: F401 (re-exported)
from .kernels import (  # noqa: F401 (re-exported)
    KERNEL_NAMES,
    combine_kernels,
    gaussian_kernel,
    gradient_magnitude,
    identity_kernel,
    laplacian_kernel,
    log_kernel,
    make_kernel,
    mean_kernel,
    prewitt_kernel,
    sobel_kernel,
)
from .learning import LOSSES, critical_learning_rate, learn_kernel, loss_gradient  # noqa: F401 (re-exported)
from .plots import plot_kernel, plot_loss_curves, show_filter, show_filter_bank  # noqa: F401 (re-exported)
