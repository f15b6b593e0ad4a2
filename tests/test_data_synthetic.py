"""Synthetic nuclei: exact ground truth, physical sizes, noise statistics, domain shift, axes."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage as ndi
from scipy.spatial import cKDTree
from skimage.measure import label as connected_components
from skimage.measure import regionprops

from bioimage_course.data import (
    PRESETS,
    NucleiParams,
    make_nuclei,
    make_nuclei_channels,
    make_nuclei_timelapse,
    make_nuclei_zstack,
    make_scene,
    nuclei_params,
    photons_for_snr,
    random_nuclei_params,
    render_nuclei,
    snr_of,
)
from bioimage_course.data.synthetic import N_ANGLES
from bioimage_course.data.synthetic.raster import _largest_pieces
from bioimage_course.io import read_tiff, write_tiff

# A flat, noise-free-looking nucleus model: every nucleus pixel has the same expected signal.
FLAT = dict(
    texture=0.0,
    intensity_spread=0.0,
    dome=0.0,
    nucleoli=(0, 0),
    psf_sigma_um=0.0,
    haze=0.0,
    shading=0.0,
    irregularity=0.0,
)


def reference_inside(scene, shape, px):
    """Written-out point-in-outline test: depth = distance / outline radius at that angle."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    y_um, x_um = (rows + 0.5) * px, (cols + 0.5) * px
    angles = np.arange(N_ANGLES) * 2 * np.pi / N_ANGLES
    depths = []
    for (cy, cx), radii in zip(scene.centers_um, scene.radii_um, strict=True):
        dy, dx = y_um - cy, x_um - cx
        phi = np.mod(np.arctan2(dy, dx), 2 * np.pi)
        edge = np.interp(phi.ravel(), angles, radii, period=2 * np.pi).reshape(shape)
        depths.append(np.hypot(dy, dx) / edge)
    return np.array(depths)  # (N, rows, cols)


def count_pieces(labels):
    """Number of 4-connected pieces of each label (index = label)."""
    pieces = connected_components(labels, background=0, connectivity=1)
    owner = np.zeros(pieces.max() + 1, int)
    owner[pieces.ravel()] = labels.ravel()
    return np.bincount(owner[1:], minlength=labels.max() + 1)


def isolated_ids(labels):
    """Labels that touch neither the image border nor, within two pixels, another label."""
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    out = []
    for i in sorted(set(np.unique(labels)) - {0} - set(np.unique(border))):
        ring = ndi.binary_dilation(labels == i, iterations=2) & (labels != i) & (labels > 0)
        if not ring.any():
            out.append(int(i))
    return out


# ------------------------------------------------------------------------------------------
# Output contract
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [None, *PRESETS])
def test_contract_of_every_preset(preset):
    shape = (320, 400) if preset == "large_objects" else (128, 160)  # 0.108 um pixels
    image, labels = make_nuclei(shape, preset=preset, rng=3)
    assert image.shape == labels.shape == shape
    assert image.dtype == np.uint16 and labels.dtype == np.int32
    assert image.max() <= 4095
    n = labels.max()
    assert n > 0
    assert np.array_equal(np.unique(labels), np.arange(n + 1))  # ids 0..N, none skipped
    assert (count_pieces(labels)[1:] == 1).all()  # each nucleus is one 4-connected piece


