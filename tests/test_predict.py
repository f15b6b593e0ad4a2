import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.measure import label as sk_label
from torch import nn

from bioimage_course.models import UNet
from bioimage_course.patches import window_starts
from bioimage_course.predict import (
    blend_profile,
    default_overlap,
    instances_from_probability,
    predict_image,
    predict_tiled,
)


def _unet(seed=0, **kwargs):
    torch.manual_seed(seed)
    options = {"depth": 2, "base_channels": 4}
    options.update(kwargs)
    model = UNet(**options)
    # give batch norm non-trivial running statistics so that eval mode is really tested
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("upsampling", ["transposed", "interpolation"])
@pytest.mark.parametrize("shape", [(96, 128), (100, 141)])
def test_tiled_equals_whole_image_with_enough_overlap(upsampling, shape):
    model = _unet(upsampling=upsampling)
    image = _image(shape)
    whole = predict_image(model, image, device="cpu")
    tiled = predict_tiled(model, image, tile=64, batch_size=3, device="cpu")
    assert tiled.shape == shape and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=2e-6, rtol=0)
    logits = predict_tiled(model, image, tile=64, output="logits", device="cpu")
    np.testing.assert_allclose(
        logits, predict_image(model, image, output="logits", device="cpu"), atol=2e-5, rtol=0
    )


def test_tiled_differs_without_enough_overlap():
    """The test above can fail: with too little overlap the tile borders show."""
    model = _unet()
    image = _image((128, 128))
    whole = predict_image(model, image, device="cpu")
    for blend in ("smooth", "uniform"):
        tiled = predict_tiled(model, image, tile=48, overlap=8, blend=blend, device="cpu")
        assert np.abs(tiled - whole).max() > 1e-3


def test_smooth_blend_beats_uniform_with_small_overlap():
    model = _unet()
    image = _image((160, 160))
    whole = predict_image(model, image, device="cpu")
    err = {
        blend: np.abs(predict_tiled(model, image, tile=64, overlap=24, blend=blend) - whole).mean()
        for blend in ("smooth", "uniform")
    }
    assert err["smooth"] < err["uniform"]


