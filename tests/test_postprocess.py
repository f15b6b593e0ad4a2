"""Target encoders and decoders: decode(encode(labels)) gives the labels back; the decoders equal
their scikit-image composition; bad input is named."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from skimage import measure, morphology, segmentation

from bioimage_course.data import make_nuclei
from bioimage_course.metrics import matching
from bioimage_course.postprocess import (
    BACKGROUND,
    BOUNDARY,
    INTERIOR,
    distance_target,
    instances_from_distance,
    instances_from_three_class,
    median_diameter,
    remove_small,
    seeded_watershed,
    three_class_target,
)


def one_hot(classes):
    return np.stack([classes == c for c in (BACKGROUND, INTERIOR, BOUNDARY)]).astype(float)


def separable(labels, boundary_px=1):
    """Keep the objects whose interior (after removing the boundary ring) is one region."""
    interior = three_class_target(labels, boundary_px=boundary_px) == INTERIOR
    keep = np.zeros(labels.max() + 1, bool)
    for index in range(1, labels.max() + 1):
        parts = measure.label(interior & (labels == index), connectivity=1).max()
        keep[index] = parts == 1
    return np.where(keep[labels], labels, 0)


@pytest.fixture(scope="module")
def crowded():
    return [make_nuclei((160, 160), preset="crowded", rng=i)[1] for i in range(3)]


@pytest.mark.parametrize("boundary_px", [1, 2])
def test_three_class_roundtrip_recovers_separable_nuclei(crowded, boundary_px):
    for labels in crowded:
        labels = separable(labels, boundary_px)
        decoded = instances_from_three_class(
            one_hot(three_class_target(labels, boundary_px=boundary_px))
        )
        assert matching(labels, decoded, 0.9).f1 == 1.0
        np.testing.assert_array_equal(decoded > 0, labels > 0)


@pytest.mark.parametrize("seed", range(3))
def test_distance_roundtrip_recovers_round_nuclei(seed):
    labels = make_nuclei((160, 160), preset="easy", rng=seed)[1]
    decoded = instances_from_distance(distance_target(labels), labels > 0, h=0.1)
    assert matching(labels, decoded, 0.9).f1 == 1.0
    assert ((decoded > 0) == (labels > 0)).all()


def test_distance_roundtrip_on_crowded_nuclei(crowded):
    # A nucleus pinched like an 8 has two hills, and the valley between touching nuclei need
    # not lie exactly on their contact: not every crowded nucleus comes back at IoU 0.9.
    decoded = [instances_from_distance(distance_target(lab), lab > 0, h=0.1) for lab in crowded]
    assert all(matching(t, d, 0.9).f1 >= 0.9 for t, d in zip(crowded, decoded, strict=True))
    assert all(matching(t, d, 0.5).f1 >= 0.97 for t, d in zip(crowded, decoded, strict=True))


def test_touching_nuclei_merge_in_a_binary_mask_but_not_in_the_targets(crowded):
    labels = crowded[0]
    merged = measure.label(labels > 0, connectivity=1)
    assert merged.max() < 0.8 * labels.max()  # crowded: many touch
    three = instances_from_three_class(one_hot(three_class_target(labels)))
    assert three.max() > 0.95 * labels.max()


def test_three_class_target_classes():
    labels = make_nuclei((96, 96), preset="crowded", rng=7)[1]
    target = three_class_target(labels)
    assert set(np.unique(target)) <= {0, 1, 2}
    np.testing.assert_array_equal(target == BACKGROUND, labels == 0)
    # interior pixels have only their own label within the ring width
    for index in range(1, labels.max() + 1):
        eroded = ndi.binary_erosion(labels == index, morphology.disk(1), border_value=1)
        np.testing.assert_array_equal(target[labels == index] == INTERIOR, eroded[labels == index])


def test_distance_target_is_one_at_each_centre_and_zero_outside():
    labels = make_nuclei((96, 96), preset="crowded", rng=8)[1]
    d = distance_target(labels)
    assert d.dtype == np.float32 and (d[labels == 0] == 0).all()
    assert d.max() <= 1 and (d[labels > 0] > 0).all()
    maxima = ndi.maximum(d, labels, index=np.arange(1, labels.max() + 1))
    np.testing.assert_allclose(maxima, 1.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), with_mask=st.booleans())
def test_seeded_watershed_is_skimage_watershed(seed, with_mask):
    rng = np.random.default_rng(seed)
    elevation = ndi.gaussian_filter(rng.random((40, 50)), 2)
    seeds = np.zeros((40, 50), int)
    seeds[rng.integers(0, 40, 6), rng.integers(0, 50, 6)] = np.arange(1, 7)
    seeds = segmentation.relabel_sequential(seeds)[0]
    mask = elevation < np.median(elevation) if with_mask else None
    np.testing.assert_array_equal(
        seeded_watershed(elevation, seeds, mask),
        segmentation.watershed(elevation, seeds, mask=mask),
    )


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_three_class_decoder_is_its_skimage_composition(seed):
    rng = np.random.default_rng(seed)
    p = ndi.gaussian_filter(rng.random((3, 48, 48)), (0, 2, 2))
    p = p / p.sum(axis=0)
    seeds = measure.label(p[INTERIOR] > 0.34, connectivity=1)
    mask = (p[BACKGROUND] < 0.66) | (seeds > 0)
    expected = segmentation.watershed(1 - p[INTERIOR], seeds, mask=mask)
    got = instances_from_three_class(p, interior_threshold=0.34, foreground_threshold=0.34)
    np.testing.assert_array_equal(got, segmentation.relabel_sequential(expected)[0])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), h=st.floats(0.01, 0.3))
def test_distance_decoder_is_its_skimage_composition(seed, h):
    rng = np.random.default_rng(seed)
    distance = ndi.gaussian_filter(rng.random((48, 48)), 3)
    distance = (distance - distance.min()) / np.ptp(distance)
    foreground = ndi.gaussian_filter(rng.random((48, 48)), 2)
    mask = foreground > 0.5
    seeds = measure.label(morphology.h_maxima(distance, h) & mask, connectivity=2)
    expected = segmentation.watershed(-distance, seeds, mask=mask)
    got = instances_from_distance(distance, foreground, h=h, smooth_px=0)
    np.testing.assert_array_equal(got, segmentation.relabel_sequential(expected)[0])


def test_distance_decoder_smooths_first():
    rng = np.random.default_rng(3)
    distance = ndi.gaussian_filter(rng.random((48, 48)), 3)
    foreground = np.ones((48, 48))
    smoothed = ndi.gaussian_filter(distance, 1.5)
    np.testing.assert_array_equal(
        instances_from_distance(distance, foreground, h=0.01, smooth_px=1.5),
        instances_from_distance(smoothed, foreground, h=0.01, smooth_px=0),
    )


def test_remove_small_and_median_diameter():
    labels = np.zeros((30, 30), int)
    labels[:10, :10], labels[20:22, 20:22], labels[15:25, 0:10] = 3, 5, 9
    kept = remove_small(labels, 5)
    assert sorted(np.unique(kept)) == [0, 1, 2]
    assert median_diameter(kept) == pytest.approx(2 * np.sqrt(100 / np.pi))
    assert np.isnan(median_diameter(np.zeros((4, 4), int)))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="`boundary_px` must be an int >= 1, got 0"):
        three_class_target(np.zeros((4, 4), int), boundary_px=0)
    with pytest.raises(ValueError, match="`labels` must be a 2D array"):
        three_class_target(np.zeros(4, int))
    with pytest.raises(ValueError, match="`probabilities` must have 3 channels first"):
        instances_from_three_class(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"`probabilities` must be probabilities in \[0, 1\]"):
        instances_from_three_class(np.full((3, 4, 4), 2.0))
    with pytest.raises(ValueError, match="`foreground` must have the shape of `distance`"):
        instances_from_distance(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="`h` must be"):
        instances_from_distance(np.zeros((4, 4)), np.zeros((4, 4)), h=0)
    with pytest.raises(ValueError, match="`seeds` must have the shape of `elevation`"):
        seeded_watershed(np.zeros((4, 4)), np.zeros((3, 4), int))
    with pytest.raises(ValueError, match="`elevation` must contain only finite values"):
        seeded_watershed(np.full((4, 4), np.nan), np.zeros((4, 4), int))