def test_same_seed_same_image_and_different_seed_different_image():
    a = make_nuclei((96, 96), rng=7)
    b = make_nuclei((96, 96), rng=7)
    c = make_nuclei((96, 96), rng=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_a_generator_continues_its_stream():
    rng = np.random.default_rng(0)
    first, second = make_nuclei((64, 64), rng=rng), make_nuclei((64, 64), rng=rng)
    assert not np.array_equal(first[0], second[0])


def test_inputs_are_not_modified_and_params_are_frozen():
    p = nuclei_params("crowded")
    with pytest.raises(AttributeError):
        p.coverage = 0.1
    assert p.replace(coverage=0.1).coverage == 0.1 and p.coverage == 0.5


# ------------------------------------------------------------------------------------------
# Exact ground truth
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "eccentricity"), [(0, (0, 0.8)), (1, (0, 0.8)), (2, (0.9, 0.98))])
def test_labels_equal_a_written_out_point_in_outline_test(seed, eccentricity):
    px = 0.65
    scene = make_scene(
        (96, 96), rng=seed, touching=0.8, coverage=0.5, irregularity=0.15, eccentricity=eccentricity
    )
    _, labels = render_nuclei(scene, rng=0, relabel=False)
    depth = reference_inside(scene, labels.shape, px)
    clear = (np.abs(depth - 1) > 1e-9).all(0)  # skip pixel centres exactly on an outline
    inside = depth < 1
    n_inside = inside.sum(0)
    # background is background
    assert (labels[(n_inside == 0) & clear] == 0).all()
    # a labelled pixel lies inside its own nucleus
    fg = labels > 0
    own = np.take_along_axis(inside, (labels - 1).clip(0)[None], 0)[0]
    assert own[fg].all()
    # where nuclei overlap, the pixel goes to the one it lies deepest inside
    contested = (n_inside > 1) & clear & fg
    deepest = np.argmin(np.where(inside, depth, np.inf), axis=0) + 1
    assert (labels[contested] == deepest[contested]).all()
    # a pixel inside exactly one nucleus belongs to it, except for cut-off slivers (rare)
    single = (n_inside == 1) & clear
    owner = np.argmax(inside, axis=0) + 1
    agree = labels[single] == owner[single]
    assert (labels[single][~agree] == 0).all() and agree.mean() > 0.99


def test_elongated_pressed_nuclei_keep_one_piece_each():
    # thin nuclei pressed together can cut each other in two; only the larger piece is kept
    for seed in range(6):
        _, labels = make_nuclei(
            (128, 128),
            rng=seed,
            touching=1.0,
            coverage=0.6,
            irregularity=0.3,
            eccentricity=(0.9, 0.98),
        )
        assert (count_pieces(labels)[1:] == 1).all()


def test_largest_pieces_keeps_the_largest_piece_of_each_label():
    labels = np.array(
        [
            [1, 1, 0, 1, 2],
            [1, 1, 0, 0, 2],
            [0, 0, 3, 0, 0],
            [2, 0, 3, 0, 1],
        ],
        dtype=np.int32,
    )
    expected = np.array(
        [
            [1, 1, 0, 0, 2],
            [1, 1, 0, 0, 2],
            [0, 0, 3, 0, 0],
            [0, 0, 3, 0, 0],
        ],
        dtype=np.int32,
    )
    np.testing.assert_array_equal(_largest_pieces(labels), expected)
    np.testing.assert_array_equal(labels[0], [1, 1, 0, 1, 2])  # the input is not modified


@pytest.mark.parametrize("px", [0.3, 0.65, 1.0])
def test_sizes_of_isolated_nuclei_are_within_the_asked_range_in_um(px):
    dmin, dmax = 6.0, 10.0
    shape = (int(120 / px),) * 2  # a 120 um field
    image, labels = make_nuclei(
        shape, rng=1, pixel_size_um=px, diameter_um=(dmin, dmax), touching=0.0, coverage=0.15
    )
    ids = isolated_ids(labels)
    assert len(ids) >= 15
    areas = np.bincount(labels.ravel())[ids]
    diameters_um = np.sqrt(4 * areas / np.pi) * px
    tolerance = 0.75 * px  # pixelisation of the outline
    assert diameters_um.min() >= dmin - tolerance
    assert diameters_um.max() <= dmax + tolerance
    assert diameters_um.max() - diameters_um.min() > 0.5 * (dmax - dmin)  # the range is used


def test_isolated_nucleus_area_matches_its_drawn_diameter():
    px = 0.25
    scene = make_scene((320, 320), rng=4, pixel_size_um=px, touching=0.0, coverage=0.15)
    _, labels = render_nuclei(scene, rng=0, relabel=False)
    ids = isolated_ids(labels)
    assert len(ids) >= 5
    areas_um2 = np.bincount(labels.ravel())[ids] * px**2
    drawn = scene.diameter_um[np.array(ids) - 1]
    measured = np.sqrt(4 * areas_um2 / np.pi)
    np.testing.assert_allclose(measured, drawn, rtol=0.03)


