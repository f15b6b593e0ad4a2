"""Tests of bioimage_course.patches: random patches, tiling, stitching."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bioimage_course.patches import center_crop, random_patch, stitch, tile_slices

# ---------------------------------------------------------------------------------------------
# random_patch


def test_random_patch_size_and_bounds():
    rng = np.random.default_rng(0)
    for _ in range(50):
        patch = random_patch((40, 30), (16, 8), rng=rng)
        assert [s.stop - s.start for s in patch] == [16, 8]
        assert all(s.start >= 0 for s in patch)
        assert patch[0].stop <= 40 and patch[1].stop <= 30


def test_random_patch_reaches_every_position_uniformly():
    rng = np.random.default_rng(1)
    starts = [random_patch((10,), 7, rng=rng)[0].start for _ in range(4000)]
    counts = np.bincount(starts, minlength=4)
    assert len(counts) == 4  # positions 0..3 and nothing else
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.04)


def test_random_patch_is_reproducible():
    a = [random_patch((64, 64), 16, rng=np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    assert random_patch((64, 64), 16, rng=7) == random_patch((64, 64), 16, rng=7)


def test_random_patch_3d():
    patch = random_patch((8, 20, 20), (4, 10, 10), rng=0)
    assert len(patch) == 3
    assert [s.stop - s.start for s in patch] == [4, 10, 10]


def test_foreground_patch_is_centred_on_a_foreground_pixel():
    labels = np.zeros((101, 101), dtype=np.int32)
    labels[50, 50] = 3  # a single foreground pixel far from the border
    patch = random_patch(labels.shape, 21, rng=0, labels=labels, foreground_prob=1.0)
    assert patch == (slice(40, 61), slice(40, 61))  # 50 - 21 // 2 = 40


def test_foreground_patch_is_clamped_at_the_border():
    labels = np.zeros((50, 50), dtype=np.int32)
    labels[1, 48] = 1
    patch = random_patch(labels.shape, 10, rng=0, labels=labels, foreground_prob=1.0)
    assert patch == (slice(0, 10), slice(40, 50))
    assert labels[patch].any()


def test_foreground_prob_sets_the_fraction_of_foreground_patches():
    labels = np.zeros((200, 200), dtype=np.int32)
    labels[:5, :5] = 1  # tiny object: uniform patches almost never see it
    rng = np.random.default_rng(2)
    hits = [
        labels[random_patch(labels.shape, 8, rng=rng, labels=labels, foreground_prob=0.5)].any()
        for _ in range(1000)
    ]
    assert 0.45 < np.mean(hits) < 0.56
    uniform = [labels[random_patch(labels.shape, 8, rng=rng)].any() for _ in range(1000)]
    assert np.mean(uniform) < 0.05


def test_foreground_without_objects_falls_back_to_uniform():
    labels = np.zeros((30, 30), dtype=np.uint8)
    patch = random_patch(labels.shape, 10, rng=0, labels=labels, foreground_prob=1.0)
    assert [s.stop - s.start for s in patch] == [10, 10]


def test_random_patch_errors():
    with pytest.raises(ValueError, match="does not fit in an image of shape"):
        random_patch((10, 10), 11)
    with pytest.raises(ValueError, match="`patch_size` must be an int or 2 ints"):
        random_patch((10, 10), (3, 3, 3))
    with pytest.raises(ValueError, match=r"`foreground_prob` must be in \[0, 1\]"):
        random_patch((10, 10), 4, labels=np.zeros((10, 10), int), foreground_prob=1.5)
    with pytest.raises(ValueError, match="needs `labels`"):
        random_patch((10, 10), 4, foreground_prob=0.5)
    with pytest.raises(ValueError, match=r"`labels` must have the spatial shape \(10, 10\)"):
        random_patch((10, 10), 4, labels=np.zeros((10, 9), int), foreground_prob=0.5)
    with pytest.raises(TypeError, match="`labels` must be an integer or boolean label image"):
        random_patch((10, 10), 4, labels=np.zeros((10, 10)), foreground_prob=0.5)
    with pytest.raises(ValueError, match="`shape` must be 1 to 3 positive sizes"):
        random_patch((10, 0), 1)
    with pytest.raises(ValueError, match="`patch_size` must be an int >= 1, got 0"):
        random_patch((10, 10), 0)


# ---------------------------------------------------------------------------------------------
# tile_slices


def test_tile_slices_written_out():
    tiles = tile_slices((10,), 4, 1)
    assert [(s[0].start, s[0].stop) for s in tiles] == [(0, 4), (3, 7), (6, 10)]
    tiles = tile_slices((11,), 4, 1)  # 0, 3, 6 then flush: 7
    assert [(s[0].start, s[0].stop) for s in tiles] == [(0, 4), (3, 7), (6, 10), (7, 11)]
    tiles = tile_slices((3, 9), (5, 3), (0, 0))
    assert [(s[0].start, s[0].stop) for s in tiles] == [(0, 3)] * 3  # axis shorter than tile
    assert [(s[1].start, s[1].stop) for s in tiles] == [(0, 3), (3, 6), (6, 9)]


@settings(max_examples=60, deadline=None)
@given(
    shape=st.lists(st.integers(1, 40), min_size=1, max_size=3),
    tile=st.integers(2, 16),
    frac=st.floats(0, 0.9),
)
def test_tiles_cover_the_image_with_full_tiles_and_the_requested_overlap(shape, tile, frac):
    overlap = int(frac * (tile - 1))
    tiles = tile_slices(shape, tile, overlap)
    count = np.zeros(shape, dtype=int)
    for t in tiles:
        count[t] += 1
        for s, n in zip(t, shape, strict=True):
            assert s.stop - s.start == min(tile, n)  # every tile has the full size
    assert count.min() >= 1  # everything covered
    for ax, n in enumerate(shape):  # neighbours along each axis overlap by >= overlap
        starts = sorted({t[ax].start for t in tiles})
        stops = sorted({t[ax].stop for t in tiles})
        assert starts[0] == 0 and stops[-1] == n  # first and last flush with the border
        for stop, nxt in zip(stops[:-1], starts[1:], strict=True):
            assert stop - nxt >= min(overlap, n)


def test_tile_slices_errors():
    with pytest.raises(ValueError, match="`overlap` must be smaller than `tile`, got 4 and 4"):
        tile_slices((10, 10), 4, 4)
    with pytest.raises(ValueError, match="`overlap` must be an int >= 0, got -1"):
        tile_slices((10, 10), 4, -1)
    with pytest.raises(TypeError, match="`tile` must be an int, got 4.5"):
        tile_slices((10, 10), 4.5, 1)


# ---------------------------------------------------------------------------------------------
# stitch


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    tile=st.integers(2, 12),
    overlap=st.integers(0, 5),
    blend=st.sampled_from(["uniform", "smooth", "center"]),
    seed=st.integers(0, 2**16),
)
def test_stitch_inverts_tiling(shape, tile, overlap, blend, seed):
    overlap = min(overlap, tile - 1)
    image = np.random.default_rng(seed).random(shape).astype(np.float32)
    tiles = tile_slices(shape, tile, overlap)
    out = stitch([image[t] for t in tiles], tiles, shape, blend=blend)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, image, rtol=1e-6)


def test_stitch_keeps_leading_axes_and_integer_labels():
    rng = np.random.default_rng(0)
    image = rng.random((2, 17, 23))
    labels = rng.integers(0, 5, (17, 23)).astype(np.int32)
    tiles = tile_slices((17, 23), 8, 2)
    out = stitch([image[:, t[0], t[1]] for t in tiles], tiles, (17, 23), blend="smooth")
    np.testing.assert_allclose(out, image)
    lab = stitch([labels[t] for t in tiles], tiles, (17, 23), blend="center")
    assert lab.dtype == np.int32
    np.testing.assert_array_equal(lab, labels)


def test_uniform_blend_is_the_mean_of_covering_tiles():
    shape = (9, 7)
    tiles = tile_slices(shape, 5, 2)
    values = [np.full((5, 5), float(i)) for i in range(len(tiles))]
    total, count = np.zeros(shape), np.zeros(shape)
    for t, v in zip(tiles, values, strict=True):
        total[t] += v
        count[t] += 1
    np.testing.assert_allclose(stitch(values, tiles, shape), total / count)


def test_center_blend_takes_each_pixel_from_its_most_central_tile():
    tiles = tile_slices((10,), 6, 2)  # (0, 6) and (4, 10); overlap 4, 5
    out = stitch([np.zeros(6), np.ones(6)], tiles, (10,), blend="center")
    # pixel 4 lies 1.5 from tile 0's inner edge (6) and 0.5 inside tile 1: from tile 0
    # pixel 5 lies 0.5 from tile 0's inner edge and 1.5 inside tile 1: from tile 1
    np.testing.assert_array_equal(out, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])


def test_smooth_blend_removes_the_seam_between_disagreeing_tiles():
    tiles = tile_slices((40,), 24, 8)  # (0, 24), (16, 40)
    parts = [np.zeros(24), np.ones(24)]
    uniform = stitch(parts, tiles, (40,))
    smooth = stitch(parts, tiles, (40,), blend="smooth")
    assert np.abs(np.diff(uniform)).max() == pytest.approx(0.5)  # two jumps of 0.5
    assert np.abs(np.diff(smooth)).max() < 0.25  # a gradual transition
    assert np.all(np.diff(smooth) >= 0)
    assert smooth[0] == 0 and smooth[-1] == 1


def test_stitch_errors():
    tiles = tile_slices((8, 8), 4)
    parts = [np.zeros((4, 4))] * len(tiles)
    with pytest.raises(ValueError, match="`blend` must be one of 'uniform', 'smooth', 'center'"):
        stitch(parts, tiles, (8, 8), blend="max")
    with pytest.raises(ValueError, match="must have the same length, got 3 and 4"):
        stitch(parts[:3], tiles, (8, 8))
    with pytest.raises(ValueError, match=r"the same length as `slices` \(4\), got more"):
        stitch(parts + parts[:1], tiles, (8, 8))
    with pytest.raises(
        ValueError, match=r"`tiles\[1\]` must have spatial shape \(4, 4\), got \(4, 3\)"
    ):
        stitch([parts[0], np.zeros((4, 3))] + parts[2:], tiles, (8, 8))
    with pytest.raises(ValueError, match="use blend='center'"):
        stitch([p.astype(int) for p in parts], tiles, (8, 8))
    with pytest.raises(ValueError, match="leave 16 pixel"):
        stitch(parts[:3], tiles[:3], (8, 8))
    with pytest.raises(ValueError, match="lies outside an image"):
        stitch(parts, tiles, (6, 8))
    with pytest.raises(ValueError, match="at least one tile"):
        stitch([], [], (8, 8))
    with pytest.raises(ValueError, match="must overlap by at least 2 \\* `margin`"):
        stitch(parts, tiles, (8, 8), blend="smooth", margin=1)  # no overlap at all
    with pytest.raises(ValueError, match="`margin` must be an int >= 0, got -1"):
        stitch(parts, tiles, (8, 8), blend="smooth", margin=-1)


def test_smooth_stitch_ignores_the_margin_band_of_inner_edges():
    """Tiles corrupted within `margin` of their inner edges (what zero padding does to a
    network's output) still stitch back exactly, as long as they overlap by 2 * margin."""
    image = np.random.default_rng(1).random((30, 41))
    margin = 3
    windows = tile_slices(image.shape, 12, 2 * margin)
    corrupted = []
    for w in windows:
        tile = image[w].copy()
        for axis, s in enumerate(w):
            band = [slice(None), slice(None)]
            if s.start > 0:
                band[axis] = slice(0, margin)
                tile[tuple(band)] = -100.0
            if s.stop < image.shape[axis]:
                band[axis] = slice(tile.shape[axis] - margin, None)
                tile[tuple(band)] = -100.0
        corrupted.append(tile)
    out = stitch(iter(corrupted), windows, image.shape, blend="smooth", margin=margin)
    np.testing.assert_allclose(out, image)
    assert np.abs(stitch(corrupted, windows, image.shape, blend="smooth") - image).max() > 1


def test_center_crop():
    a = np.arange(2 * 7 * 6).reshape(2, 7, 6)
    c = center_crop(a, (3, 2))
    np.testing.assert_array_equal(c, a[:, 2:5, 2:4])
    with pytest.raises(ValueError, match="larger than the array's last axes"):
        center_crop(a, 8)
