"""Tests of bioimage_course.receptive_field: analytic windows against measured gradients."""

import math

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage, signal
from torch import nn

from bioimage_course.models import UNet
from bioimage_course.patches import stitch, tile_slices
from bioimage_course.receptive_field import (
    context_margin,
    dependency_mask,
    effective_receptive_field,
    erf_radius,
    gaussian_sigma,
    mask_box,
    min_patch_size,
    plot_effective_receptive_field,
    plot_receptive_fields,
    plot_windows_by_position,
    positive_probe,
    radial_profile,
    receptive_box,
    receptive_field,
    receptive_field_by_position,
    receptive_field_report,
    recommended_overlap,
)

matplotlib.use("Agg")


def closed_form_size(layers):
    """Araujo et al. (2019), eq. 2: r = 1 + sum_l (k_l - 1) * prod_{i<l} s_i (k: effective)."""
    size, jump = 1, 1
    for k, s in layers:
        size += (k - 1) * jump
        jump *= s
    return size


# -- random sequential stacks -------------------------------------------------------------------
conv_layer = st.tuples(
    st.just("conv"),
    st.sampled_from([1, 2, 3, 5]),  # kernel
    st.sampled_from([1, 1, 2]),  # stride
    st.sampled_from([1, 1, 2, 3]),  # dilation
    st.integers(0, 2),  # padding
)
pool_layer = st.tuples(
    st.sampled_from(["max", "avg"]), st.sampled_from([2, 3]), st.sampled_from([1, 2])
)


def build_stack(spec):
    layers, geometry, channels = [], [], 1
    for item in spec:
        if item[0] == "conv":
            _, k, s, d, p = item
            out = 2
            layers += [nn.Conv2d(channels, out, k, stride=s, padding=p, dilation=d), nn.ReLU()]
            channels = out
            geometry.append((d * (k - 1) + 1, s))
        else:
            kind, k, s = item
            pool = nn.MaxPool2d(k, stride=s) if kind == "max" else nn.AvgPool2d(k, stride=s)
            layers.append(pool)
            geometry.append((k, s))
    return nn.Sequential(*layers), geometry


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(conv_layer, pool_layer), min_size=1, max_size=4))
def test_sequential_stack_textbook_equals_measured_extent(spec):
    model, geometry = build_stack(spec)
    rf = receptive_field(model)
    size, jump = rf.size[0], rf.jump[0]
    assert size == closed_form_size(geometry)
    assert jump == math.prod(s for _, s in geometry)

    # an image large enough that a central output pixel's window lies inside it
    side = 2 * size + 4 * jump + 8
    with torch.no_grad():
        out_shape = model(torch.zeros(1, 1, side, side)).shape[-2:]
    o = (out_shape[0] // 2, out_shape[1] // 3)
    box = receptive_box(model, o)
    assert all(0 <= a and b <= side for a, b in box)

    measured = mask_box(dependency_mask(model, o, input_shape=(side, side)))
    assert measured == box
    assert measured[0][1] - measured[0][0] == size  # the extent of the non-zero gradient
    assert measured[1][1] - measured[1][0] == size
    # the textbook centre is exact for stacks without upsampling
    for axis in (0, 1):
        center = rf.center[axis] + o[axis] * jump
        assert box[axis] == (center - (size - 1) / 2, center + (size - 1) / 2 + 1)


def test_dilated_window_has_holes_but_the_extent_is_the_size():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=3, padding=3))
    mask = dependency_mask(model, (10, 10), input_shape=(21, 21))
    assert mask_box(mask) == receptive_box(model, (10, 10)) == ((7, 14), (7, 14))
    assert mask.sum() == 9  # only the 3x3 taps, spread over a 7x7 box


def test_vgg16_receptive_field():
    """VGG-16's pool5: the published value 212 (Araujo et al. 2019), conv5_3: 196."""
    layers = []
    for n_convs in (2, 2, 3, 3, 3):
        for _ in range(n_convs):
            layers += [nn.Conv2d(1, 1, 3, padding=1), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
    vgg = nn.Sequential(*layers)
    assert receptive_field(vgg).size == (212, 212)
    assert receptive_field(vgg).jump == (32, 32)
    assert receptive_field(vgg[:-1]).size == (196, 196)


def test_a_layer_object_used_twice_counts_twice():
    conv = nn.Conv2d(1, 1, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), conv)  # the forward pass applies conv twice
    assert receptive_field(model).size == (5, 5)
    assert mask_box(dependency_mask(model, (6, 6), input_shape=(12, 12))) == ((4, 9), (4, 9))