def test_identity_model_reproduces_the_image_any_tiling():
    model = nn.Conv2d(1, 1, kernel_size=1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    image = _image((37, 53))
    for tile, overlap in [(8, 0), (16, 5), (64, 8)]:
        for blend in ("smooth", "uniform"):
            out = predict_tiled(
                model, image, tile=tile, overlap=overlap, blend=blend, output="logits"
            )
            np.testing.assert_allclose(out, image, rtol=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    length=st.integers(1, 200),
    tile=st.integers(4, 64),
    overlap=st.integers(0, 40),
    margin=st.integers(0, 20),
)
def test_every_pixel_has_weight_when_tiles_overlap_by_twice_the_margin(
    length, tile, overlap, margin
):
    overlap = min(overlap, tile - 1)
    margin = min(margin, overlap // 2)
    starts = window_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    total = np.zeros(length)
    for s in starts:
        w = blend_profile(size, left=s > 0, right=s + size < length, margin=margin)
        total[s : s + size] += w
        if s > 0:
            assert np.all(w[:margin] == 0)  # padding-affected band never used
    assert (total > 0).all()


def test_blend_profile_shape():
    p = blend_profile(10, left=True, right=True, margin=2)
    np.testing.assert_allclose(p, p[::-1])
    assert p[0] == p[1] == 0 and 0 < p[2] < p[3] < p[4] < 1
    assert np.all(blend_profile(6, left=False, right=False, margin=2) == 1)
    # a raised cosine sin(pi/2 * t)**2 rising after the margin, over 10 // 2 - 2 = 3 pixels
    t = np.array([1, 2, 3]) / 4
    np.testing.assert_allclose(p[2:5], np.sin(np.pi / 2 * t) ** 2)


def test_batches_are_bounded_and_model_state_restored():
    model = _unet()
    sizes = []
    hook = model.register_forward_hook(lambda m, i, o: sizes.append(i[0].shape[0]))
    model.train()
    predict_tiled(model, _image((200, 180)), tile=64, batch_size=3, device="cpu")
    hook.remove()
    assert max(sizes) <= 3 and sum(sizes) > 3
    assert model.training  # put back the way it was


def test_default_margin_is_the_reach_of_the_tile_padding():
    """A tile predicted alone equals the whole-image prediction from `margin` pixels inside its
    inner edges on, and differs just before: the margin is the padding's exact reach."""
    model = _unet()
    overlap, margin = default_overlap(model)
    assert overlap >= 2 * margin and overlap % 2**model.depth == 0
    image = _image((128, 160))
    whole = predict_image(model, image, output="logits", device="cpu")
    rows, cols = slice(32, 96), slice(48, 112)  # on the pooling grid, all edges inside
    alone = predict_image(model, image[rows, cols], output="logits", device="cpu")
    diff = np.abs(alone - whole[rows, cols])
    inner = (slice(margin, -margin), slice(margin, -margin))
    assert diff[inner].max() < 1e-5
    band = np.concatenate([diff[margin - 1], diff[-margin], diff[:, margin - 1], diff[:, -margin]])
    assert band.max() > 1e-4

    class Opaque(nn.Module):
        def forward(self, x):
            return x

    assert default_overlap(Opaque()) == (64, 32)


def test_normalize_percentile_is_global_not_per_tile():
    model = nn.Conv2d(1, 1, kernel_size=1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    image = np.zeros((64, 64), np.uint16)
    image[:, 32:] = 1000  # the left tiles alone have no contrast
    out = predict_tiled(model, image, tile=32, overlap=8, normalize="percentile", output="logits")
    lo, hi = np.percentile(image, [1, 99.8])
    np.testing.assert_allclose(out, (image - lo) / (hi - lo), atol=1e-6)
    whole = predict_image(model, image, normalize="percentile", output="logits")
    np.testing.assert_allclose(out, whole, atol=1e-6)


def test_multichannel_in_and_out():
    model = _unet(in_channels=2, out_channels=3)
    image = _image((2, 64, 96))
    out = predict_tiled(model, image, tile=64, overlap=16, channel_axis=0)
    assert out.shape == (3, 64, 96)
    np.testing.assert_allclose(out.sum(axis=0), 1.0, rtol=1e-5)  # softmax over classes
    last = predict_tiled(model, np.moveaxis(image, 0, -1), tile=64, overlap=16, channel_axis=-1)
    np.testing.assert_allclose(last, out)


def test_tiled_prediction_does_not_modify_input():
    image = _image((64, 80))
    before = image.copy()
    predict_tiled(_unet(), image, tile=64, device="cpu")
    np.testing.assert_array_equal(image, before)


def test_errors():
    model = _unet()
    image = _image((64, 64))
    with pytest.raises(ValueError, match=r"`tile` must be a multiple of 2\*\*depth = 4"):
        predict_tiled(model, image, tile=30, overlap=8)
    with pytest.raises(ValueError, match=r"`overlap` must be a multiple of 2\*\*depth = 4"):
        predict_tiled(model, image, tile=32, overlap=6)
    with pytest.raises(ValueError, match="`overlap` must be smaller than `tile`"):
        predict_tiled(model, image, tile=32, overlap=32)
    with pytest.raises(ValueError, match="`tile` 32 is too small for this model"):
        predict_tiled(model, image, tile=32)
    with pytest.raises(ValueError, match="`blend` must be one of 'smooth', 'uniform'"):
        predict_tiled(model, image, blend="gaussian")
    with pytest.raises(ValueError, match="pass `channel_axis`"):
        predict_tiled(model, _image((2, 64, 64)))
    with pytest.raises(ValueError, match="expects 1 input channel"):
        predict_tiled(model, _image((2, 64, 64)), channel_axis=0)
    with pytest.raises(ValueError, match="`image` must contain only finite values"):
        predict_tiled(model, np.full((64, 64), np.nan))
    with pytest.raises(ValueError, match="`normalize` must be one of None, 'percentile'"):
        predict_image(model, image, normalize="minmax")
    with pytest.raises(ValueError, match="`batch_size` must be an int >= 1, got 0"):
        predict_tiled(model, image, batch_size=0)


def test_instances_from_probability():
    rng = np.random.default_rng(0)
    prob = rng.random((40, 40))
    labels = instances_from_probability(prob, threshold=0.7)
    np.testing.assert_array_equal(labels, sk_label(prob > 0.7, connectivity=2))
    big = instances_from_probability(prob, threshold=0.7, min_size=4)
    sizes = np.bincount(big.ravel())[1:]
    assert sizes.min() >= 4 and set(np.unique(big)) == set(range(big.max() + 1))
    # every remaining object is one of the original ones, unchanged
    for i in range(1, big.max() + 1):
        original = np.unique(labels[big == i])
        assert len(original) == 1 and np.array_equal(labels == original[0], big == i)
    with pytest.raises(ValueError, match=r"`threshold` must be in \[0, 1\]"):
        instances_from_probability(prob, threshold=2)


def test_instances_grow_back_what_separated_mask_took():
    from bioimage_course.losses import separated_mask

    labels = np.zeros((20, 30), np.int32)
    labels[5:15, 3:14] = 1
    labels[5:15, 14:25] = 2  # touching
    prob = separated_mask(labels)
    merged = instances_from_probability((labels > 0).astype(float))
    assert merged.max() == 1  # without the gap, one blob
    split = instances_from_probability(prob)
    assert split.max() == 2
    grown = instances_from_probability(prob, grow_px=1)
    assert (grown > 0)[labels > 0].all()  # the gap is filled again
    assert len(np.unique(grown[labels == 1])) == 1 and len(np.unique(grown[labels == 2])) == 1
    assert grown[10, 13] != grown[10, 14]  # ... without merging the two objects


def test_memory_is_the_output_plus_a_batch_of_tiles():
    import tracemalloc

    model = _unet().eval()
    image = _image((1024, 1024))
    tracemalloc.start()  # numpy allocations are traced; torch's own buffers are not
    try:
        out = predict_tiled(model, image, tile=128, batch_size=4, device="cpu")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    tile_batch = 4 * 128 * 128 * 4  # bytes of one batch of float32 tiles
    assert peak < out.nbytes + 6 * tile_batch  # no second full-size array