def test_exact_count_when_asked_and_none_touching():
    image, labels = make_nuclei((256, 256), rng=2, n_nuclei=40, touching=0.0)
    assert labels.max() == 40
    grown = ndi.grey_dilation(labels, size=3)
    touching = (grown != labels) & (labels > 0)  # a nucleus pixel next to another nucleus
    assert not touching.any()


def test_touching_fraction_creates_shared_borders():
    _, apart = make_nuclei((256, 256), rng=5, touching=0.0, coverage=0.25)
    _, together = make_nuclei((256, 256), rng=5, touching=0.8, coverage=0.25)

    def n_contacts(labels):
        right = (labels[:, 1:] != labels[:, :-1]) & (labels[:, 1:] > 0) & (labels[:, :-1] > 0)
        down = (labels[1:] != labels[:-1]) & (labels[1:] > 0) & (labels[:-1] > 0)
        return right.sum() + down.sum()

    assert n_contacts(apart) == 0
    assert n_contacts(together) > 100


def test_coverage_sets_the_foreground_fraction():
    fractions = [
        (make_nuclei((384, 384), rng=s, coverage=0.2, clustering=0.0)[1] > 0).mean()
        for s in range(3)
    ]
    assert 0.14 < np.mean(fractions) < 0.24


def test_too_many_nuclei_asked_explicitly_raise():
    with pytest.raises(ValueError, match="only .* of 80 nuclei fit"):
        make_scene((48, 48), n_nuclei=80, rng=0)


def test_large_objects_are_several_times_a_small_receptive_field():
    _, labels = make_nuclei((512, 512), preset="large_objects", rng=0)
    diameters_px = [r.equivalent_diameter_area for r in regionprops(labels)]
    assert np.median(diameters_px) > 60  # a depth-2 U-Net sees ~40 pixels


def test_dividing_nuclei_are_bright_pairs():
    scene = make_scene((256, 256), preset="dividing", rng=0)
    daughters = scene.kind == 2
    assert daughters.sum() >= 5
    assert scene.brightness[daughters].mean() > 1.8 * scene.brightness[scene.kind == 0].mean()


# ------------------------------------------------------------------------------------------
# Photons and camera
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [2.0, 5.0, 12.0])
def test_measured_snr_matches_the_asked_snr(snr):
    image, labels = make_nuclei(
        (256, 256), rng=0, snr=snr, background_photons=20.0, read_noise=2.0, **FLAT
    )
    image = image.astype(float)
    inner = ndi.binary_erosion(labels > 0, iterations=1)
    outer = ~ndi.binary_dilation(labels > 0, iterations=2)
    signal = image[inner].mean() - image[outer].mean()
    measured = signal / image[inner].std()
    assert measured == pytest.approx(snr, rel=0.05)


def test_camera_noise_statistics_follow_poisson_plus_read_noise():
    gain, read_noise, background, offset = 2.0, 3.0, 50.0, 100.0
    image, labels = make_nuclei(
        (256, 256),
        rng=1,
        gain=gain,
        read_noise=read_noise,
        background_photons=background,
        offset=offset,
        n_nuclei=0,
        **FLAT,
    )
    values = image.astype(float)
    assert values.mean() == pytest.approx(offset + gain * background, rel=0.01)
    expected_var = gain**2 * (background + read_noise**2) + 1 / 12  # + rounding
    assert values.var() == pytest.approx(expected_var, rel=0.05)


def test_pure_shot_noise_has_variance_equal_to_mean():
    image, _ = make_nuclei(
        (256, 256), rng=2, read_noise=0.0, offset=0.0, background_photons=7.0, n_nuclei=0, **FLAT
    )
    values = image.astype(float)
    assert values.var() / values.mean() == pytest.approx(1.0, abs=0.03)  # Fano factor


def test_bit_depth_saturates_and_sets_dtype():
    image, _ = make_nuclei((64, 64), rng=0, photons=1e5, bit_depth=12)
    assert image.max() == 4095
    image8, _ = make_nuclei((64, 64), rng=0, photons=1e5, bit_depth=8)
    assert image8.dtype == np.uint8 and image8.max() == 255