def test_non_square_kernels_per_axis():
    model = nn.Sequential(nn.Conv2d(1, 1, (3, 7), padding=(1, 3)), nn.MaxPool2d((2, 1)))
    rf = receptive_field(model)
    assert rf.size == (4, 7)
    assert rf.jump == (2, 1)
    box = receptive_box(model, (5, 5))
    mask = dependency_mask(model, (5, 5), input_shape=(20, 20))
    assert mask_box(mask) == box


# -- upsampling: exact windows depend on the position ------------------------------------------
UPSAMPLERS = [  # (name, factor, layer)
    ("transposed k2 s2", 2, lambda: nn.ConvTranspose2d(2, 2, 2, stride=2)),
    ("transposed k3 s2", 2, lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)),
    ("transposed k4 s2", 2, lambda: nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1)),
    ("transposed k1 s2", 2, lambda: nn.ConvTranspose2d(2, 2, 1, stride=2)),
    ("transposed k3 s3 d2", 3, lambda: nn.ConvTranspose2d(2, 2, 3, stride=3, dilation=2)),
    ("nearest", 2, lambda: nn.Upsample(scale_factor=2, mode="nearest")),
    ("nearest-exact x3", 3, lambda: nn.Upsample(scale_factor=3, mode="nearest-exact")),
    ("bilinear", 2, lambda: nn.Upsample(scale_factor=2, mode="bilinear")),
    ("bilinear x3", 3, lambda: nn.Upsample(scale_factor=3, mode="bilinear")),
]


@pytest.mark.parametrize("name, factor, make_up", UPSAMPLERS, ids=[u[0] for u in UPSAMPLERS])
def test_sequential_with_upsampling_exact_at_every_phase(name, factor, make_up):
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.MaxPool2d(factor),
        nn.Conv2d(2, 2, 3, padding=1, dilation=2),
        nn.MaxPool2d(factor),
        make_up(),
        nn.Conv2d(2, 1, 3, padding=1),
    )
    side = 27 * factor
    with torch.no_grad():
        out_side = model(torch.zeros(1, 1, side, side)).shape[-1]
    by_position = receptive_field_by_position(model)
    rf = receptive_field(model)
    base = out_side // 2 - by_position.period
    positions = [(base + q, base + q) for q in range(by_position.period)]
    masks = dependency_mask(model, positions, input_shape=(side, side))
    jump = rf.jump[0]
    for (r, c), mask in zip(positions, masks, strict=True):
        (r0, r1), (c0, c1) = mask_box(mask)
        q = r % by_position.period
        assert (r0, r1 - 1) == (r * jump - by_position.before[q], r * jump + by_position.after[q])
        assert (c0, c1) == receptive_box(model, (r, c))[1]


