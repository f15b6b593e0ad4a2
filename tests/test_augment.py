"""Tests of bioimage_course.augment: geometric and intensity transforms, labels, torch path."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi

from bioimage_course.augment import (
    TRANSFORM_KINDS,
    BrightnessContrast,
    Compose,
    CutOut,
    GaussianBlur,
    GaussianNoise,
    PoissonNoise,
    RandomElastic,
    RandomFlip,
    RandomGamma,
    RandomRot90,
    RandomWarp,
    augmented_patch,
    elastic_field,
    explore,
    make_transform,
    resample,
    resample_labels,
    show_augmentations,
    valid_box,
    warp_coordinates,
)


def smooth_image(shape=(48, 40), seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), 2).astype(dtype)


def blob_labels(shape=(48, 40), seed=0, n=6):
    """Non-contiguous ids (3, 10, 17, ...) so that interpolated values would be detectable."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, dtype=np.int32)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    for i in range(n):
        r, c = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        labels[(rr - r) ** 2 + (cc - c) ** 2 < rng.integers(9, 50)] = 3 + 7 * i
    return labels


FULL_PIPELINE = Compose(
    [
        RandomFlip(),
        RandomRot90(),
        RandomWarp(
            rotation_deg=180,
            translation_px=5,
            zoom=0.3,
            shear_deg=15,
            elastic_magnitude_px=3,
            elastic_smoothness_px=6,
        ),
        GaussianNoise(0.05, p=0.5),
        PoissonNoise((10, 100), p=0.5),
        BrightnessContrast(p=0.5),
        RandomGamma(p=0.5),
        GaussianBlur(1.0, p=0.5),
        CutOut(size_px=(2, 8), p=0.5),
    ]
)


# ---------------------------------------------------------------------------------------------
# Coordinate maps and resampling against scipy references


@pytest.mark.parametrize("order", [1, 3])
@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest"])
def test_affine_warp_equals_scipy_affine_transform(order, mode):
    image = smooth_image()
    rot, zoom, shear, shift = 23.0, 1.3, 10.0, (2.5, -4.0)
    coords = warp_coordinates(
        image.shape, rotation_deg=rot, zoom=zoom, shear_deg=shear, translation_px=shift
    )
    ours = resample(image, coords, order=order, mode=mode)
    # Written out: forward = R @ S @ zoom, sampled with its inverse about the centre.
    a, s = np.radians(rot), np.tan(np.radians(shear))
    forward = (
        np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        @ np.array([[1, 0], [s, 1]])
        * zoom
    )
    inverse = np.linalg.inv(forward)
    centre = (np.array(image.shape) - 1) / 2
    offset = centre - inverse @ (centre + np.array(shift))
    scipy_mode = {"reflect": "reflect", "constant": "grid-constant", "nearest": "nearest"}[mode]
    reference = ndi.affine_transform(
        image.astype(np.float64), inverse, offset=offset, order=order, mode=scipy_mode
    )
    np.testing.assert_allclose(ours, reference, atol=1e-4)


@pytest.mark.parametrize("shape", [(5, 5), (6, 6), (7, 4)])
def test_rotation_by_multiples_of_90_degrees_is_exact(shape):
    image = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    labels = image.astype(np.int32)
    k_values = (1, 2, 3) if shape[0] == shape[1] else (2,)
    for k in k_values:
        out, out_labels = RandomWarp(rotation_deg=(90 * k, 90 * k))(image, labels)
        np.testing.assert_allclose(out, np.rot90(image, k), atol=1e-5)
        np.testing.assert_array_equal(out_labels, np.rot90(labels, k))


def test_integer_translation_shifts_and_fills_labels_with_background():
    image = smooth_image((20, 30))
    labels = blob_labels((20, 30))
    t = RandomWarp(translation_px=(3, 3), mode="constant")  # rows and cols by +3
    out, out_labels = t(image, labels)
    np.testing.assert_allclose(out[3:, 3:], image[:-3, :-3], atol=1e-6)
    assert np.all(out[:3] == 0) and np.all(out[:, :3] == 0)
    np.testing.assert_array_equal(out_labels[3:, 3:], labels[:-3, :-3])
    assert np.all(out_labels[:3] == 0) and np.all(out_labels[:, :3] == 0)


