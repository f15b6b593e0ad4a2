"""Figures of filters: a kernel's weights, loss curves, an image before and after (notebook 02)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .._validate import check_array
from .convolution import correlate
from .kernels import make_kernel


def _centred_imshow(ax, values):
    """imshow with white at zero, red for positive and blue for negative values."""
    limit = float(np.abs(values).max()) or 1.0
    return ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")


def _signed_imshow(ax, values):
    """:func:`_centred_imshow` when ``values`` has negatives, else gray."""
    if values.min() < 0:
        return _centred_imshow(ax, values)
    return ax.imshow(values, cmap="gray", interpolation="nearest")


def _short_number(value: float) -> str:
    """A weight as at most ~6 characters: '0' below 5e-4, '2e+16' when huge, else 3 digits."""
    if abs(value) < 5e-4:
        return "0"
    if abs(value) >= 1e4:
        return f"{value:.0e}"
    return f"{value:.3g}"


def plot_kernel(
    kernel,
    *,
    ax=None,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str | None = None,
):
    """Draw a 2D kernel (or any small array) as a grid of coloured cells, with the values.

    Red for positive, blue for negative weights, white for zero unless ``cmap`` is given; the
    values are written in the cells of kernels up to 5 x 5 unless ``annotate`` says otherwise.

    >>> import matplotlib
    >>> from bioimage_course.filters import sobel_kernel
    >>> matplotlib.use("Agg")
    >>> len(plot_kernel(sobel_kernel(0)).texts)
    9
    """
    kernel = check_array(kernel, "kernel", ndim=2, finite=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    if cmap is None:
        shown = _centred_imshow(ax, kernel)
    else:
        low, high = float(kernel.min()), float(kernel.max())
        high = high if high > low else low + 1
        shown = ax.imshow(kernel, cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if annotate is None:
        annotate = max(kernel.shape) <= 5
    if annotate:
        for (r, c), value in np.ndenumerate(kernel):
            red, green, blue, _ = shown.cmap(shown.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            color = "white" if dark else "black"
            ax.text(c, r, _short_number(value), ha="center", va="center", fontsize=8, color=color)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_loss_curves(histories: dict, *, ax=None, title: str | None = None, log: bool = True):
    """Plot loss against gradient-descent step for several runs (label -> history).

    A diverged run (a history shorter than the others) is drawn up to where it stopped.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_loss_curves({"lr = 0.1": np.array([1.0, 0.5, 0.25])})
    >>> ax.get_xlabel()
    'gradient-descent step'
    """
    if not histories:
        raise ValueError("`histories` must contain at least one loss curve, got none")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for label, history in histories.items():
        ax.plot(np.asarray(history, dtype=np.float64), label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def show_filter(
    image,
    name: str = "gaussian",
    *,
    sigma: float = 2.0,
    size: int = 3,
    axis: int = 0,
    mode: str = "reflect",
):
    """Figure: an image, a kernel (:func:`make_kernel` by name) and the filtered image side by side.

    The pure plotting function behind the notebook's interactive explorer; runs headless.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = show_filter(np.eye(16), "sobel", axis=1)
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['image', 'kernel: sobel (axis 1)', 'filtered']
    """
    image = check_array(image, "image", ndim=2, finite=True)
    kernel = make_kernel(name, sigma=sigma, size=size, axis=axis)
    filtered = correlate(image, kernel, mode=mode)
    detail = {
        "gaussian": f"sigma {sigma:g}",
        "log": f"sigma {sigma:g}",
        "mean": f"{size}x{size}",
        "identity": f"{size}x{size}",
        "sobel": f"axis {axis}",
        "prewitt": f"axis {axis}",
    }
    label = f"kernel: {name}" + (f" ({detail[name]})" if name in detail else "")

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 0.6, 1]})
    axes[0].imshow(image, cmap="gray", interpolation="nearest")
    axes[0].set_title("image", fontsize=10)
    plot_kernel(kernel, ax=axes[1], title=label)
    shown = _signed_imshow(axes[2], filtered)  # signed responses: white is zero
    axes[2].set_title("filtered", fontsize=10)
    fig.colorbar(shown, ax=axes[2], fraction=0.046, pad=0.04)
    for ax in (axes[0], axes[2]):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def show_filter_bank(
    image, kernels: dict, *, mode: str = "reflect", ncols: int = 4, size: float = 3.0
):
    """Figure: ``image`` filtered with each kernel of a bank (title -> kernel), one panel each.

    Signed responses (derivatives, Laplacians) are red-white-blue with white at zero.

    >>> import matplotlib
    >>> from bioimage_course.filters import mean_kernel, sobel_kernel
    >>> matplotlib.use("Agg")
    >>> bank = {"mean": mean_kernel(3), "sobel rows": sobel_kernel(0)}
    >>> fig = show_filter_bank(np.eye(8), bank)
    >>> [ax.get_title() for ax in fig.axes if ax.get_title()]
    ['mean', 'sobel rows']
    """
    image = check_array(image, "image", ndim=2, finite=True)
    if not kernels:
        raise ValueError("`kernels` must contain at least one kernel, got none")
    ncols = min(ncols, len(kernels))
    nrows = int(np.ceil(len(kernels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, kernel) in zip(axes.flat, kernels.items(), strict=False):  # spare axes stay off
        _signed_imshow(ax, correlate(image, kernel, mode=mode))
        ax.set_title(str(title), fontsize=10)
    fig.tight_layout()
    return fig