@given(
    snr=st.floats(0.1, 100.0),
    background=st.floats(0.0, 1000.0),
    read_noise=st.floats(0.0, 10.0),
)
def test_photons_for_snr_solves_the_snr_equation(snr, background, read_noise):
    s = photons_for_snr(snr, background_photons=background, read_noise=read_noise)
    assert s / math.sqrt(s + background + read_noise**2) == pytest.approx(snr, rel=1e-9)
    assert snr_of(
        nuclei_params(snr=snr, background_photons=background, read_noise=read_noise)
    ) == pytest.approx(snr, rel=1e-9)


# ------------------------------------------------------------------------------------------
# Domain shift: the same scene imaged differently
# ------------------------------------------------------------------------------------------


def test_same_scene_at_twice_the_pixel_size_keeps_the_nuclei_in_place():
    scene = make_scene((200, 200), rng=3, touching=0.0, coverage=0.15)
    _, fine = render_nuclei(scene, rng=0, relabel=False)
    _, coarse = render_nuclei(scene, pixel_size_um=1.3, rng=0, relabel=False)
    assert coarse.shape == (100, 100)
    common = sorted(set(np.unique(coarse)) & set(np.unique(fine)) - {0})
    assert len(common) > 0.9 * (len(np.unique(fine)) - 1)
    fine_c = ndi.center_of_mass(fine > 0, fine, common)
    coarse_c = ndi.center_of_mass(coarse > 0, coarse, common)
    shift_um = np.abs(np.array(fine_c) * 0.65 + 0.325 - (np.array(coarse_c) * 1.3 + 0.65))
    assert np.median(shift_um) < 0.5 and shift_um.max() < 2.0


def test_blur_changes_the_image_not_the_labels():
    scene = make_scene((128, 128), rng=0)
    sharp, lab_a = render_nuclei(scene, rng=1, psf_sigma_um=0.3)
    blurred, lab_b = render_nuclei(scene, rng=1, psf_sigma_um=2.0)
    assert np.array_equal(lab_a, lab_b)
    edges = lambda im: np.abs(np.diff(im.astype(float), axis=1)).mean()  # noqa: E731
    assert edges(blurred) < 0.6 * edges(sharp)


def test_intensity_scale_is_linear_in_photons():
    scene = make_scene((192, 192), rng=0, **FLAT)
    bright, labels = render_nuclei(scene, rng=1, photons=400.0, background_photons=10.0)
    dim, _ = render_nuclei(scene, rng=1, photons=100.0, background_photons=10.0)
    offset = scene.params.offset + 10.0
    ratio = (bright[labels > 0].mean() - offset) / (dim[labels > 0].mean() - offset)
    assert ratio == pytest.approx(4.0, rel=0.03)


def test_photons_at_render_time_replace_the_scene_snr():
    scene = make_scene((128, 128), rng=0, snr=3.0, **FLAT)
    dim, labels = render_nuclei(scene, rng=1)
    bright, _ = render_nuclei(scene, rng=1, photons=2000.0)
    level = scene.params.offset + scene.params.background_photons
    ratio = (bright[labels > 0].mean() - level) / (dim[labels > 0].mean() - level)
    assert ratio == pytest.approx(2000.0 / scene.params.signal_photons, rel=0.1)


def test_coarse_pixels_integrate_the_light():
    scene = make_scene((256, 256), rng=2, read_noise=0.0)
    means = [render_nuclei(scene, shape=(s, s), rng=0)[0].mean() for s in (256, 32, 16)]
    # photons are per pixel at every size, so the average count does not depend on pixel size
    np.testing.assert_allclose(means[1:], means[0], rtol=0.04)


def test_resolution_series_from_8_to_512_pixels():
    scene = make_scene((512, 512), rng=0)
    counts = []
    for s in (8, 16, 64, 512):
        image, labels = render_nuclei(scene, shape=(s, s), rng=0)
        assert image.shape == labels.shape == (s, s)
        counts.append(labels.max())
    assert counts == sorted(counts) and counts[-1] == len(scene)


