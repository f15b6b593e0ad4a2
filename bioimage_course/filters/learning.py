"""Learning a filter by gradient descent: the bridge from filters to neural networks.

Introduced in notebook 02 (convolutions). Given images and the filtered images we want,
:func:`learn_kernel` finds the kernel by gradient descent on the mean squared (or absolute)
error; :func:`loss_gradient` is the gradient written out, :func:`critical_learning_rate` the
step size beyond which descent diverges.
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

    Learning a kernel with the mean squared error is linear least squares. Gradient descent
    with step ``lr`` converges from every start if and only if ``lr < 2 / lambda_max``, where
    ``lambda_max`` is the largest eigenvalue of the loss's (constant) Hessian
    ``2/N * A.T @ A``; ``A`` has one column per kernel weight holding the input pixels that
    weight multiplies.

    Parameters
    ----------
    inputs : array_like
        A 2D image or a stack (n, rows, cols) of them.
    size : int or (int, int)
        Kernel size.
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    float
        ``2 / lambda_max``.

    Examples
    --------
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

    This is what backpropagation computes for a single correlation "layer". With the
    prediction ``p = correlate(x, w)`` and the residual ``e = p - y`` over ``N`` pixels:

    * MSE, ``L = mean(e**2)``:  ``dL/dw[i, j] = 2/N * sum_rc e[r, c] * x_pad[r + i, c + j]``
    * MAE, ``L = mean(|e|)``:   ``dL/dw[i, j] = 1/N * sum_rc sign(e[r, c]) * x_pad[r + i, c + j]``

    So the gradient is itself a correlation: the padded input correlated with the residual
    (or its sign), read out at the kernel's offsets. (Chain rule: ``dL/dp`` times ``dp/dw``,
    and ``dp[r, c]/dw[i, j]`` is the input pixel that weight ``w[i, j]`` multiplied.)

    Parameters
    ----------
    inputs, targets : array_like
        2D images or stacks (n, rows, cols) of the same shape.
    kernel : array_like
        2D kernel at which to evaluate the gradient.
    loss : {'mse', 'mae'}
        Mean squared error (the squared L2 loss) or mean absolute error (the L1 loss).
    mode, cval
        Border handling, as in :func:`correlate`.

    Returns
    -------
    ndarray of float64
        Same shape as ``kernel``.

    Examples
    --------
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

    The model is one correlation, ``prediction = correlate(input, kernel, mode=mode)``, i.e.
    a convolutional layer with one filter and no bias. Starting from a kernel of zeros, every
    step computes the loss on all pairs, lets autograd backpropagate it to the kernel weights
    and moves them against the gradient: ``kernel <- kernel - lr * dL/dkernel``.

    Parameters
    ----------
    inputs, targets : array_like
        Pairs of images: a 2D image each, or stacks (n, rows, cols) of the same shape.
    size : int or (int, int)
        Size of the kernel to learn.
    lr : float
        Learning rate (> 0): the step size. For the MSE loss, steps beyond
        :func:`critical_learning_rate` diverge; much smaller ones converge slowly.
    steps : int
        Number of gradient-descent steps (full batch: all pairs every step).
    loss : {'mse', 'mae'}
        Mean squared error (the squared L2 loss; penalises large errors most) or mean
        absolute error (the L1 loss; robust to a few very wrong target pixels). The MAE
        gradient depends only on the *sign* of each error, so it does not shrink near the
        answer: with a fixed learning rate the kernel keeps jittering around the solution by
        about ``lr`` times the input's mean absolute value. Use a smaller ``lr`` than for MSE.
    mode, cval
        Border handling of the model, as in :func:`correlate`; use the one the targets were
        made with.
    device : str or torch.device, optional
        Where to compute (see :func:`bioimage_course.device.get_device`). The computation is
        in float64 (float32 on Apple GPUs, which have no float64).

    Returns
    -------
    kernel : ndarray of float64
        The learned kernel, shape ``size``.
    history : ndarray of float64
        The loss before each step. Shorter than ``steps`` if the loss became infinite or NaN
        (the descent diverged); the returned kernel is then the last finite one.

    Examples
    --------
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
