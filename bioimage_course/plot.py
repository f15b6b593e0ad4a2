"""Display helpers shared by the notebooks: images with scale bars, comparisons, labels, histograms.

Notebook 01. What you *see* is not the data: a display maps pixel values to colours through a
lookup table (LUT) between two contrast limits. These helpers make that mapping explicit
(``vmin``/``vmax``, ``colorbar=True``) and never change the data.

>>> import numpy as np, matplotlib
>>> matplotlib.use("Agg")
>>> ax = show(np.eye(8), pixel_size_um=0.5, scalebar_um=2, title="identity")
>>> ax.get_title()
'identity'
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from . import HEADLESS_ENV
from ._validate import check_array, check_labels, check_same_shape


def _new_axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    return ax


def add_scalebar(ax, pixel_size_um: float, length_um: float, *, color: str = "white") -> None:
    """Draw a scale bar of ``length_um`` micrometres in the lower right corner of ``ax``."""
    if pixel_size_um <= 0 or length_um <= 0:
        raise ValueError(
            f"`pixel_size_um` and `length_um` must be > 0, got {pixel_size_um} and {length_um}"
        )
    x0, x1 = sorted(ax.get_xlim())
    y_top, y_bottom = sorted(ax.get_ylim())
    width_px = length_um / pixel_size_um
    margin = 0.05 * (x1 - x0)
    height = max(0.012 * (y_bottom - y_top), 1.0)
    x_start = x1 - margin - width_px
    y = y_bottom - margin
    ax.add_patch(plt.Rectangle((x_start, y - height), width_px, height, color=color, lw=0))
    x_text, y_text = x_start + width_px / 2, y - height - 0.01 * (y_bottom - y_top)
    ax.text(x_text, y_text, f"{length_um:g} µm", color=color, ha="center", va="bottom", fontsize=8)


def _nice_length(extent_um: float) -> float:
    """A round scale-bar length close to a fifth of the field of view."""
    target = extent_um / 5
    exponent = np.floor(np.log10(target))
    for step in (5, 2, 1):
        if step * 10**exponent <= target:
            return float(step * 10**exponent)
    return float(10**exponent)


def show(
    image,
    *,
    ax=None,
    title: str | None = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    pixel_size_um: float | None = None,
    scalebar_um: float | None = None,
    colorbar: bool = False,
):
    """Display a 2D or RGB(A) image without ticks, optionally with a scale bar; returns the Axes.

    ``vmin``/``vmax`` are the contrast limits of the LUT (None: the data's min and max); with
    ``pixel_size_um`` a scale bar of ``scalebar_um`` (or a round length) is drawn; ``colorbar``
    maps the colours back to pixel values.
    """
    image = check_array(image, "image", ndim=(2, 3))
    if image.ndim == 3 and image.shape[-1] not in (3, 4):
        raise ValueError(f"`image` must be 2D or RGB(A) (rows, cols, 3|4), got shape {image.shape}")
    ax = _new_axes(ax)
    shown = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if pixel_size_um is not None:
        length = scalebar_um or _nice_length(image.shape[1] * pixel_size_um)
        add_scalebar(ax, pixel_size_um, length)
    elif scalebar_um is not None:
        raise ValueError("`scalebar_um` needs `pixel_size_um` to convert micrometres to pixels")
    return ax


def compare(
    images: Sequence | Mapping,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    size: float = 3.2,
    **show_kwargs,
):
    """Show several images (a sequence, or a mapping title -> image) side by side with :func:`show`.

    At most 4 per row unless ``ncols``; ``show_kwargs`` go to :func:`show`. Returns the Figure.
    """
    if isinstance(images, Mapping):
        titles = list(images.keys())
        images = list(images.values())
    images = list(images)
    if not images:
        raise ValueError("`images` must contain at least one image, got none")
    if titles is not None and len(titles) != len(images):
        raise ValueError(
            f"`titles` must have one title per image ({len(images)}), got {len(titles)}"
        )
    ncols = ncols or min(len(images), 4)
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < len(images):
            show(images[i], ax=ax, title=titles[i] if titles else None, **show_kwargs)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


N_LABEL_COLOURS = 64


def label_colormap(n_labels: int, *, seed: int = 0) -> ListedColormap:
    """A colormap for instance labels: transparent background, distinct random colours."""
    rng = np.random.default_rng(seed)
    colours = np.ones((max(n_labels, 1) + 1, 4))
    colours[1:, :3] = 0.25 + 0.75 * rng.random((max(n_labels, 1), 3))
    colours[0] = (0, 0, 0, 0)
    return ListedColormap(colours)


def overlay_labels(
    image,
    labels,
    *,
    ax=None,
    contours: bool = True,
    alpha: float = 0.4,
    title: str | None = None,
    **show_kwargs,
):
    """Show ``image`` with instance ``labels`` on top: filled colours (``alpha``) and/or outlines.

    An object's colour follows from its id, so it is the same in every panel. Returns the Axes.
    """
    image = check_array(image, "image", ndim=2)
    labels = check_labels(labels, "labels", ndim=2)
    check_same_shape(image, labels, "image", "labels")
    ax = show(image, ax=ax, title=title, **show_kwargs)
    # colour by the id itself (modulo the palette), so an object keeps its colour across panels
    n = N_LABEL_COLOURS
    dense = np.where(labels > 0, (labels.astype(np.int64) - 1) % n + 1, 0)
    cmap = label_colormap(n)
    if alpha > 0:
        filled = np.ma.masked_equal(dense, 0)
        ax.imshow(filled, cmap=cmap, vmin=0, vmax=n, alpha=alpha, interpolation="nearest")
    if contours and n:
        edge = np.zeros(dense.shape, bool)
        for shift in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            edge |= np.roll(dense, shift, axis=(0, 1)) != dense
        edge &= dense > 0
        ax.imshow(
            np.ma.masked_where(~edge, dense), cmap=cmap, vmin=0, vmax=n, interpolation="nearest"
        )
    return ax


def histogram(
    image,
    *,
    ax=None,
    bins: int = 256,
    log: bool = False,
    label: str | None = None,
    title: str | None = None,
    range: tuple[float, float] | None = None,
):
    """Plot the intensity histogram of ``image`` (all values, any shape); returns the Axes.

    ``log`` counts show rare values (hot pixels, saturation); ``label`` overlays several on one
    ``ax``; ``range`` defaults to the data's min and max.
    """
    values = check_array(image, "image", finite=True).ravel()
    if values.dtype == bool:
        values = values.astype(np.uint8)  # a mask: how many pixels are 0 and 1
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    kind = "stepfilled" if label is None else "step"
    ax.hist(values, bins=bins, range=range, histtype=kind, log=log, label=label, alpha=0.9)
    ax.set_xlabel("pixel value")
    ax.set_ylabel("pixel count")
    if title:
        ax.set_title(title, fontsize=10)
    if label is not None:
        ax.legend(fontsize=8)
    return ax


def pixel_grid(image, *, ax=None, fmt: str = "{:g}", cmap: str = "gray", fontsize: int = 8):
    """Show a small image (at most 32 x 32) as what it is: a grid of numbers, each on its pixel."""
    image = check_array(image, "image", ndim=2)
    if max(image.shape) > 32:
        raise ValueError(f"`image` must be at most 32 x 32 to stay readable, got {image.shape}")
    ax = _new_axes(ax)
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    lo, hi = float(image.min()), float(image.max())
    middle = (lo + hi) / 2
    for (row, col), value in np.ndenumerate(image):
        colour = "black" if value > middle else "white"
        text = fmt.format(value.item())
        ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=fontsize)
    ax.set_xticks(range(image.shape[1]))
    ax.set_yticks(range(image.shape[0]))
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.tick_params(labelsize=7)
    return ax


# --- Interactive figures --------------------------------------------------------------------------


def headless() -> bool:
    """True when no live frontend can use widgets here.

    No IPython kernel, or ``BIOIMAGE_COURSE_HEADLESS`` set (as the course runner and the tests do).
    """
    if os.environ.get(HEADLESS_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or getattr(shell, "kernel", None) is None


def figure_png(fig) -> bytes:
    """The PNG bytes of a matplotlib figure (closed afterwards, so it is not shown twice)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _draw_png(draw, values: dict) -> bytes:
    fig = draw(**values)
    fig = getattr(fig, "figure", fig)  # an Axes is accepted too
    if not isinstance(fig, plt.Figure):
        raise TypeError(f"`draw` must return a matplotlib Figure or Axes, got {type(fig).__name__}")
    return figure_png(fig)


def interactive_figure(draw, /, *, inactive=None, **controls):
    """Show ``draw(**values)`` as one figure; in a live notebook, controls redraw that figure.

    Notebook 02 and every "explore" cell. Headless, the cell shows the static figure of ``draw``'s
    defaults and makes no widget. Live, the controls sit above one image widget that a redraw
    updates in place. Not ``ipywidgets.interact``: its Output widget makes headless executors
    answer widget traffic on the channel they wait on, which can hang a run (nbclient issue 312);
    an ``ipywidgets.Image`` update needs no answer, and its PNG shows on GitHub and nbviewer too.

    ``controls`` as in ``interact`` (``(min, max, step)`` a slider, a list a dropdown, or a
    widget), one per keyword of ``draw``; ``inactive`` maps a control to ``reason(values)``,
    a string when it has no effect (the control is then disabled and the reason shown).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> def draw(gamma=1.0):
    ...     fig, ax = plt.subplots()
    ...     ax.plot(np.linspace(0, 1, 5) ** gamma)
    ...     return fig
    >>> widget = interactive_figure(draw, gamma=(0.2, 3.0, 0.1))  # outside a notebook: static
    <IPython.core.display.Image object>
    >>> widget is None
    True
    """
    if not callable(draw):
        raise TypeError(f"`draw` must be callable, got {type(draw).__name__}")
    defaults = {
        name: p.default
        for name, p in inspect.signature(draw).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    inactive = dict(inactive or {})
    unknown = sorted((set(controls) | set(inactive)) - set(defaults))
    if unknown:
        raise ValueError(
            f"controls must name keyword arguments of `draw` that have defaults "
            f"({', '.join(defaults) or 'none'}), got {', '.join(unknown)}"
        )
    if headless():
        from IPython.display import Image, display

        display(Image(data=_draw_png(draw, defaults)))
        return None
    return _live_figure(draw, defaults, controls, inactive)


def _live_figure(draw, defaults: dict, controls: dict, inactive: dict):
    import base64

    import ipywidgets as widgets
    from IPython.display import display

    class _Explorer(widgets.VBox):
        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            bundle["image/png"] = base64.b64encode(image.value).decode("ascii")
            return bundle

    boxes = {}
    for name, abbrev in controls.items():
        box = widgets.interactive.widget_from_abbrev(abbrev, defaults[name])
        if not box.description:
            box.description = name
        box.style.description_width = "initial"
        if hasattr(box, "continuous_update"):
            box.continuous_update = False  # redraw on release: a busy kernel is not flooded
        boxes[name] = box
    note = widgets.HTML()
    image = widgets.Image(format="png", layout={"max_width": "100%"})

    def values() -> dict:
        return {**defaults, **{name: box.value for name, box in boxes.items()}}

    def redraw(change=None):
        current = values()
        reasons = []
        for name, reason in inactive.items():
            why = reason(current)
            if name in boxes:
                boxes[name].disabled = bool(why)
            if why:
                reasons.append(f"<i>{name}</i>: {why}")
        try:
            image.value = _draw_png(draw, current)
        except Exception as err:  # keep the last figure, say what went wrong
            reasons.append(f"<b>could not draw:</b> {type(err).__name__}: {err}")
        note.value = "<br>".join(reasons)

    redraw()
    for box in boxes.values():
        box.observe(redraw, names="value")
    # flex-start: the figure keeps its own size instead of stretching to the cell's width
    explorer = _Explorer(
        [widgets.HBox(list(boxes.values()), layout={"flex_flow": "row wrap"}), note, image],
        layout={"align_items": "flex-start"},
    )
    display(explorer)
    return explorer