def test_render_rejects_sample_parameters_and_bad_shapes():
    scene = make_scene((64, 64), rng=0)
    with pytest.raises(ValueError, match="describes the sample"):
        render_nuclei(scene, coverage=0.1)
    with pytest.raises(TypeError, match="unknown nuclei parameter 'photon'"):
        render_nuclei(scene, photon=3)
    with pytest.raises(ValueError, match="either `shape` or `pixel_size_um`"):
        render_nuclei(scene, shape=(32, 32), pixel_size_um=1.0)
    with pytest.raises(ValueError, match="aspect ratio"):
        render_nuclei(scene, shape=(32, 16))
    with pytest.raises(TypeError, match="`scene` must be a NucleiScene"):
        render_nuclei(np.zeros((4, 4)))


# ------------------------------------------------------------------------------------------
# Envelope stain: a rim along each outline, the inside like background
# ------------------------------------------------------------------------------------------


def reference_rim(labels, reach_px):
    """Written-out rim: nucleus pixels whose nearest pixel centre of another label (background
    or another nucleus; pixels inside the image only) is at most ``reach_px`` away."""
    coords = np.indices(labels.shape).reshape(2, -1).T
    flat = labels.ravel()
    rim = np.zeros(flat.size, bool)
    for i in np.unique(flat[flat > 0]):
        mine = flat == i
        dist, _ = cKDTree(coords[~mine]).query(coords[mine])
        rim[np.flatnonzero(mine)[dist <= reach_px]] = True
    return rim.reshape(labels.shape)


# no blur, no background, no read noise: a pixel is > 0 exactly where the stain is
DARK = dict(FLAT, background_photons=0.0, read_noise=0.0, offset=0.0, photons=2000.0)


def outline_pixels(labels):
    """Nucleus pixels with a 4-neighbour of another label (background or another nucleus)."""
    out = np.zeros(labels.shape, bool)
    for axis in (0, 1):
        a, b = np.swapaxes(labels, 0, axis)[:-1], np.swapaxes(labels, 0, axis)[1:]
        differ = a != b
        np.swapaxes(out, 0, axis)[:-1] |= differ & (a > 0)
        np.swapaxes(out, 0, axis)[1:] |= differ & (b > 0)
    return out


def shared_border(labels):
    """Nucleus pixels with a 4-neighbour of another nucleus."""
    out = np.zeros(labels.shape, bool)
    for axis in (0, 1):
        a, b = np.swapaxes(labels, 0, axis)[:-1], np.swapaxes(labels, 0, axis)[1:]
        both = (a != b) & (a > 0) & (b > 0)
        np.swapaxes(out, 0, axis)[:-1] |= both
        np.swapaxes(out, 0, axis)[1:] |= both
    return out


@pytest.mark.parametrize(("rim_um", "touching"), [(0.4, 0.0), (0.5, 0.6), (1.0, 0.6)])
def test_envelope_rim_is_exactly_the_pixels_near_the_outline(rim_um, touching):
    px = 0.2  # nuclei of 6-10 um, rims of 2 pixels or more: drawn on the camera grid itself
    image, labels = make_nuclei(
        (96, 96),
        rng=4,
        pixel_size_um=px,
        diameter_um=(6, 10),
        coverage=0.4,
        touching=touching,
        stain="envelope",
        rim_um=rim_um,
        **DARK,
    )
    rim = reference_rim(labels, rim_um / px + 0.5)
    assert rim.any() and (labels[~rim] > 0).any()  # a rim, and nucleus pixels inside it
    np.testing.assert_array_equal(image > 0, rim)
    outline = outline_pixels(labels)
    assert outline.any() and rim[outline].all()  # the outline itself is always stained
    assert image[rim].mean() == pytest.approx(2000.0, rel=0.01)  # flat nuclei: brightness 1
    if touching:  # where nuclei press together, each has its own rim: a double line
        shared = shared_border(labels)
        assert shared.sum() > 10 and rim[shared].all()