def test_zoom_magnifies_about_the_centre():
    labels = np.zeros((41, 41), dtype=np.int32)
    labels[15:26, 15:26] = 1  # 11 x 11 square at the centre
    _, out = RandomWarp(zoom=(2, 2))(np.zeros((41, 41)), labels)
    rows, cols = np.nonzero(out)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10, 30, 10, 30)  # 21 x 21


def test_resample_labels_equals_scipy_nearest():
    labels = blob_labels((30, 30))
    rng = np.random.default_rng(3)
    coords = rng.uniform(-3, 33, size=(2, 25, 25)).astype(np.float32)
    reference = ndi.map_coordinates(labels, coords, order=0, mode="grid-constant")
    np.testing.assert_array_equal(resample_labels(labels, coords), reference)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64, bool])
@pytest.mark.parametrize("order", [1, 3])
def test_resample_refuses_to_interpolate_integers(dtype, order):
    labels = np.array([[0, 3], [3, 0]], dtype=dtype)
    with pytest.raises(ValueError, match="`image` must be a float array.*resample_labels"):
        resample(labels, np.array([[[0.0, 0.5]], [[0.25, 0.5]]]), order=order)
    nearest = resample(labels, np.array([[[0.0, 0.6]], [[0.25, 0.6]]]), order=0)
    assert nearest.dtype == labels.dtype and set(nearest.ravel()) <= set(labels.ravel())


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.integers(1, 60000), min_size=1, max_size=5, unique=True),
    seed=st.integers(0, 2**16),
    rotation=st.floats(-45, 45),
    zoom=st.floats(0.7, 1.4),
)
def test_resample_never_invents_label_ids(ids, seed, rotation, zoom):
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array([0, *ids], dtype=np.uint16), size=(12, 12))
    coords = warp_coordinates(labels.shape, rotation_deg=rotation, zoom=zoom)
    assert set(resample(labels, coords, order=0).ravel()) <= set(labels.ravel())
    assert set(resample_labels(labels, coords).ravel()) <= {0, *labels.ravel()}
    with pytest.raises(ValueError, match="ids that never existed"):
        resample(labels, coords, order=1)


def test_warping_a_camera_image_keeps_its_integer_dtype_with_rounding_and_clipping():
    image = np.array([[0, 65535], [65535, 0]], dtype=np.uint16)
    warp = RandomWarp(rotation_deg=(10, 10))
    params = warp.draw(np.random.default_rng(0), image.shape)
    out, _ = warp.apply(image, None, params)
    assert out.dtype == np.uint16  # interpolated as float, rounded and clipped back
    coords = warp.coordinates(params, image.shape)
    expected = resample(image.astype(np.float32), coords, order=1)
    np.testing.assert_array_equal(out, np.clip(np.rint(expected), 0, 65535).astype(np.uint16))


def test_valid_box_contains_only_inside_coordinates_and_is_maximal():
    coords = warp_coordinates((60, 40), rotation_deg=30, zoom=1.1)
    rows, cols = valid_box(coords, (60, 40))
    box = coords[:, rows, cols]
    assert box.shape[1] > 10 and box.shape[2] > 5
    assert box[0].min() >= 0 and box[0].max() <= 59 and box[1].min() >= 0 and box[1].max() <= 39
    grown = coords[:, rows.start - 1 : rows.stop + 1, cols.start - 1 : cols.stop + 1]
    inside = (grown[0] >= 0) & (grown[0] <= 59) & (grown[1] >= 0) & (grown[1] <= 39)
    assert not inside.all()


def test_crop_to_valid_removes_filled_borders():
    labels = np.ones((50, 50), dtype=np.int32)
    _, uncropped = RandomWarp(rotation_deg=(45, 45))(np.zeros((50, 50)), labels)
    assert (uncropped == 0).any()  # background corners appeared
    image, cropped = RandomWarp(rotation_deg=(45, 45), crop_to_valid=True)(
        np.zeros((50, 50)), labels
    )
    assert cropped.shape == image.shape == (34, 34)  # 2 * 16.5 * sqrt(2) <= 49 < 2 * 17.5 * sqrt(2)
    assert np.all(cropped == 1)


