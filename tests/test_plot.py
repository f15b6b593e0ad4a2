"""Display helpers draw what they are given, never change it, and reject bad input clearly."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bioimage_course import plot  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_show_keeps_data_and_contrast_limits():
    image = np.arange(12.0).reshape(3, 4)
    copy = image.copy()
    ax = plot.show(image, vmin=2, vmax=5, colorbar=True)
    shown = ax.images[0]
    np.testing.assert_array_equal(shown.get_array(), image)
    assert shown.get_clim() == (2, 5)
    np.testing.assert_array_equal(image, copy)


def test_scalebar_has_physical_length():
    image = np.zeros((100, 200))
    ax = plot.show(image, pixel_size_um=0.5, scalebar_um=10)
    bar = ax.patches[0]
    assert bar.get_width() == pytest.approx(20)  # 10 um / 0.5 um per pixel
    assert any(t.get_text() == "10 µm" for t in ax.texts)
    with pytest.raises(ValueError, match="needs `pixel_size_um`"):
        plot.show(image, scalebar_um=10)


def test_compare_grid_and_titles():
    fig = plot.compare({"a": np.zeros((4, 4)), "b": np.ones((4, 4)), "c": np.eye(4)}, ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="one title per image"):
        plot.compare([np.zeros((2, 2))], titles=["x", "y"])


def test_overlay_labels_colours_each_object():
    labels = np.zeros((10, 10), int)
    labels[1:4, 1:4] = 7
    labels[6:9, 6:9] = 3
    ax = plot.overlay_labels(np.zeros((10, 10)), labels, alpha=0.5)
    filled = ax.images[1].get_array()
    assert set(np.unique(filled.compressed())) == {7, 3}  # coloured by their own ids
    assert filled.mask[0, 0]
    other = plot.overlay_labels(np.zeros((10, 10)), np.where(labels == 3, 3, 0))
    assert set(np.unique(other.images[1].get_array().compressed())) == {3}  # same colour
    with pytest.raises(ValueError, match="same shape"):
        plot.overlay_labels(np.zeros((10, 10)), labels[:5])
    with pytest.raises(TypeError, match="integer or boolean label image"):
        plot.overlay_labels(np.zeros((10, 10)), labels.astype(float))


def test_histogram_counts_all_pixels():
    image = np.array([[0, 0, 1], [1, 1, 2]])
    ax = plot.histogram(image, bins=3)
    outline = ax.patches[0].get_xy()  # a stepfilled histogram is one polygon
    assert outline[:, 1].max() == 3  # the value 1 occurs three times
    assert ax.get_xlabel() == "pixel value"
    with pytest.raises(ValueError, match="finite"):
        plot.histogram(np.array([1.0, np.nan]))


def test_pixel_grid_writes_every_value():
    crop = np.arange(12, dtype=np.uint8).reshape(3, 4)
    ax = plot.pixel_grid(crop, fmt="{:d}")
    assert sorted(int(t.get_text()) for t in ax.texts) == list(range(12))
    with pytest.raises(ValueError, match="at most 32 x 32"):
        plot.pixel_grid(np.zeros((40, 40)))