def test_envelope_rim_area_grows_with_rim_um_at_any_pixel_size():
    scene = make_scene((256, 256), rng=2, pixel_size_um=0.2, **DARK)

    def stained_fraction(rim_um, size):  # stained area / field area
        image, _ = render_nuclei(scene, shape=(size, size), stain="envelope", rim_um=rim_um, rng=0)
        return image.mean() / 2000.0

    thin = [stained_fraction(0.1, s) for s in (256, 64, 32)]  # drawn on a finer grid
    # camera pixels 2 to 8 times wider than the rim integrate it: same light at every size
    np.testing.assert_allclose(thin, thin[0], rtol=0.03)
    # thin rims: area = outline length x width
    assert stained_fraction(0.2, 256) / thin[0] == pytest.approx(2.0, rel=0.03)
    assert stained_fraction(0.4, 256) / thin[0] == pytest.approx(4.0, rel=0.05)


def test_envelope_inside_has_the_statistics_of_the_outside():
    px = 0.2
    kw = dict(pixel_size_um=px, diameter_um=(16, 20), coverage=0.3, touching=0.0, rng=0)
    kw.update(haze=0.0, shading=0.0, psf_sigma_um=0.25)
    image, labels = make_nuclei((256, 256), stain="envelope", **kw)
    nuclear, same_labels = make_nuclei((256, 256), **kw)
    assert np.array_equal(labels, same_labels)  # the stain changes the image, not the sample
    # more than 2 um (10 sigma of the blur) from any outline, inside or outside the nuclei
    far = ndi.distance_transform_edt(ndi.binary_erosion(labels > 0) == (labels > 0)) * px > 2.0
    far &= ndi.distance_transform_edt(labels == 0) * px > 2.0
    far |= ndi.distance_transform_edt(labels > 0) * px > 2.0
    values = image.astype(float)
    inside, outside = values[far & (labels > 0)], values[far & (labels == 0)]
    assert inside.size > 2000 and outside.size > 2000
    p = nuclei_params()
    level = p.offset + p.background_photons
    variance = p.background_photons + p.read_noise**2 + 1 / 12
    for part in (inside, outside):
        assert part.mean() == pytest.approx(level, abs=0.4)
        assert part.var() == pytest.approx(variance, rel=0.08)
    # the nuclear stain of the same scene is bright inside
    assert nuclear[far & (labels > 0)].mean() > level + 100


def test_envelope_is_deterministic_and_follows_the_camera_model():
    a = make_nuclei((96, 96), stain="envelope", rng=7)
    b = make_nuclei((96, 96), stain="envelope", rng=7)
    c = make_nuclei((96, 96), stain="envelope", rng=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.array_equal(a[1], make_nuclei((96, 96), rng=7)[1])
    image8, _ = make_nuclei((64, 64), stain="envelope", rng=0, bit_depth=8, photons=1e5)
    assert image8.dtype == np.uint8 and image8.max() == 255


def test_stain_can_change_at_render_time():
    scene = make_scene((64, 64), rng=0)
    nuclear, labels = render_nuclei(scene, rng=1)
    envelope, same = render_nuclei(scene, stain="envelope", rng=1)
    assert np.array_equal(labels, same) and not np.array_equal(nuclear, envelope)
    with pytest.raises(ValueError, match="`stain` must be one of"):
        render_nuclei(scene, stain="membrane")


# ------------------------------------------------------------------------------------------
# Parameters
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(coverage=1.5), ValueError, r"`coverage` must be in \[0, 0.9\], got 1.5"),
        (dict(diameter_um=(10, 5)), ValueError, "low <= high"),
        (dict(diameter_um="big"), TypeError, "`diameter_um` must be a number or a"),
        (dict(pixel_size_um=0), ValueError, "`pixel_size_um` must be > 0"),
        (dict(eccentricity=(0, 1.0)), ValueError, "`eccentricity` must be in"),
        (dict(nucleoli=(0, 9)), ValueError, "`nucleoli` must be a"),
        (dict(bit_depth=17), ValueError, r"`bit_depth` must be an int in \[1, 16\], got 17"),
        (dict(bit_depth=10.5), TypeError, "`bit_depth` must be an int, got 10.5"),
        (dict(n_nuclei=-1), ValueError, "`n_nuclei` must be an int >= 0, got -1"),
        (dict(snr=0), ValueError, "`snr` must be > 0"),
        (dict(shading=0.95), ValueError, "`shading` must be in"),
        (dict(diametre_um=3), TypeError, "did you mean 'diameter_um'"),
        (dict(stain="lamin"), ValueError, "`stain` must be one of 'nuclear', 'envelope', got"),
        (dict(rim_um=0), ValueError, "`rim_um` must be > 0"),
    ],
)
def test_bad_parameters_give_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_nuclei((32, 32), rng=0, **kwargs)