# ---------------------------------------------------------------------------------------------
# Elastic field


def test_elastic_field_has_the_requested_magnitude_and_smoothness():
    magnitude, smoothness = 3.0, 8.0
    fields = np.stack([elastic_field((128, 128), magnitude, smoothness, rng=i) for i in range(8)])
    assert fields.dtype == np.float32
    assert abs(fields.std() / magnitude - 1) < 0.15
    # Gaussian-smoothed white noise has autocorrelation exp(-d^2 / (4 sigma^2)): e^-1 at 2 sigma.
    lag = int(2 * smoothness)
    a, b = fields[..., :-lag].ravel(), fields[..., lag:].ravel()
    assert abs(np.corrcoef(a, b)[0, 1] - np.exp(-1)) < 0.12
    neighbours = np.corrcoef(fields[..., :-1].ravel(), fields[..., 1:].ravel())[0, 1]
    assert neighbours > 0.98  # smooth at the pixel scale


def test_elastic_field_is_reproducible():
    np.testing.assert_array_equal(
        elastic_field((30, 40), 2, 5, rng=1), elastic_field((30, 40), 2, 5, rng=1)
    )
    assert not np.array_equal(
        elastic_field((30, 40), 2, 5, rng=1), elastic_field((30, 40), 2, 5, rng=2)
    )


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=st.tuples(st.integers(8, 40), st.integers(8, 40)))
def test_label_values_after_any_pipeline_are_a_subset_of_those_before(seed, shape):
    image = smooth_image(shape, seed)
    labels = blob_labels(shape, seed)
    out_image, out_labels = FULL_PIPELINE(image, labels, rng=seed)
    assert set(np.unique(out_labels)) <= set(np.unique(labels)) | {0}
    assert out_labels.dtype == labels.dtype
    assert out_image.shape == image.shape and out_labels.shape == labels.shape


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), square=st.booleans())
def test_flips_and_rot90_are_exact_inverses(seed, square):
    shape = (12, 12) if square else (12, 9)
    image = np.random.default_rng(seed).random(shape)
    labels = blob_labels(shape, seed)
    rng = np.random.default_rng(seed)
    flip, rot = RandomFlip(), RandomRot90()
    fp, rp = flip.draw(rng, shape), rot.draw(rng, shape)
    out = rot.apply(*flip.apply(image, labels, fp), rp)
    back = flip.apply(*rot.apply(*out, {"k": (4 - rp["k"]) % 4}), fp)
    np.testing.assert_array_equal(back[0], image)
    np.testing.assert_array_equal(back[1], labels)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64, np.uint8, np.uint16]),
)
def test_identity_parameters_return_the_input(seed, dtype):
    image = (smooth_image((17, 23), seed, np.float64) * 200).astype(dtype)
    labels = blob_labels((17, 23), seed)
    identity = [
        RandomWarp(),
        RandomWarp(rotation_deg=0, zoom=(1, 1)),
        GaussianNoise(0),
        BrightnessContrast(brightness=0, contrast=0),
        RandomGamma(gamma=0),
        GaussianBlur(0),
        CutOut(n_holes=0),
        RandomFlip(p=0),
        RandomRot90(p=0),
        Compose([RandomElastic(magnitude_px=5)], p=0),
    ]
    for t in identity:
        out, out_labels = t(image, labels, rng=seed)
        assert out.dtype == image.dtype
        np.testing.assert_array_equal(out, image, err_msg=repr(t))
        np.testing.assert_array_equal(out_labels, labels, err_msg=repr(t))
    cubic, _ = RandomWarp(order=3)(image.astype(np.float64))
    np.testing.assert_allclose(cubic, image, atol=1e-9)


@pytest.mark.parametrize("channel_axis", [None, 0, -1])
def test_shapes_and_dtypes_are_preserved_for_every_transform(channel_axis):
    image = smooth_image((24, 24))
    if channel_axis is not None:
        image = np.stack([image, 1 - image], axis=channel_axis)
    labels = blob_labels((24, 24))
    for t in FULL_PIPELINE.transforms + [FULL_PIPELINE]:
        out, out_labels = t(image, labels, rng=0, channel_axis=channel_axis)
        assert out.shape == image.shape and out.dtype == image.dtype, repr(t)
        assert out_labels.shape == labels.shape and out_labels.dtype == labels.dtype, repr(t)


