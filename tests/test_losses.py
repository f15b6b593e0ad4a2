import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage.measure import label as sk_label

from bioimage_course.losses import (
    bce_dice_loss,
    bce_loss,
    focal_loss,
    get_loss,
    separated_mask,
    soft_dice_loss,
    unet_weight_map,
    weighted_bce_loss,
)


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def _batch(seed=0, shape=(2, 1, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g) * 3
    target = (torch.rand(shape, generator=g) > 0.6).float()
    return logits, target


# -- binary cross-entropy ------------------------------------------------------------------------
def test_bce_hand_computed():
    z = torch.tensor([2.0, -1.0, 0.5])
    y = torch.tensor([1.0, 0.0, 0.0])
    expected = [
        -math.log(_sigmoid(2.0)),
        -math.log(1 - _sigmoid(-1.0)),
        -math.log(1 - _sigmoid(0.5)),
    ]
    got = bce_loss(z, y, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    assert bce_loss(z, y).item() == pytest.approx(sum(expected) / 3, rel=1e-6)
    assert bce_loss(z, y, reduction="sum").item() == pytest.approx(sum(expected), rel=1e-6)
    with_pos = bce_loss(z, y, pos_weight=4.0, reduction="none")
    assert with_pos[0].item() == pytest.approx(4 * expected[0], rel=1e-6)
    assert with_pos[1].item() == pytest.approx(expected[1], rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), pos_weight=st.floats(0.1, 20.0))
def test_bce_equals_torch(seed, pos_weight):
    logits, target = _batch(seed)
    np.testing.assert_allclose(
        bce_loss(logits, target).item(),
        F.binary_cross_entropy_with_logits(logits, target).item(),
        rtol=1e-5,
    )
    pw = torch.tensor([pos_weight])
    np.testing.assert_allclose(
        bce_loss(logits, target, pos_weight=pos_weight).item(),
        F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw).item(),
        rtol=1e-5,
    )
    weight = torch.rand(logits.shape, generator=torch.Generator().manual_seed(seed))
    np.testing.assert_allclose(
        bce_loss(logits, target, weight=weight).item(),
        F.binary_cross_entropy_with_logits(logits, target, weight=weight).item(),
        rtol=1e-5,
    )
    # on probabilities, torch's plain BCE agrees too
    np.testing.assert_allclose(
        bce_loss(logits, target).item(),
        F.binary_cross_entropy(torch.sigmoid(logits.double()), target.double()).item(),
        rtol=1e-4,
    )


def test_bce_is_finite_for_extreme_logits():
    z = torch.tensor([100.0, -100.0])
    y = torch.tensor([0.0, 1.0])
    loss = bce_loss(z, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 100.0], rtol=1e-6)


def test_bce_gradient_is_p_minus_y():
    z = torch.tensor([0.3, -1.2], requires_grad=True)
    y = torch.tensor([1.0, 0.0])
    bce_loss(z, y, reduction="sum").backward()
    np.testing.assert_allclose(z.grad.numpy(), (torch.sigmoid(z) - y).detach().numpy(), rtol=1e-6)


# -- weight map ----------------------------------------------------------------------------------
def test_weight_map_tiny_hand_case():
    # Two objects separated by a 2-pixel gap, plus background on the right.
    labels = np.array([[1, 0, 0, 2, 0]])
    w0, sigma = 10.0, 2.0
    w = unet_weight_map(labels, w0=w0, sigma=sigma, balance=True)
    # class balance: 2 foreground and 3 background pixels of 5
    w_fg, w_bg = 5 / (2 * 2), 5 / (2 * 3)
    border = lambda d1, d2: w0 * math.exp(-((d1 + d2) ** 2) / (2 * sigma**2))  # noqa: E731
    expected = [
        w_fg,
        w_bg + border(1, 2),  # 1 px from object 1, 2 px from object 2
        w_bg + border(1, 2),
        w_fg,
        w_bg + border(1, 4),
    ]
    np.testing.assert_allclose(w[0], expected, rtol=1e-6)


def test_weight_map_two_touching_squares():
    labels = np.zeros((9, 12), dtype=np.int32)
    labels[2:7, 1:5] = 1
    labels[2:7, 6:10] = 2  # one-column gap at column 5
    w = unet_weight_map(labels, w0=10, sigma=3, balance=False)
    assert np.all(w[labels > 0] == 1)
    gap = w[4, 5]
    assert gap == pytest.approx(1 + 10 * math.exp(-4 / 18), rel=1e-6)  # d1 = d2 = 1
    assert gap == w.max()
    assert w[0, 11] < gap  # a far corner gets less
    # a single object: no border term, so only class weights
    single = unet_weight_map((labels == 1).astype(np.int32), w0=10, sigma=3, balance=False)
    assert np.all(single == 1)