def test_bad_shape_and_preset():
    with pytest.raises(ValueError, match="`shape` must be 2 positive ints"):
        make_nuclei((0, 32))
    with pytest.raises(ValueError, match="`shape` must be 2 positive ints"):
        make_nuclei((32, 32, 3))
    with pytest.raises(ValueError, match="`preset` must be one of 'easy'"):
        make_nuclei((32, 32), preset="hard")


def test_defaults_are_documented_and_presets_valid():
    doc = NucleiParams.__doc__
    for name in NucleiParams.__dataclass_fields__:
        assert f"    {name} :" in doc, name


def test_presets_make_what_they_promise():
    """Each preset changes the sample or the acquisition the way its description says."""

    def scenes(preset):
        return [make_scene((256, 256), preset=preset, rng=seed) for seed in range(3)]

    def per_mm2(preset):
        px = nuclei_params(preset).pixel_size_um
        return np.mean([len(s) / (256 * px) ** 2 * 1e6 for s in scenes(preset)])

    def fraction(preset, kind):
        return np.mean([np.mean(s.kind == kind) for s in scenes(preset)])

    default = nuclei_params()
    assert snr_of(nuclei_params("low_snr")) < snr_of(default) / 3  # a few photons only
    assert snr_of(nuclei_params("easy")) > snr_of(default)
    assert fraction("easy", 1) == 0  # well separated: nobody touches
    assert per_mm2("easy") < per_mm2(None) < per_mm2("crowded")  # a dense colony
    assert fraction("crowded", 1) > 2 * fraction(None, 1)  # most nuclei touch
    assert fraction(None, 2) == 0 < fraction("dividing", 2)  # second daughters of divisions
    large = nuclei_params("large_objects")
    diameters_px = np.concatenate([s.diameter_um for s in scenes("large_objects")])
    assert np.median(diameters_px) / large.pixel_size_um >= 70  # 70-120 pixels across


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_random_params_give_valid_images_with_nuclei_of_realistic_pixel_size(seed):
    p = random_nuclei_params(seed)
    d_px = np.array(p.diameter_um) / p.pixel_size_um
    assert d_px[0] >= 4 and d_px[1] <= 90
    fields = {f: getattr(p, f) for f in NucleiParams.__dataclass_fields__}
    image, labels = make_nuclei((96, 96), rng=seed, **fields)
    assert image.shape == (96, 96)
    assert (count_pieces(labels)[1:] == 1).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rows=st.integers(8, 80),
    cols=st.integers(8, 80),
    px=st.floats(0.2, 2.0),
    touching=st.floats(0.0, 1.0),
    coverage=st.floats(0.0, 0.6),
    irregularity=st.floats(0.0, 0.3),
    elongation=st.floats(0.0, 0.98),
)
def test_ground_truth_invariants_hold_for_any_parameters(
    seed, rows, cols, px, touching, coverage, irregularity, elongation
):
    image, labels = make_nuclei(
        (rows, cols),
        rng=seed,
        pixel_size_um=px,
        touching=touching,
        coverage=coverage,
        irregularity=irregularity,
        eccentricity=(0.0, elongation),
    )
    n = labels.max()
    ids = np.unique(labels)
    # ids are 1..n, plus 0 unless one nucleus fills the whole (tiny) field of view
    assert np.array_equal(ids[ids > 0], np.arange(1, n + 1))
    assert ids[0] == 0 or (n == 1 and labels.size < 100_000)
    assert (count_pieces(labels)[1:] == 1).all()
    assert image.dtype == np.uint16 and image.max() <= 4095


# ------------------------------------------------------------------------------------------
# Multi-dimensional images
# ------------------------------------------------------------------------------------------


