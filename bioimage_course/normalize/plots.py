"""Seeing normalisation: an image and its histogram before and after (notebook 03)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._validate import check_array
from .per_image import normalize_percentile, percentile_range


def plot_normalization(
    image: Any,
    pmin: float = 1.0,
    pmax: float = 99.8,
    *,
    clip: bool = False,
    bins: int = 256,
    axes: Sequence[Any] | None = None,
):
    """Show an image, its histogram with the two percentiles, and the normalised image.

    A pure plotting function (the notebook wires it to sliders for ``pmin`` and ``pmax``);
    ``axes``: three matplotlib Axes to draw in, or a new figure.

    >>> import matplotlib
    >>> import numpy as np
    >>> matplotlib.use("Agg")
    >>> fig = plot_normalization(np.arange(64.0).reshape(8, 8), 5, 95)
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['raw', 'histogram']
    """
    import matplotlib.pyplot as plt

    image = check_array(image, "image", ndim=2, finite=True)
    low, high = percentile_range(image, pmin, pmax)
    normalized = normalize_percentile(image, pmin, pmax, clip=clip)
    if axes is None:
        fig, axes = plt.subplots(
            1, 3, figsize=(12, 3.6), width_ratios=[1, 1.4, 1], layout="constrained"
        )
    else:
        fig = axes[0].figure
    ax_raw, ax_hist, ax_norm = axes
    ax_raw.imshow(image, cmap="gray")
    ax_raw.set_title("raw")
    ax_hist.hist(image.ravel(), bins=bins, color="0.4", log=True)
    for value, name, p, color in (
        (low.item(), "pmin", pmin, "tab:blue"),
        (high.item(), "pmax", pmax, "tab:red"),
    ):
        ax_hist.axvline(value, color=color, lw=1.5, label=f"{name} = {p:g}: {value:.4g}")
    ax_hist.set_title("histogram")
    ax_hist.set_xlabel("pixel value")
    ax_hist.set_ylabel("pixels (log)")
    ax_hist.legend(fontsize=8)
    shown = ax_norm.imshow(normalized, cmap="gray", vmin=0, vmax=1)
    ax_norm.set_title(f"normalised, display 0..1{' (clipped)' if clip else ''}")
    fig.colorbar(shown, ax=ax_norm, fraction=0.046)
    for ax in (ax_raw, ax_norm):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig
