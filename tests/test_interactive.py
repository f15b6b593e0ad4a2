"""plot.interactive_figure: one figure, static headless, live controls that redraw it."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bioimage_course import plot  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def draw(kind="line", gamma=1.0):
    fig, ax = plt.subplots(figsize=(2, 2))
    x = np.linspace(0, 1, 16)
    if kind == "line":
        ax.plot(x, x**gamma)
    else:
        ax.bar(x, x**gamma)
    return fig


def fail(gamma=1.0):
    if gamma > 2:
        raise RuntimeError("gamma too large for this demo")
    return draw(gamma=gamma)


@pytest.fixture
def displayed(monkeypatch):
    """What the helper passes to IPython's display, instead of showing it."""
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    return shown


@pytest.fixture
def live(monkeypatch):
    monkeypatch.setattr(plot, "headless", lambda: False)


def test_headless_is_set_for_test_kernels_and_outside_a_kernel(monkeypatch):
    monkeypatch.delenv("BIOIMAGE_COURSE_HEADLESS", raising=False)
    assert plot.headless()  # no IPython kernel in a test process
    for value in ("1", "yes", "true"):
        monkeypatch.setenv("BIOIMAGE_COURSE_HEADLESS", value)
        assert plot.headless()


def test_headless_shows_only_the_static_figure(displayed):
    before = plt.get_fignums()
    result = plot.interactive_figure(draw, gamma=(0.2, 3.0, 0.1))
    assert result is None
    assert len(displayed) == 1
    assert displayed[0].data.startswith(PNG_MAGIC)
    assert plt.get_fignums() == before  # the figure was closed: shown once, not twice


def test_live_controls_redraw_one_figure(displayed, live):
    explorer = plot.interactive_figure(draw, kind=["line", "bars"], gamma=(0.2, 3.0, 0.1))
    assert displayed == [explorer]
    controls, note, image = explorer.children
    kind, gamma = controls.children
    assert (kind.value, gamma.value) == ("line", 1.0)  # the defaults of `draw`
    assert gamma.continuous_update is False
    assert kind.style.description_width == "initial"  # labels are never cut
    first = bytes(image.value)
    assert first.startswith(PNG_MAGIC)
    kind.value = "bars"
    bars = bytes(image.value)
    assert bars != first and bars.startswith(PNG_MAGIC)
    gamma.value = 2.0
    assert bytes(image.value) not in (first, bars)
    assert note.value == ""


def test_live_widget_carries_its_figure_for_frontends_without_widgets(live, displayed):
    explorer = plot.interactive_figure(draw, gamma=(0.2, 3.0, 0.1))
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import base64

    assert base64.b64decode(bundle["image/png"]) == bytes(explorer.children[2].value)


def test_inactive_control_is_disabled_and_explained(live, displayed):
    def reason(values):
        return None if values["kind"] == "line" else "bars ignore gamma"

    explorer = plot.interactive_figure(
        draw, kind=["line", "bars"], gamma=(0.2, 3.0, 0.1), inactive={"gamma": reason}
    )
    controls, note, _ = explorer.children
    kind, gamma = controls.children
    assert not gamma.disabled and note.value == ""
    kind.value = "bars"
    assert gamma.disabled and "bars ignore gamma" in note.value
    kind.value = "line"
    assert not gamma.disabled and note.value == ""


def test_a_failing_redraw_keeps_the_last_figure_and_says_why(live, displayed):
    explorer = plot.interactive_figure(fail, gamma=(0.2, 3.0, 0.1))
    controls, note, image = explorer.children
    before = bytes(image.value)
    controls.children[0].value = 2.5
    assert bytes(image.value) == before
    assert "RuntimeError" in note.value and "gamma too large" in note.value


def test_widget_controls_are_used_as_given(live, displayed):
    slider = widgets.FloatSlider(value=1.5, min=0.5, max=2.5, description="γ")
    explorer = plot.interactive_figure(draw, gamma=slider)
    assert explorer.children[0].children[0] is slider
    assert slider.description == "γ"


def test_bad_arguments(displayed):
    with pytest.raises(TypeError, match="`draw` must be callable"):
        plot.interactive_figure("not a function")
    with pytest.raises(ValueError, match="controls must name keyword arguments.*got sigma"):
        plot.interactive_figure(draw, sigma=(1, 2))
    with pytest.raises(ValueError, match="got beta"):
        plot.interactive_figure(draw, inactive={"beta": lambda v: None})
    with pytest.raises(TypeError, match="`draw` must return a matplotlib Figure or Axes, got int"):
        plot.interactive_figure(lambda gamma=1.0: 3)
