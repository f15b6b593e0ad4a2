"""Convolution and correlation written out, the classic filter kernels, and learning a kernel.

Introduced in notebook 02 (convolutions). A *linear filter* replaces every pixel by a weighted
sum of its neighbours; the table of weights is the *kernel*. Two conventions exist:

* **correlation** lays the kernel on the image as it is::

      out[r, c] = sum over (i, j) of kernel[i, j] * image[r + i - ci, c + j - cj]

* **convolution** flips the kernel first (the minus signs)::

      out[r, c] = sum over (i, j) of kernel[i, j] * image[r - (i - ci), c - (j - cj)]

``(ci, cj)`` is the kernel's *centre*, the index ``size // 2`` along each axis. For an odd size
that is the middle; for an even size (no middle exists) it is the element just after the
geometric centre, e.g. index 2 of a size-4 kernel. This is the convention of
``scipy.ndimage.correlate`` and ``scipy.ndimage.convolve`` with ``origin=0``, which these
functions reproduce exactly, in both directions. For a symmetric kernel (mean, Gaussian,
Laplacian) both conventions give the same image; for an asymmetric one (Sobel) the results are
mirror images. A convolutional layer of a neural network (``torch.nn.functional.conv2d``)
computes a *correlation*, despite its name.

Near the border the kernel reaches outside the image, so the image is first *padded*; ``mode``
says with what (the names and meanings are scipy.ndimage's, see :func:`pad`).

Learning a filter (:func:`learn_kernel`) turns the question around: given images and the
filtered images we want, find the kernel by gradient descent. That is what training a
convolutional neural network does, for many kernels at once.

Examples
--------
The worked example of the lecture: a 5 x 5 pattern filtered with a 3 x 3 mean. The lecture
shows 0.66 and 0.77; the exact values are 6/9 = 0.667 and 7/9 = 0.778.

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
