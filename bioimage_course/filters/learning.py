"""Learning a filter by gradient descent: the bridge from filters to neural networks (notebook 02).

Given images and the filtered images we want, :func:`learn_kernel` finds the kernel by
gradient descent; :func:`loss_gradient` is the gradient written out, and
:func:`critical_learning_rate` the step size beyond which descent diverges.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import check_array, check_choice, check_in_range, check_same_shape, is_int
from ..device import get_device
from .convolution import MODES, pad, pad_widths, shift_and_add, shifted_block
from .kernels import check_kernel_size

LOSSES = ("mse", "mae")


def _as_stack(x, name: str) -> np.ndarray:
    """A 2D image or a stack of 2D images -> float64 array (n, rows, cols)."""
    arr = check_array(x, name, ndim=(2, 3), finite=True)
    return (arr[None] if arr.ndim == 2 else arr).astype(np.float64)


def _padded_stack(inputs, size, mode, cval) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad every image of a stack for a kernel of ``size``; return it and the kernel shape."""
    shape = check_kernel_size(size, 2)
    check_choice(mode, "mode", MODES)
    return pad(inputs, [(0, 0), *pad_widths(shape)], mode=mode, cval=cval), shape


def _prepare_pairs(inputs, targets, size, mode, cval):
    inputs = _as_stack(inputs, "inputs")
    targets = _as_stack(targets, "targets")
    check_same_shape(inputs, targets, "inputs", "targets")
    padded, shape = _padded_stack(inputs, size, mode, cval)
    return padded, targets, shape


def critical_learning_rate(inputs, *, size=3, mode: str = "reflect", cval: float = 0.0) -> float:
    """The largest learning rate for which gradient descent on the MSE loss does not diverge.

    Learning a kernel with the MSE is linear least squares: descent converges from every start
    iff ``lr < 2 / lambda_max``, the largest eigenvalue of the constant Hessian ``2/N * A.T @ A``
    (``A``: one column per kernel weight, the input pixels that weight multiplies).

    >>> noise = np.random.default_rng(0).normal(size=(64, 64))
    >>> round(critical_learning_rate(noise, size=3), 1)  # white noise: Hessian close to 2 I
    1.0
    """
    inputs = _as_stack(inputs, "inputs")
    padded, shape = _padded_stack(inputs, size, mode, cval)
    image_shape = inputs.shape[1:]
    gram = np.zeros((np.prod(shape), np.prod(shape)))
    for image in padded:  # one image at a time keeps memory small
        columns = np.stack(
            [image[shifted_block(offset, image_shape)].ravel() for offset in np.ndindex(shape)],
            axis=1,
        )
        gram += columns.T @ columns
    n_pixels = inputs.size
    hessian = 2.0 * gram / n_pixels
    return float(2.0 / np.linalg.eigvalsh(hessian)[-1])


def loss_gradient(
    inputs, targets, kernel, *, loss: str = "mse", mode: str = "reflect", cval: float = 0.0
) -> np.ndarray:
    """The gradient of the loss with respect to each kernel weight, written out (no autograd).

    What backpropagation computes for one correlation "layer". With ``p = correlate(x, w)`` and
    the residual ``e = p - y`` over ``N`` pixels:

    * MSE, ``L = mean(e**2)``:  ``dL/dw[i, j] = 2/N * sum_rc e[r, c] * x_pad[r + i, c + j]``
    * MAE, ``L = mean(|e|)``:   ``dL/dw[i, j] = 1/N * sum_rc sign(e[r, c]) * x_pad[r + i, c + j]``

    The gradient is itself a correlation of the padded input with the residual (chain rule:
    ``dp[r, c]/dw[i, j]`` is the input pixel that ``w[i, j]`` multiplied).

    >>> from bioimage_course.filters import correlate, sobel_kernel
    >>> x = np.random.default_rng(0).normal(size=(16, 16))
    >>> y = correlate(x, sobel_kernel(0))
    >>> np.abs(loss_gradient(x, y, sobel_kernel(0))).max()  # at the answer: zero gradient
    np.float64(0.0)
    """
    kernel = check_array(kernel, "kernel", ndim=2, finite=True).astype(np.float64)
    check_choice(loss, "loss", LOSSES)
    padded, targets, _ = _prepare_pairs(inputs, targets, kernel.shape, mode, cval)
    image_shape = targets.shape[1:]
    residual = shift_and_add(padded, kernel, image_shape) - targets
    if loss == "mse":
        d_loss_d_prediction = 2.0 * residual / residual.size
    else:
        d_loss_d_prediction = np.sign(residual) / residual.size
    gradient = np.zeros(kernel.shape)
    for offset in np.ndindex(kernel.shape):
        gradient[offset] = np.sum(d_loss_d_prediction * padded[shifted_block(offset, image_shape)])
    return gradient