@pytest.mark.parametrize("upsampling", ["transposed", "interpolation"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_unet_exact_windows_equal_measured_at_every_phase(depth, upsampling):
    model = UNet(depth=depth, base_channels=1, upsampling=upsampling)
    period = 2**depth
    side = min_patch_size(model) + 4 * period
    base = side // 2 // period * period
    # every row phase and every column phase, in mixed combinations
    positions = [(base + q, base + (3 * q + 1) % period) for q in range(period)]
    masks = dependency_mask(model, positions, input_shape=(side, side))
    by_position = receptive_field_by_position(model)
    assert by_position.period == period
    for (r, c), mask in zip(positions, masks, strict=True):
        box = receptive_box(model, (r, c))
        assert mask_box(mask) == box
        (r0, r1), (c0, c1) = box
        assert mask.sum() == (r1 - r0) * (c1 - c0)  # a full rectangle, no holes
        q = r % period
        assert r1 - r0 == by_position.size[q]
        assert (r0, r1 - 1) == (r - by_position.before[q], r + by_position.after[q])


@pytest.mark.parametrize("depth", [0, 1, 2, 3, 4, 5])
def test_unet_textbook_formula_and_exact_min_max(depth):
    model = UNet(depth=depth, base_channels=1)
    textbook = receptive_field(model).size[0]
    assert textbook == 13 * 2**depth - 8
    exact = receptive_field_by_position(model)
    # the textbook number is the average window over positions ...
    assert exact.size.mean() == textbook
    # ... exact at every position up to depth 2, neither the minimum nor the maximum from 3 on
    if depth <= 2:
        assert exact.min == exact.max == textbook
    else:
        assert exact.min < textbook < exact.max
        assert exact.max - exact.min == 2**depth
    if depth == 3:
        assert (exact.min, exact.max) == (92, 100)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_unet_interpolation_textbook_is_the_average(depth):
    model = UNet(depth=depth, base_channels=1, upsampling="interpolation")
    exact = receptive_field_by_position(model)
    assert exact.size.mean() == receptive_field(model).size[0]


def test_concatenated_branches_take_the_union():
    from bioimage_course.receptive_field.exact import input_indices
    from bioimage_course.receptive_field.graph import Chain, Concat, Op

    left = Op("conv", kernel=2, padding=3)  # output o reads o-3, o-2
    right = Op("conv", kernel=3, padding=-4)  # reads o+4 .. o+6
    graph = Chain((Op("conv", kernel=3, padding=1), Concat((left, Chain((right,))))))
    assert input_indices(graph, np.array([10])).tolist() == [6, 7, 8, 9, 13, 14, 15, 16, 17]


def test_unet_depth_zero_is_two_convs_and_the_head():
    model = UNet(depth=0, base_channels=1)
    assert receptive_field(model).size == (5, 5)
    assert receptive_box(model, (20, 20)) == ((18, 23), (18, 23))


def test_group_norm_model_local_window_is_measured_without_statistics():
    model = UNet(depth=2, base_channels=8, norm="group")
    side = 64
    mask = dependency_mask(model, (32, 33), input_shape=(side, side))
    assert mask_box(mask) == receptive_box(model, (32, 33))


# -- advice ------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_min_patch_size_is_the_smallest_valid_size_holding_every_window(depth):
    model = UNet(depth=depth, base_channels=1)
    patch = min_patch_size(model)
    largest = receptive_field_by_position(model).max
    assert patch % 2**depth == 0
    assert patch >= largest > patch - 2**depth


def test_recommended_overlap_makes_tiles_agree_with_whole_image():
    torch.manual_seed(0)
    model = UNet(depth=2, base_channels=4).eval()
    image = torch.randn(1, 1, 96, 192)  # one row of tiles
    with torch.no_grad():
        whole = model(image)[0, 0].numpy()

    def tiled(overlap, tile=96):
        windows = tile_slices(image.shape[-2:], tile, overlap)
        with torch.no_grad():
            tiles = [model(image[(..., *w)])[0, 0].numpy() for w in windows]
        return stitch(tiles, windows, image.shape[-2:], blend="center")

    overlap = recommended_overlap(model)
    assert overlap == 2 * context_margin(model) + 2  # 2 * 23 = 46, rounded up to a multiple of 4
    np.testing.assert_allclose(tiled(overlap), whole, rtol=0, atol=1e-5)
    too_small = tiled(overlap - 12)
    assert np.abs(too_small - whole).max() > 1e-3


def test_context_margin_is_the_farthest_reach():
    model = UNet(depth=3, base_channels=1)
    fields = [receptive_field_by_position(model, axis=a) for a in (0, 1)]
    assert context_margin(model) == max(int(f.before.max()) for f in fields) == 51


def test_report_mentions_micrometres():
    text = receptive_field_report(UNet(depth=3, base_channels=1), pixel_size_um=0.25)
    assert "96 px = 24 um" in text
    assert "92 to 100 px = 23 to 25 um" in text
    assert "104 px" in text


# -- effective receptive field ---------------------------------------------------------------
def test_erf_of_a_linear_box_stack_is_the_composed_kernel():
    """Without nonlinearity the gradient is the composed kernel: boxes convolved together."""
    n = 4
    model = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1, bias=False) for _ in range(n)])
    for conv in model:
        nn.init.constant_(conv.weight, 1 / 9)
    erf = effective_receptive_field(model, input_shape=(21, 21), n_samples=2, rng=0)
    kernel = np.ones((1, 1))
    for _ in range(n):
        kernel = signal.convolve(kernel, np.ones((3, 3)) / 9)
    expected = np.zeros((21, 21))
    expected[10 - n : 10 + n + 1, 10 - n : 10 + n + 1] = kernel
    np.testing.assert_allclose(erf, expected / expected.sum(), atol=1e-7)
    # Luo et al.: the variance of a sum of n independent steps uniform on {-1, 0, 1} is 2n/3
    assert gaussian_sigma(erf) == pytest.approx(math.sqrt(2 * n / 3), rel=1e-5)


def test_erf_lies_inside_the_window_and_is_much_smaller():
    torch.manual_seed(0)
    model = UNet(depth=3, base_channels=4)
    erf = effective_receptive_field(model, n_samples=4, rng=1)
    side = erf.shape[0]
    assert side == min_patch_size(model) + 16
    assert erf.sum() == pytest.approx(1.0)
    center = (side // 2, side // 2)
    box = receptive_box(model, center)
    inside = np.zeros_like(erf, dtype=bool)
    inside[box[0][0] : box[0][1], box[1][0] : box[1][1]] = True
    assert erf[~inside].max() == 0
    # half of the influence comes from a disc covering less than a tenth of the window
    radius = erf_radius(erf, mass=0.5)
    assert math.pi * radius**2 < 0.1 * (box[0][1] - box[0][0]) * (box[1][1] - box[1][0])


def test_erf_is_reproducible_and_leaves_the_model_unchanged():
    model = UNet(depth=1, base_channels=2)
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    a = effective_receptive_field(model, input_shape=(32, 32), rng=3, device="cpu")
    b = effective_receptive_field(model, input_shape=(32, 32), rng=3)
    np.testing.assert_array_equal(a, b)
    assert model.training
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


def test_erf_from_given_images():
    model = UNet(depth=1, base_channels=2)
    images = np.random.default_rng(0).random((3, 16, 16))
    erf = effective_receptive_field(model, images=images, position=(4, 5))
    assert erf.shape == (16, 16)
    assert np.unravel_index(erf.argmax(), erf.shape) in {(4, 5), (3, 5), (4, 4), (5, 5), (4, 6)}


def test_radial_profile_matches_a_direct_ring_average():
    rng = np.random.default_rng(0)
    image = rng.random((11, 14))
    radius, profile = radial_profile(image, center=(4, 6))
    rr, cc = np.indices(image.shape)
    ring = np.rint(np.hypot(rr - 4, cc - 6) + 1e-9)
    for r, value in zip(radius, profile, strict=True):
        assert value == pytest.approx(image[ring == r].mean())
    labels = ring.astype(int) + 1
    np.testing.assert_allclose(
        profile, ndimage.mean(image, labels, index=np.unique(labels)), rtol=1e-12
    )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=25, max_size=25),
    st.floats(0.05, 1.0),
    st.floats(0.05, 1.0),
)
def test_erf_radius_grows_with_mass(values, mass_a, mass_b):
    erf = np.asarray(values).reshape(5, 5)
    if erf.sum() == 0:
        erf[2, 2] = 1
    lo, hi = sorted((mass_a, mass_b))
    assert erf_radius(erf, mass=lo) <= erf_radius(erf, mass=hi) <= math.hypot(2, 2)
    rr, cc = np.indices(erf.shape)
    r = erf_radius(erf, mass=hi)
    assert erf[np.hypot(rr - 2, cc - 2) <= r].sum() >= hi * erf.sum() - 1e-9


def test_gaussian_sigma_of_a_sampled_gaussian():
    rr, cc = np.mgrid[-40:41, -40:41]
    assert gaussian_sigma(np.exp(-(rr**2 + cc**2) / (2 * 6.5**2))) == pytest.approx(6.5, 1e-6)


# -- the probe ---------------------------------------------------------------------------------
def test_positive_probe_does_not_touch_the_model():
    model = UNet(depth=2, base_channels=2)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    probe = positive_probe(model)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert isinstance(model.pools[0], nn.MaxPool2d)
    assert all(
        (m.weight > 0).all()
        for m in probe.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    )


# -- plots -------------------------------------------------------------------------------------
def test_plot_receptive_fields_draws_one_square_per_model():
    image = np.zeros((64, 64))
    models = {f"depth {d}": UNet(depth=d, base_channels=1) for d in (1, 2)}
    ax = plot_receptive_fields(image, models, pixel_size_um=0.5)
    squares = [p for p in ax.patches if p.get_label().startswith("depth")]
    assert [round(p.get_width()) for p in squares] == [18, 44]
    assert squares[0].get_xy() == (32 - 8 - 0.5, 32 - 8 - 0.5)
    assert "9 µm" in squares[0].get_label()


def test_plot_effective_receptive_field_shows_box_and_profile():
    rr, cc = np.mgrid[-10:11, -10:11]
    erf = np.exp(-(rr**2 + cc**2) / 18.0)
    fig = plot_effective_receptive_field(erf, box=((2, 19), (2, 19)), title="demo")
    ax_map, ax_profile = fig.axes
    assert any(p.get_label().startswith("receptive field: 17") for p in ax_map.patches)
    assert any("sigma 3.0 px" in line.get_label() for line in ax_profile.lines)
    assert ax_profile.get_yscale() == "log"


# -- errors ------------------------------------------------------------------------------------
def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1)))
    with pytest.raises(TypeError, match=r"layer `1\.1` \(AdaptiveAvgPool2d\)"):
        receptive_field(model)


def test_custom_module_is_refused():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3, padding=1)

        def forward(self, x):
            return x + self.conv(x)

    with pytest.raises(TypeError, match=r"layer `0` \(Residual\).*may branch"):
        receptive_field(nn.Sequential(Residual()))


@pytest.mark.parametrize(
    "layer, match",
    [
        (nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), "align_corners=True"),
        (nn.Upsample(size=(8, 8)), "output `size`"),
        (nn.Upsample(scale_factor=1.5), "non-integer scale"),
        (nn.Upsample(scale_factor=2, mode="bicubic"), "mode='bicubic'"),
    ],
)
def test_unsupported_upsampling(layer, match):
    with pytest.raises(TypeError, match=match):
        receptive_box(nn.Sequential(layer), (0, 0))


def test_bad_arguments():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
    with pytest.raises(ValueError, match=r"`position` must be \(row, col\)"):
        receptive_box(model, (1, 2, 3))
    with pytest.raises(ValueError, match="`axis` must be 0"):
        receptive_field_by_position(model, axis=2)
    with pytest.raises(ValueError, match=r"`position` \(9, 0\) is outside the output"):
        dependency_mask(model, (9, 0), input_shape=(8, 8))
    with pytest.raises(ValueError, match="`input_shape` must be"):
        dependency_mask(model, (0, 0), input_shape=8)
    with pytest.raises(ValueError, match=r"`channel` must be in \[0, 0\]"):
        dependency_mask(model, (0, 0), input_shape=(8, 8), channel=1)
    with pytest.raises(ValueError, match="`n_samples` must be an int >= 1, got 0"):
        effective_receptive_field(model, input_shape=(8, 8), n_samples=0)
    with pytest.raises(ValueError, match="`mass` must be in"):
        erf_radius(np.ones((3, 3)), mass=0)
    with pytest.raises(ValueError, match="`erf` must be non-negative"):
        erf_radius(-np.ones((3, 3)))
    with pytest.raises(ValueError, match="`pixel_size_um` must be > 0"):
        receptive_field_report(model, pixel_size_um=0)
    with pytest.raises(ValueError, match=r"output pixels do not sit on input pixels \(jump 1/2"):
        receptive_field_by_position(nn.Sequential(nn.Upsample(scale_factor=2)))
    with pytest.raises(ValueError, match="`mask` must contain at least one True"):
        mask_box(np.zeros((3, 3), bool))


def test_plot_windows_by_position_draws_each_phase():
    model = UNet(depth=3, base_channels=1)
    ax = plot_windows_by_position(model)
    bars = ax.lines[:-1]
    assert len(bars) == 8
    exact = receptive_field_by_position(model)
    for q, bar in enumerate(bars):
        assert list(bar.get_xdata()) == [-exact.before[q], exact.after[q]]
    assert "92 to 100 px (textbook 96 px)" in ax.get_title()
