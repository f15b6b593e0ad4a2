"""Figures of the receptive field: windows on an image, windows by position, the ERF.

Notebook 06.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from torch import nn

from .._validate import check_array
from .analytic import receptive_field
from .exact import receptive_box, receptive_field_by_position
from .measured import default_center, erf_radius, gaussian_sigma, radial_profile


def plot_receptive_fields(
    image: Any,
    boxes: Mapping[str, Any],
    *,
    ax=None,
    pixel_size_um: float | None = None,
    title: str | None = None,
):
    """Draw receptive-field windows as squares over ``image`` at true scale.

    ``boxes`` maps a label to a model (its :func:`receptive_box` at the image centre) or a box
    ``((row_start, row_stop), (col_start, col_stop))``; ``pixel_size_um`` adds micrometres to the
    legend and a scale bar.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = plot_receptive_fields(np.zeros((32, 32)), {"3x3": ((15, 18), (15, 18))})
    >>> len(ax.patches)
    1
    """
    import matplotlib.pyplot as plt

    from ..plot import add_scalebar

    arr = check_array(image, "image", ndim=2)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(arr, cmap="gray", interpolation="nearest")
    center = (arr.shape[0] // 2, arr.shape[1] // 2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, item) in enumerate(boxes.items()):
        box = receptive_box(item, center) if isinstance(item, nn.Module) else item
        (r0, r1), (c0, c1) = box
        text = f"{label}: {r1 - r0} px"
        if pixel_size_um is not None:
            text += f" = {(r1 - r0) * pixel_size_um:.3g} µm"
        ax.add_patch(
            plt.Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0,
                r1 - r0,
                fill=False,
                lw=2,
                color=colors[i % len(colors)],
                label=text,
            )
        )
    ax.plot(center[1], center[0], "+", color="yellow", ms=8)
    ax.set_xlim(-0.5, arr.shape[1] - 0.5)
    ax.set_ylim(arr.shape[0] - 0.5, -0.5)
    ax.set_axis_off()
    if boxes:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.8)
    if pixel_size_um is not None:
        extent = arr.shape[1] * pixel_size_um
        length = float(f"{extent / 5:.1g}")
        add_scalebar(ax, pixel_size_um, length)
    if title:
        ax.set_title(title)
    return ax


def plot_windows_by_position(model: nn.Module, *, axis: int = 0, ax=None, title: str | None = None):
    """Draw the exact window of each output position modulo the period as a horizontal bar.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> from bioimage_course.models import UNet
    >>> ax = plot_windows_by_position(UNet(depth=2, base_channels=1))
    >>> len(ax.lines)  # one bar per position, and the line at offset 0
    5
    """
    import matplotlib.pyplot as plt

    exact = receptive_field_by_position(model, axis=axis)
    textbook = receptive_field(model).size[axis]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.4 * exact.period + 1.2))
    for q in range(exact.period):
        ax.plot([-exact.before[q], exact.after[q]], [q, q], lw=7, solid_capstyle="butt")
        ax.text(exact.after[q] + 1, q, f" {exact.size[q]} px", va="center", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(exact.period))
    ax.set_ylim(exact.period - 0.5, -0.5)
    ax.set_xlabel("input pixels, relative to the output pixel")
    ax.set_ylabel(f"position mod {exact.period}")
    ax.set_xlim(-exact.before.max() - 2, exact.after.max() + 16)
    ax.set_title(
        title or f"exact windows: {exact.min} to {exact.max} px (textbook {textbook:g} px)",
        fontsize=10,
    )
    return ax


def plot_effective_receptive_field(
    erf: Any,
    *,
    box: Any = None,
    mass: float = 0.95,
    log: bool = True,
    axes: Any = None,
    title: str | None = None,
):
    """Show an effective receptive field beside its radial profile and a Gaussian of equal spread.

    The map (for its pixel ``(H//2, W//2)``) with the disc holding ``mass`` of it and, if given,
    the analytic ``box``; the profile on a ``log`` axis (a Gaussian is then a parabola) with the
    Gaussian of the same spread (:func:`gaussian_sigma`). Returns the Figure.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> rr, cc = np.mgrid[-8:9, -8:9]
    >>> fig = plot_effective_receptive_field(np.exp(-(rr**2 + cc**2) / 8.0))
    >>> len(fig.axes)
    2
    """
    import matplotlib.pyplot as plt

    arr = check_array(erf, "erf", ndim=2, finite=True).astype(np.float64)
    if arr.min() < 0 or arr.sum() <= 0:
        raise ValueError("`erf` must be non-negative with a positive sum")
    arr = arr / arr.sum()
    if axes is None:
        fig, (ax_map, ax_profile) = plt.subplots(1, 2, figsize=(9, 4))
    else:
        ax_map, ax_profile = axes
        fig = ax_map.figure
    ax_map.imshow(arr, cmap="magma", interpolation="nearest")
    cy, cx = default_center(arr.shape, None)
    radius = erf_radius(arr, mass=mass)
    ax_map.add_patch(
        plt.Circle(
            (cx, cy),
            radius,
            fill=False,
            color="cyan",
            lw=1.5,
            label=f"{mass:.0%} of the ERF: radius {radius:.1f} px",
        )
    )
    if box is not None:
        (r0, r1), (c0, c1) = box
        ax_map.add_patch(
            plt.Rectangle(
                (c0 - 0.5, r0 - 0.5),
                c1 - c0,
                r1 - r0,
                fill=False,
                color="white",
                lw=1.5,
                ls="--",
                label=f"receptive field: {r1 - r0} px",
            )
        )
    ax_map.set_xlim(-0.5, arr.shape[1] - 0.5)
    ax_map.set_ylim(arr.shape[0] - 0.5, -0.5)
    ax_map.legend(loc="upper left", fontsize=7)
    ax_map.set_axis_off()
    ax_map.set_title(title or "effective receptive field", fontsize=10)

    radius_px, profile = radial_profile(arr)
    sigma = gaussian_sigma(arr)
    gaussian = np.exp(-(radius_px**2) / (2 * sigma**2)) / (2 * np.pi * sigma**2)
    ax_profile.plot(radius_px, profile, "o-", ms=2, label="ERF (mean over a ring)")
    ax_profile.plot(radius_px, gaussian, "--", label=f"Gaussian, same spread: sigma {sigma:.1f} px")
    if box is not None:
        ax_profile.axvline(
            (box[0][1] - box[0][0]) / 2, color="gray", ls=":", label="half the receptive field"
        )
    if log:
        ax_profile.set_yscale("log")
        ax_profile.set_ylim(profile.max() * 1e-5, profile.max() * 2)
    ax_profile.set_xlabel("distance from the output pixel (px)")
    ax_profile.set_ylabel("share of the influence per pixel")
    ax_profile.legend(fontsize=7)
    if axes is None:
        fig.tight_layout()
    return fig