def test_channels_are_warped_like_single_images():
    image = np.stack([smooth_image(seed=1), smooth_image(seed=2), smooth_image(seed=3)], -1)
    t = RandomWarp(rotation_deg=90, elastic_magnitude_px=2, elastic_smoothness_px=6)
    params = t.draw(np.random.default_rng(0), image.shape[:2])
    out, _ = t.apply(image, None, params, channel_axis=-1)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], t.apply(image[..., c], None, params)[0])


def test_3d_stacks_are_warped_plane_by_plane():
    stack = np.stack([smooth_image(seed=s) for s in range(4)])
    labels = np.stack([blob_labels(seed=s) for s in range(4)])
    t = RandomWarp(rotation_deg=180, elastic_magnitude_px=2)
    params = t.draw(np.random.default_rng(1), stack.shape)
    out, out_labels = t.apply(stack, labels, params)
    for z in range(4):
        plane, plane_labels = t.apply(stack[z], labels[z], params)
        np.testing.assert_array_equal(out[z], plane)
        np.testing.assert_array_equal(out_labels[z], plane_labels)
    flipped, flipped_labels = RandomFlip(axes=(0,)).apply(stack, labels, {"flip": (0,)})
    np.testing.assert_array_equal(flipped, stack[::-1])
    np.testing.assert_array_equal(flipped_labels, labels[::-1])


def test_inputs_are_never_modified():
    image, labels = smooth_image(), blob_labels()
    image_copy, labels_copy = image.copy(), labels.copy()
    out, out_labels = FULL_PIPELINE(image, labels, rng=0)
    skipped, skipped_labels = RandomFlip(p=0)(image, labels)
    skipped[:] = 0
    skipped_labels[:] = 0
    np.testing.assert_array_equal(image, image_copy)
    np.testing.assert_array_equal(labels, labels_copy)


def test_pipeline_is_reproducible_and_seeds_differ():
    image, labels = smooth_image(), blob_labels()
    a = FULL_PIPELINE(image, labels, rng=42)
    b = FULL_PIPELINE(image, labels, rng=np.random.default_rng(42))
    c = FULL_PIPELINE(image, labels, rng=43)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_probability_p_sets_how_often_a_transform_is_applied():
    image = np.zeros((4, 4))
    rng = np.random.default_rng(0)
    applied = [GaussianNoise((1, 1), p=0.3)(image, rng=rng)[0].any() for _ in range(2000)]
    assert 0.27 < np.mean(applied) < 0.33


# ---------------------------------------------------------------------------------------------
# Intensity transforms: written-out formulas


def test_intensity_transforms_follow_their_formulas():
    image = smooth_image()
    labels = blob_labels()
    rng = np.random.default_rng(0)

    t = GaussianNoise((0.1, 0.3))
    prm = t.draw(rng, image.shape)
    expected = image + prm["std"] * np.random.default_rng(prm["seed"]).standard_normal(
        image.shape, np.float32
    )
    np.testing.assert_allclose(t.apply(image, labels, prm)[0], expected, rtol=1e-6)

    t = BrightnessContrast(brightness=0.2, contrast=0.5)
    prm = t.draw(rng, image.shape)
    mean = image.mean()
    expected = mean + prm["contrast"] * (image - mean) + prm["brightness"]
    np.testing.assert_allclose(t.apply(image, labels, prm)[0], expected, rtol=1e-5)

    t = RandomGamma(gamma=1.0)
    prm = t.draw(rng, image.shape)
    lo, hi = image.min(), image.max()
    expected = lo + (hi - lo) * ((image - lo) / (hi - lo)) ** prm["gamma"]
    np.testing.assert_allclose(t.apply(image, labels, prm)[0], expected, rtol=1e-5)

    t = GaussianBlur((0.5, 2.0))
    prm = t.draw(rng, image.shape)
    expected = ndi.gaussian_filter(image, prm["sigma_px"], mode="reflect")
    np.testing.assert_allclose(t.apply(image, labels, prm)[0], expected, rtol=1e-5)

    for t in (GaussianNoise(), PoissonNoise(), BrightnessContrast(), RandomGamma(), CutOut()):
        out_labels = t(image, labels, rng=1)[1]
        np.testing.assert_array_equal(out_labels, labels)  # labels untouched