def test_channels_share_ids_and_write_to_tiff(tmp_path):
    img = make_nuclei_channels((96, 128), rng=0)
    assert img.data.shape == (2, 96, 128) and img.axes == "CYX"
    assert ((img.labels > 0) <= (img.cell_labels > 0)).all()
    for i in range(1, img.labels.max() + 1):  # each nucleus lies in the cell with its id
        assert (img.cell_labels[img.labels == i] == i).all()
    # the membrane channel is brightest on cell outlines
    from skimage.segmentation import find_boundaries

    outline = find_boundaries(img.cell_labels, mode="inner")
    assert img.data[1][outline].mean() > img.data[1][~outline & (img.cell_labels > 0)].mean()
    path = write_tiff(tmp_path / "cells.ome.tif", img.data, **img.metadata)
    data, meta = read_tiff(path)
    assert np.array_equal(data, img.data)
    assert (meta.axes, meta.pixel_size_um, meta.channel_names) == ("CYX", 0.65, img.channel_names)


def test_zstack_labels_are_connected_in_3d_and_nuclei_fade_out_of_focus(tmp_path):
    stack = make_nuclei_zstack((12, 96, 96), rng=0, z_step_um=1.0)
    assert stack.data.shape == stack.labels.shape == (12, 96, 96)
    assert stack.axes == "ZYX" and stack.z_step_um == 1.0
    pieces = connected_components(stack.labels, background=0, connectivity=1)
    assert pieces.max() == stack.labels.max()  # one 3D piece per nucleus
    per_slice = [len(np.unique(s)) - 1 for s in stack.labels]
    assert per_slice[0] < max(per_slice) and per_slice[-1] < max(per_slice)
    path = write_tiff(tmp_path / "stack.ome.tif", stack.data, **stack.metadata)
    _, meta = read_tiff(path)
    assert (meta.axes, meta.z_step_um) == ("ZYX", 1.0)


def test_timelapse_keeps_track_ids_and_bleaches(tmp_path):
    movie = make_nuclei_timelapse((5, 96, 96), rng=0, motion_um=0.5, bleaching=0.1, **FLAT)
    assert movie.data.shape == movie.labels.shape == (5, 96, 96) and movie.axes == "TYX"
    first, last = movie.labels[0], movie.labels[-1]
    common = sorted(set(np.unique(first)) & set(np.unique(last)) - {0})
    assert len(common) >= 3
    moved = np.array(ndi.center_of_mass(last > 0, last, common)) - np.array(
        ndi.center_of_mass(first > 0, first, common)
    )
    steps_um = np.hypot(*moved.T) * movie.pixel_size_um
    assert np.median(steps_um) < 4 * 0.5 * 2  # a random walk of 4 steps of ~0.7 um
    fg0 = movie.data[0][first > 0].mean() - 100
    fg4 = movie.data[-1][last > 0].mean() - 100
    assert fg4 / fg0 == pytest.approx(0.9**4, rel=0.15)
    path = write_tiff(tmp_path / "movie.ome.tif", movie.data, **movie.metadata)
    _, meta = read_tiff(path)
    assert (meta.axes, meta.time_interval_s) == ("TYX", 60.0)


@pytest.mark.parametrize(
    ("func", "kwargs", "match"),
    [
        (make_nuclei_zstack, dict(shape=(4, 32)), "`shape` must be 3 positive ints"),
        (make_nuclei_zstack, dict(z_step_um=0), "`z_step_um` must be > 0"),
        (make_nuclei_zstack, dict(thickness=2), r"`thickness` must be in \(0, 1\]"),
        (make_nuclei_timelapse, dict(bleaching=1.0), r"`bleaching` must be in \[0, 1\)"),
        (make_nuclei_timelapse, dict(drift_um=(1, 2, 3)), "`drift_um` must be a"),
        (make_nuclei_channels, dict(cell_radius_um=-1), "`cell_radius_um` must be >= 0"),
    ],
)
def test_multidim_errors(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_zstack_refuses_a_stain_it_cannot_draw():
    from bioimage_course.data import make_nuclei_zstack

    with pytest.raises(ValueError, match="`stain` must be 'nuclear' for a z-stack"):
        make_nuclei_zstack((4, 32, 32), rng=0, stain="envelope")