def learn_kernel(
    inputs,
    targets,
    *,
    size=3,
    lr: float,
    steps: int = 200,
    loss: str = "mse",
    mode: str = "reflect",
    cval: float = 0.0,
    device=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Find the kernel that turns ``inputs`` into ``targets``, by gradient descent in torch.

    The model is one correlation (a convolutional layer with one filter, no bias). From a zero
    kernel, each step computes the loss on all pairs, backpropagates it and moves the weights:
    ``kernel <- kernel - lr * dL/dkernel``. Beyond :func:`critical_learning_rate` MSE diverges;
    the MAE gradient depends only on the sign of the errors, so with a fixed ``lr`` the kernel
    keeps jittering around the answer: use a smaller ``lr``. Computed in float64 (float32 on
    Apple GPUs). Returns the kernel and the loss before each step (cut short, with the last
    finite kernel, if the loss diverged).

    >>> from bioimage_course.filters import correlate, sobel_kernel
    >>> x = np.random.default_rng(0).normal(size=(2, 32, 32))
    >>> hidden = sobel_kernel(axis=1)
    >>> y = np.stack([correlate(image, hidden) for image in x])
    >>> kernel, history = learn_kernel(x, y, size=3, lr=0.5, steps=50, device="cpu")
    >>> bool(np.abs(kernel - hidden).max() < 1e-3), bool(history[-1] < 1e-6 * history[0])
    (True, True)
    """
    padded, targets, shape = _prepare_pairs(inputs, targets, size, mode, cval)
    lr = check_in_range(lr, "lr", 0, low_inclusive=False)
    if not is_int(steps) or steps < 1:
        raise ValueError(f"`steps` must be a positive int, got {steps!r}")
    check_choice(loss, "loss", LOSSES)
    dev = get_device(device)

    # float64 keeps the answer exact to many digits; float32 convolutions on recent NVIDIA GPUs
    # run in TF32 by default (about 3 significant digits). Apple GPUs have no float64.
    dtype = torch.float32 if dev.type == "mps" else torch.float64
    x = torch.as_tensor(padded[:, None], dtype=dtype, device=dev)  # (n, 1, rows, cols)
    y = torch.as_tensor(targets[:, None], dtype=dtype, device=dev)
    weight = torch.zeros((1, 1, *shape), dtype=dtype, device=dev, requires_grad=True)
    history = []
    last_finite = weight.detach().clone()
    for _ in range(int(steps)):
        prediction = F.conv2d(x, weight)  # a correlation, no padding: x is already padded
        error = prediction - y
        value = (error**2).mean() if loss == "mse" else error.abs().mean()
        if not torch.isfinite(value):
            break
        history.append(value.item())
        last_finite = weight.detach().clone()
        weight.grad = None
        value.backward()  # backpropagation: fills weight.grad with dL/dweight
        with torch.no_grad():
            weight -= lr * weight.grad
    else:
        last_finite = weight.detach()
    kernel = last_finite[0, 0].cpu().numpy().astype(np.float64)
    return kernel, np.asarray(history, dtype=np.float64)