def test_poisson_noise_has_shot_noise_variance():
    image = np.concatenate([np.full((100, 100), 0.2), np.full((100, 100), 0.8)])
    out, _ = PoissonNoise(photons=50)(image, rng=0)
    for part, x in ((out[:100], 0.2), (out[100:], 0.8)):
        assert abs(part.mean() - x) < 0.01
        assert abs(part.var() / (x / 50) - 1) < 0.05
    negative = np.full((10, 10), -0.5)
    np.testing.assert_array_equal(PoissonNoise(photons=10)(negative, rng=0)[0], negative)


def test_blur_acts_in_plane_only_for_stacks_and_channels():
    stack = np.zeros((3, 21, 21))
    stack[1, 10, 10] = 1
    out, _ = GaussianBlur((2, 2))(stack)
    assert out[0].max() == 0 and out[2].max() == 0  # nothing leaks between planes
    np.testing.assert_allclose(out[1], ndi.gaussian_filter(stack[1], 2))
    rgb = np.moveaxis(stack, 0, -1)
    out_rgb, _ = GaussianBlur((2, 2))(rgb, channel_axis=-1)
    np.testing.assert_allclose(np.moveaxis(out_rgb, -1, 0), out)


def test_cutout_fills_rectangles_and_clips_them_at_the_border():
    image = np.ones((30, 30), dtype=np.float32)
    t = CutOut(n_holes=(2, 2), size_px=(6, 6), fill=0.0)
    prm = t.draw(np.random.default_rng(5), image.shape)
    out, _ = t.apply(image, None, prm)
    expected = image.copy()
    for rows, cols in prm["boxes"]:
        expected[rows, cols] = 0
    np.testing.assert_array_equal(out, expected)
    assert 0 < (out == 0).sum() <= 72


def test_integer_images_are_clipped_not_wrapped():
    image = np.full((8, 8), 250, dtype=np.uint8)
    out, _ = BrightnessContrast(brightness=(20, 20), contrast=0)(image)
    assert out.dtype == np.uint8 and np.all(out == 255)


# ---------------------------------------------------------------------------------------------
# Torch path: same parameters, same result as numpy


@pytest.mark.parametrize("output_shape", [None, (20, 24)])
def test_torch_batch_matches_numpy_path(output_shape):
    images = np.stack([smooth_image(seed=s) for s in range(3)])[:, None]  # (B, 1, H, W)
    labels = np.stack([blob_labels(seed=s) for s in range(3)])
    t = RandomWarp(
        rotation_deg=180,
        translation_px=4,
        zoom=0.3,
        shear_deg=10,
        elastic_magnitude_px=3,
        elastic_smoothness_px=8,
        output_shape=output_shape,
    )
    rng = np.random.default_rng(0)
    params = [t.draw(rng, images.shape[2:]) for _ in range(3)]
    out, out_labels = t.batch_torch(images, labels, params=params, device="cpu")
    assert out.dtype == torch.float32 and out_labels.dtype == torch.int32
    mismatched = 0
    for i in range(3):
        ref, ref_labels = t.apply(images[i, 0], labels[i], params[i])
        np.testing.assert_allclose(out[i, 0].numpy(), ref, atol=1e-5)
        mismatched += (out_labels[i].numpy() != ref_labels).sum()
    assert mismatched <= 2  # only where a coordinate lies within rounding error of a half pixel


@pytest.mark.parametrize("mode", ["constant", "nearest"])
def test_torch_border_modes_match_numpy(mode):
    image = smooth_image()
    t = RandomWarp(rotation_deg=(30, 30), zoom=(0.7, 0.7), mode=mode)
    out, _ = t.batch_torch(image[None, None], rng=0)
    np.testing.assert_allclose(out[0, 0].numpy(), t(image)[0], atol=1e-5)