def test_weight_map_matches_brute_force():
    rng = np.random.default_rng(0)
    labels = np.zeros((20, 20), dtype=np.int32)
    for i, (r, c) in enumerate(rng.integers(2, 18, size=(4, 2)), start=1):
        labels[r - 1 : r + 2, c - 1 : c + 2] = i
    w = unet_weight_map(labels, w0=5, sigma=4, balance=False)
    ids = [i for i in np.unique(labels) if i]
    dists = np.stack([ndimage.distance_transform_edt(labels != i) for i in ids])
    dists.sort(axis=0)
    border = 5 * np.exp(-((dists[0] + dists[1]) ** 2) / (2 * 16))
    expected = np.where(labels == 0, 1 + border, 1)
    np.testing.assert_allclose(w, expected, rtol=1e-5)


def test_weight_map_balance_gives_equal_class_totals():
    labels = np.zeros((10, 10), dtype=np.int32)
    labels[2:4, 2:5] = 1
    w = unet_weight_map(labels, w0=0, balance=True)
    assert w[labels > 0].sum() == pytest.approx(w[labels == 0].sum())
    assert w.sum() == pytest.approx(labels.size)
    assert w.dtype == np.float32


def test_weight_map_errors():
    with pytest.raises(TypeError, match="`labels` must be an integer or boolean label image"):
        unet_weight_map(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="`labels` must be a 2D array"):
        unet_weight_map(np.zeros((3, 3, 3), dtype=int))
    with pytest.raises(ValueError, match="`sigma` must be > 0"):
        unet_weight_map(np.zeros((3, 3), dtype=int), sigma=0)


def test_weighted_bce():
    logits, target = _batch(3)
    weight = torch.rand(logits.shape)
    expected = weight * F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert weighted_bce_loss(logits, target, weight).item() == pytest.approx(
        expected.mean().item(), rel=1e-5
    )
    with pytest.raises(ValueError, match="`weight` must be a weight map"):
        weighted_bce_loss(logits, target, None)


# -- Dice ----------------------------------------------------------------------------------------
def test_dice_hand_computed():
    y = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    p = torch.tensor([[0.5, 1.0, 0.0, 0.5]])
    # 2 * 1.5 / (2 + 3) = 0.6
    assert soft_dice_loss(p, y, smooth=0, from_logits=False).item() == pytest.approx(0.4)
    # with smoothing 1: (3 + 1) / (5 + 1)
    assert soft_dice_loss(p, y, smooth=1, from_logits=False).item() == pytest.approx(1 - 4 / 6)
    z = torch.logit(p.clamp(1e-6, 1 - 1e-6))
    assert soft_dice_loss(z, y, smooth=0).item() == pytest.approx(0.4, abs=1e-5)


def test_dice_empty_vs_empty_is_perfect():
    empty = torch.zeros(2, 1, 4, 4)
    for smooth in (0.0, 1.0):
        assert soft_dice_loss(empty, empty, smooth=smooth, from_logits=False).item() == 0.0
    # empty target, non-empty prediction: as bad as it gets without smoothing
    assert soft_dice_loss(torch.ones(1, 4), torch.zeros(1, 4), smooth=0, from_logits=False) == 1


def test_dice_per_image_vs_batch():
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    p = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    per_image = soft_dice_loss(p, y, smooth=0, from_logits=False)
    global_ = soft_dice_loss(p, y, smooth=0, per_image=False, from_logits=False)
    assert per_image.item() == pytest.approx(0.5)  # image 1 perfect, image 2 Dice 0
    assert global_.item() == pytest.approx(1 - 2 / 3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_dice_equals_pixel_f1_on_binary_predictions(seed):
    logits, target = _batch(seed)
    pred = (logits > 0).float()
    tp = (pred * target).sum().item()
    fp = (pred * (1 - target)).sum().item()
    fn = ((1 - pred) * target).sum().item()
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    loss = soft_dice_loss(pred, target, smooth=0, per_image=False, from_logits=False)
    assert 0 <= loss.item() <= 1
    assert loss.item() == pytest.approx(1 - f1, abs=1e-6)


# -- focal ---------------------------------------------------------------------------------------
def test_focal_hand_computed():
    z = torch.tensor([1.0, -2.0])
    y = torch.tensor([1.0, 1.0])
    gamma, alpha = 2.0, 0.25
    expected = [-alpha * (1 - _sigmoid(z_)) ** gamma * math.log(_sigmoid(z_)) for z_ in (1.0, -2.0)]
    got = focal_loss(z, y, gamma=gamma, alpha=alpha, reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    bg = focal_loss(torch.tensor([1.0]), torch.tensor([0.0]), gamma=1, alpha=alpha)
    assert bg.item() == pytest.approx(
        -(1 - alpha) * _sigmoid(1.0) * math.log(1 - _sigmoid(1.0)), rel=1e-6
    )


def test_focal_with_gamma_zero_is_bce_and_focuses_on_hard_pixels():
    logits, target = _batch(5)
    np.testing.assert_allclose(
        focal_loss(logits, target, gamma=0, alpha=None).item(),
        F.binary_cross_entropy_with_logits(logits, target).item(),
        rtol=1e-5,
    )
    easy = focal_loss(torch.tensor([4.0]), torch.tensor([1.0]), alpha=None)
    hard = focal_loss(torch.tensor([-4.0]), torch.tensor([1.0]), alpha=None)
    ratio_focal = (easy / hard).item()
    ratio_bce = (
        bce_loss(torch.tensor([4.0]), torch.tensor([1.0]))
        / bce_loss(torch.tensor([-4.0]), torch.tensor([1.0]))
    ).item()
    assert ratio_focal < ratio_bce / 100


# -- combined and by name ------------------------------------------------------------------------
def test_bce_dice_is_weighted_sum():
    logits, target = _batch(7)
    expected = 0.3 * bce_loss(logits, target) + 2.0 * soft_dice_loss(logits, target)
    got = bce_dice_loss(logits, target, bce_weight=0.3, dice_weight=2.0)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("name", ["bce", "dice", "focal", "bce_dice"])
def test_losses_decrease_towards_the_target(name):
    loss = get_loss(name)
    target = _batch(1)[1]
    good = loss((target * 2 - 1) * 5, target)
    bad = loss((1 - 2 * target) * 5, target)
    middle = loss(torch.zeros_like(target), target)
    assert good < middle < bad


def test_get_loss():
    assert get_loss("bce") is bce_loss
    assert get_loss(bce_loss) is bce_loss
    with pytest.raises(ValueError, match="`loss` must be one of 'bce', 'weighted_bce'"):
        get_loss("mse")
    with pytest.raises(ValueError, match="`options` can only be given with a loss name"):
        get_loss(bce_loss, gamma=2)


def test_shape_and_option_errors():
    z = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"same shape, got \(1, 1, 4, 4\) and \(1, 4, 4\)"):
        bce_loss(z, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="same shape"):
        soft_dice_loss(z, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        bce_loss(z, z, reduction="avg")
    with pytest.raises(ValueError, match="`smooth` must be >= 0"):
        soft_dice_loss(z, z, smooth=-1)
    with pytest.raises(ValueError, match=r"`alpha` must be in \[0, 1\]"):
        focal_loss(z, z, alpha=2)


# -- separated mask ------------------------------------------------------------------------------
def test_separated_mask_hand_case():
    labels = np.zeros((5, 8), dtype=np.int32)
    labels[1:4, 0:4] = 1
    labels[1:4, 4:7] = 2  # touching along a vertical line between columns 3 and 4
    mask = separated_mask(labels)
    expected = (labels > 0).astype(np.float32)
    expected[1:4, 3:5] = 0  # one column on each side becomes background
    np.testing.assert_array_equal(mask, expected)
    wide = separated_mask(labels, width_px=2)
    assert wide[2, 2] == 0 and wide[2, 5] == 0 and wide[2, 1] == 1
    assert mask.dtype == np.float32


def _brute_force_separated(labels, width):
    out = np.zeros(labels.shape, np.float32)
    rows, cols = labels.shape
    for r in range(rows):
        for c in range(cols):
            lab = labels[r, c]
            if lab == 0:
                continue
            window = labels[max(r - width, 0) : r + width + 1, max(c - width, 0) : c + width + 1]
            out[r, c] = not np.any((window != 0) & (window != lab))
    return out


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), width=st.integers(1, 2))
def test_separated_mask_matches_brute_force_and_splits_objects(seed, width):
    rng = np.random.default_rng(seed)
    # random touching blobs: Voronoi cells of a few seeds, with some background
    seeds = rng.integers(0, 24, size=(5, 2))
    rr, cc = np.mgrid[:24, :24]
    dist = (rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2
    labels = (np.argmin(dist, axis=-1) + 1).astype(np.int32)
    labels[rng.random((24, 24)) < 0.1] = 0
    mask = separated_mask(labels, width_px=width)
    np.testing.assert_array_equal(mask, _brute_force_separated(labels, width))
    components = sk_label(mask > 0, connectivity=2)
    for k in range(1, components.max() + 1):
        assert len(np.unique(labels[components == k])) == 1  # never two objects in one blob


def test_separated_mask_errors():
    with pytest.raises(ValueError, match="`width_px` must be an int >= 1"):
        separated_mask(np.zeros((3, 3), int), width_px=0)
    with pytest.raises(TypeError, match="`labels` must be an integer or boolean label image"):
        separated_mask(np.zeros((3, 3)))


def test_bce_dice_accepts_a_weight_map():
    logits, target = _batch(9)
    weight = torch.rand(logits.shape)
    expected = bce_loss(logits, target, weight=weight) + soft_dice_loss(logits, target)
    assert bce_dice_loss(logits, target, weight).item() == pytest.approx(expected.item())
