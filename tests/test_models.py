import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bioimage_course.models import UNet, conv_block, pad_to_multiple, upsample_block


def _tiny(**kwargs):
    torch.manual_seed(0)
    options = {"depth": 2, "base_channels": 4}
    options.update(kwargs)
    return UNet(**options)


@pytest.mark.parametrize("norm", ["batch", "group", "none"])
@pytest.mark.parametrize("upsampling", ["transposed", "interpolation"])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_output_has_input_size(norm, upsampling, depth):
    model = _tiny(norm=norm, upsampling=upsampling, depth=depth, in_channels=2, out_channels=3)
    y = model(torch.randn(2, 2, 32, 24))
    assert y.shape == (2, 3, 32, 24)


def test_n_params_matches_hand_count():
    # depth 1, base 2, no norm: every conv has a bias.
    model = UNet(1, 1, depth=1, base_channels=2, norm="none")
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    expected = (
        conv(1, 2, 3) + conv(2, 2, 3)  # encoder[0]
        + conv(2, 4, 3) + conv(4, 4, 3)  # bottleneck
        + conv(4, 2, 2)  # transposed 2x2 up-convolution
        + conv(4, 2, 3) + conv(2, 2, 3)  # decoder[0] (2 skip + 2 upsampled channels in)
        + conv(2, 1, 1)  # head
    )  # fmt: skip
    assert model.n_params == expected == sum(p.numel() for p in model.parameters())


def test_norm_layers_and_bias():
    batch = _tiny(norm="batch")
    group = _tiny(norm="group")
    assert isinstance(batch.encoder[0][1], nn.BatchNorm2d)
    assert isinstance(group.encoder[0][1], nn.GroupNorm)
    assert batch.encoder[0][0].bias is None  # the norm's shift replaces the bias
    assert _tiny(norm="none").encoder[0][0].bias is not None


def test_structure_is_indexed_by_level():
    model = _tiny(depth=3, base_channels=4)
    assert len(model.encoder) == len(model.pools) == len(model.upsamples) == 3
    assert len(model.decoder) == 3
    for level in range(3):
        assert model.encoder[level][0].out_channels == 4 * 2**level
        assert model.decoder[level][0].in_channels == 2 * 4 * 2**level
        assert model.upsamples[level].out_channels == 4 * 2**level
    assert model.bottleneck[0].out_channels == 32
    assert model.head.kernel_size == (1, 1)


def test_summary_matches_a_real_forward_pass():
    model = _tiny(depth=2, base_channels=4, upsampling="interpolation")
    seen = {}
    hooks = [
        module.register_forward_hook(
            lambda m, inp, out, name=name: seen.__setitem__(name, tuple(out.shape[1:]))
        )
        for name, module, _, _ in model.stages()
    ]
    model(torch.zeros(1, 1, 48, 32))
    for hook in hooks:
        hook.remove()
    table = model.summary((1, 48, 32)).splitlines()
    rows = {line.split()[0]: line.split() for line in table[1:-1]}
    assert list(rows)[1:] == list(seen)  # same stages, same order
    for name, (channels, height, width) in seen.items():
        row = rows[name]
        assert (int(row[1]), int(row[2]), int(row[4])) == (channels, height, width)
    assert table[-1] == f"total parameters: {model.n_params:,}"


def test_skip_connections_carry_fine_detail():
    """Cut the skip of level 0 and the output changes: the decoder uses encoder features."""
    model = _tiny().eval()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        y = model(x)
        hook = model.encoder[0].register_forward_hook(lambda m, i, out: torch.zeros_like(out))
        y_cut = model(x)
        hook.remove()
    assert not torch.allclose(y, y_cut)


def test_translation_equivariance_away_from_border():
    """Shifting the input by 2**depth pixels shifts the output by the same amount."""
    model = _tiny(depth=2).eval()  # receptive field 44 px: 22 px either side
    x = torch.randn(1, 1, 96, 96)
    with torch.no_grad():
        y = model(x)
        y_shift = model(torch.roll(x, shifts=(4, 8), dims=(2, 3)))
    interior = (slice(None), slice(None), slice(36, 60), slice(36, 60))
    shifted = torch.roll(y_shift, shifts=(-4, -8), dims=(2, 3))
    torch.testing.assert_close(shifted[interior], y[interior], atol=1e-5, rtol=1e-5)