def test_torch_cubic_is_close_to_numpy_cubic():
    image = smooth_image()
    t = RandomWarp(rotation_deg=(37, 37), order=3)
    out, _ = t.batch_torch(image[None, None], device="cpu")
    diff = np.abs(out[0, 0].numpy() - t(image)[0])
    assert diff.max() < 0.05 * np.ptp(image)  # different cubic kernels, same geometry


def test_torch_batch_draws_per_sample_and_keeps_label_ids():
    images = torch.rand(4, 2, 32, 32)
    labels = torch.from_numpy(np.stack([blob_labels((32, 32), s) for s in range(4)]))[:, None]
    t = RandomWarp(rotation_deg=180, elastic_magnitude_px=3)
    out, out_labels = t.batch_torch(images, labels, rng=0)
    assert out.shape == images.shape and out_labels.shape == labels.shape
    assert not torch.equal(out[0], out[1])
    for i in range(4):
        assert set(out_labels[i].unique().tolist()) <= set(labels[i].unique().tolist()) | {0}
    again, _ = t.batch_torch(images, labels, rng=0)
    assert torch.equal(out, again)


def test_torch_batch_errors():
    t = RandomWarp(rotation_deg=10)
    with pytest.raises(ValueError, match=r"`images` must be a float \(B, C, H, W\) batch"):
        t.batch_torch(torch.rand(32, 32))
    with pytest.raises(TypeError, match="`labels` must be an integer label batch"):
        t.batch_torch(torch.rand(2, 1, 8, 8), torch.rand(2, 8, 8))
    with pytest.raises(ValueError, match=r"`labels` must have shape \(2, 8, 8\)"):
        t.batch_torch(torch.rand(2, 1, 8, 8), torch.zeros(2, 8, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="`images` must contain only finite values"):
        t.batch_torch(torch.full((1, 1, 4, 4), float("nan")))
    with pytest.raises(ValueError, match="`params` must hold 2 entries"):
        t.batch_torch(torch.rand(2, 1, 8, 8), params=[None])


# ---------------------------------------------------------------------------------------------
# Patches without border artifacts


def test_margin_is_enough_for_the_worst_case_warp():
    patch = (40, 40)
    t = RandomWarp(rotation_deg=180, zoom=0.25, shear_deg=10, translation_px=5, output_shape=patch)
    margin = t.margin_px(patch)
    region = (patch[0] + 2 * margin, patch[1] + 2 * margin)
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(300):
        coords = t.coordinates(t.draw(rng, region), region)
        assert coords.min() >= 0 and coords.max() <= region[0] - 1
        worst = max(worst, -coords.min(), coords.max() - (region[0] - 1))
    assert worst > -3  # and not wastefully large: some draws come within 3 pixels of the edge


def test_augmented_patch_has_no_artificial_borders():
    # Labels cover the whole image: any background in a patch was invented at a border.
    image = smooth_image((120, 120))
    labels = np.ones((120, 120), dtype=np.int32)
    t = RandomWarp(rotation_deg=180, zoom=0.2, elastic_magnitude_px=2)
    rng = np.random.default_rng(0)
    naive = [t(image[:32, :32], labels[:32, :32], rng=rng)[1] for _ in range(10)]
    assert any((lab == 0).any() for lab in naive)
    for _ in range(10):
        img, lab = augmented_patch(image, labels, 32, transform=Compose([t]), rng=rng)
        assert img.shape == lab.shape == (32, 32)
        assert np.all(lab == 1)


def test_augmented_patch_with_channels_and_foreground():
    image = np.stack([smooth_image((80, 80)), smooth_image((80, 80), 1)])
    labels = np.zeros((80, 80), dtype=np.int32)
    labels[70:75, 5:10] = 4
    img, lab = augmented_patch(
        image,
        labels,
        (16, 16),
        transform=RandomFlip(),
        rng=0,
        foreground_prob=1.0,
        channel_axis=0,
    )
    assert img.shape == (2, 16, 16) and lab.shape == (16, 16)
    assert (lab == 4).any()


# ---------------------------------------------------------------------------------------------
# Plotting helpers behind the notebook's explorer


@pytest.mark.parametrize("kind", TRANSFORM_KINDS)
def test_explore_draws_every_kind(kind):
    import matplotlib.pyplot as plt

    image, labels = smooth_image((32, 32)), blob_labels((32, 32))
    fig = explore(image, labels, kind, 0.7, seed=1)
    assert [ax.get_title() for ax in fig.axes] == ["original", f"{kind}, strength 0.70"]
    plt.close(fig)
    _, out_labels = make_transform(kind, 1.0)(image, labels, rng=0)
    assert set(np.unique(out_labels)) <= set(np.unique(labels))


def test_strength_zero_changes_nothing():
    image, labels = smooth_image((32, 32)), blob_labels((32, 32))
    for kind in TRANSFORM_KINDS:
        out, out_labels = make_transform(kind, 0.0)(image, labels, rng=0)
        np.testing.assert_allclose(out, image, atol=1e-6, err_msg=kind)
        np.testing.assert_array_equal(out_labels, labels, err_msg=kind)


def test_show_augmentations_has_one_panel_per_draw():
    import matplotlib.pyplot as plt

    fig = show_augmentations(smooth_image(), blob_labels(), FULL_PIPELINE, n=4, rng=0)
    assert len(fig.axes) == 5
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# Errors


def test_input_errors():
    t = RandomWarp(rotation_deg=10)
    image = np.zeros((16, 16))
    with pytest.raises(
        ValueError,
        match=r"`labels` must have the shape of `image` \(16, 16\), got shape \(16, 15\)",
    ):
        t(image, np.zeros((16, 15), dtype=int))
    with pytest.raises(
        ValueError, match=r"`labels` must have the spatial shape of `image` \(16, 16\)"
    ):
        t(np.zeros((16, 16, 3)), np.zeros((16, 3), dtype=int), channel_axis=-1)
    with pytest.raises(
        TypeError, match="`labels` must be an integer or boolean label image, got dtype float64"
    ):
        t(image, np.zeros((16, 16)))
    nan_image = image.copy()
    nan_image[3, 3] = np.nan
    with pytest.raises(ValueError, match="`image` must contain only finite values, got 1 NaN"):
        t(nan_image)
    with pytest.raises(ValueError, match=r"`image` must be a 2D or 3D array, got shape \(16,\)"):
        t(np.zeros(16))
    with pytest.raises(ValueError, match=r"`channel_axis` must be an axis of `image`"):
        t(np.zeros((16, 16, 3)), channel_axis=3)
    with pytest.raises(ValueError, match="`labels` must not contain negative labels"):
        t(image, -np.ones((16, 16), dtype=int))


def test_parameter_errors():
    with pytest.raises(
        ValueError, match=r"`rotation_deg` must be a \(low, high\) pair with low <= high"
    ):
        RandomWarp(rotation_deg=(10, -10))
    with pytest.raises(ValueError, match="`rotation_deg` must be >= 0"):
        RandomWarp(rotation_deg=-5)
    with pytest.raises(ValueError, match="`zoom` must be > 0"):
        RandomWarp(zoom=(0, 2))
    with pytest.raises(ValueError, match=r"`shear_deg` must lie in \(-90, 90\)"):
        RandomWarp(shear_deg=90)
    with pytest.raises(ValueError, match="`order` must be one of 0, 1, 3, got 2"):
        RandomWarp(order=2)
    with pytest.raises(ValueError, match="`mode` must be one of 'reflect', 'constant', 'nearest'"):
        RandomWarp(mode="wrap")
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\], got 1.5"):
        GaussianNoise(p=1.5)
    with pytest.raises(ValueError, match="`elastic_smoothness_px` must be > 0"):
        RandomWarp(elastic_smoothness_px=0)
    with pytest.raises(ValueError, match="`photons` must be > 0"):
        PoissonNoise(photons=0)
    with pytest.raises(TypeError, match="`transforms\\[1\\]` must be callable"):
        Compose([RandomFlip(), "rotate"])
    with pytest.raises(ValueError, match="`axes` must be spatial axes 0..1, got 2"):
        RandomFlip(axes=(2,))(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="`kind` must be one of"):
        make_transform("hue")