def test_dropout_only_while_training():
    model = _tiny(dropout=0.5, norm="none")
    assert isinstance(model.encoder[0][-1], nn.Dropout2d)
    x = torch.randn(1, 1, 16, 16)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, model(x))


def test_every_parameter_gets_a_gradient():
    model = _tiny(norm="group")
    model(torch.randn(2, 1, 16, 16)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_config_round_trip_and_state_dict():
    model = _tiny(norm="group", dropout=0.1, upsampling="interpolation", out_channels=2)
    clone = UNet.from_config(model.config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(1, 1, 16, 16)
    torch.testing.assert_close(clone.eval()(x), model.eval()(x))


def test_blocks():
    block = conv_block(3, 5, norm="batch", dropout=0.2)
    assert [type(m).__name__ for m in block] == [
        "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "Dropout2d"
    ]  # fmt: skip
    assert block(torch.zeros(1, 3, 7, 7)).shape == (1, 5, 7, 7)
    up = upsample_block(6, 3, upsampling="transposed")
    assert up(torch.zeros(1, 6, 4, 5)).shape == (1, 3, 8, 10)


def test_errors():
    model = _tiny(depth=2)
    with pytest.raises(ValueError, match=r"divisible by 2\*\*depth = 4, got \(30, 32\)"):
        model(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="must have 1 channel"):
        model(torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="must be a 4D tensor"):
        model(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="`norm` must be one of 'batch', 'group', 'none'"):
        UNet(norm="layer")
    with pytest.raises(ValueError, match="`upsampling` must be one of"):
        UNet(upsampling="nearest")
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\)"):
        UNet(dropout=1.0)
    with pytest.raises(TypeError, match="`depth` must be an int"):
        UNet(depth=2.0)
    with pytest.raises(ValueError, match="`base_channels` must be an int >= 1, got 0"):
        UNet(base_channels=0)
    with pytest.raises(ValueError, match="`input_shape` must be"):
        model.summary((32, 32))
    with pytest.raises(ValueError, match="divisible"):
        model.summary((1, 30, 30))


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    multiple=st.sampled_from([1, 2, 4, 8, 16]),
    mode=st.sampled_from(["reflect", "replicate", "constant"]),
)
def test_pad_to_multiple_property(height, width, multiple, mode):
    x = torch.arange(height * width, dtype=torch.float32).reshape(1, 1, height, width)
    padded, crop = pad_to_multiple(x, multiple, mode=mode)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - height < multiple and padded.shape[-1] - width < multiple
    np.testing.assert_array_equal(padded[..., crop[0], crop[1]].numpy(), x.numpy())


def test_pad_to_multiple_lets_any_size_through_the_model():
    model = _tiny(depth=2).eval()
    x = torch.randn(1, 1, 30, 21)
    padded, crop = pad_to_multiple(x, 2**model.depth)
    with torch.no_grad():
        y = model(padded)[..., crop[0], crop[1]]
    assert y.shape == x.shape
    assert pad_to_multiple(torch.zeros(2, 8, 8), 4)[0].shape == (2, 8, 8)
    with pytest.raises(ValueError, match="`multiple` must be an int >= 1, got 0"):
        pad_to_multiple(x, 0)


def test_plot_unet_draws_every_block_with_its_size():
    import matplotlib

    matplotlib.use("Agg")
    from bioimage_course.models import plot_unet

    model = UNet(depth=3, base_channels=4, out_channels=2)
    ax = plot_unet(model, input_size=64)
    assert len(ax.patches) - 3 * 3 == 2 * 3 + 1  # boxes; 3 arrows per level
    texts = {t.get_text() for t in ax.texts}
    assert {"4 ch\n64x64", "16 ch\n16x16", "32 ch\n8x8", "head\n2 ch"} <= texts
    assert f"{model.n_params:,}" in ax.get_title()
    with pytest.raises(TypeError, match="`model` must be a UNet"):
        plot_unet(nn.Conv2d(1, 1, 3))
