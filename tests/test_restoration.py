import numpy as np
import pytest
import torch

from bioimage_course import restoration


def test_pair_has_the_asked_noise_and_outliers():
    noisy, target, clean = restoration.denoising_pair((64, 64), photons=10, outliers=0.1, rng=0)
    assert abs(np.mean(target != clean) - 0.1) < 0.02 and np.all(target[target != clean] == 1)
    # shot noise: values are multiples of 1 / photons
    np.testing.assert_allclose(noisy * 10, np.round(noisy * 10), atol=1e-4)
    _, same, clean0 = restoration.denoising_pair((64, 64), rng=0)
    assert np.array_equal(same, clean0)
    with pytest.raises(ValueError, match="`outliers`"):
        restoration.denoising_pair(outliers=2)


def test_l1_ignores_outliers_that_pull_l2():
    pairs = [restoration.denoising_pair((64, 64), outliers=0.05, rng=s)[:2] for s in range(16)]
    noisy, _, clean = restoration.denoising_pair((64, 64), rng=99)
    bias = {}
    for loss in ("mse", "mae"):
        model = restoration.train_denoiser(pairs, loss=loss, steps=200)
        bias[loss] = float(np.mean(restoration.denoise(model, noisy) - clean))
    assert bias["mse"] > bias["mae"] + 0.01  # the mean is pulled up by 5 % outliers at 1.0
    with pytest.raises(ValueError, match="`loss`"):
        restoration.train_denoiser(pairs, loss="huber")
    with pytest.raises(ValueError, match="`kernel_size`"):
        restoration.train_denoiser(pairs, kernel_size=4)


def test_a_filter_that_passes_the_input_is_the_identity():
    model = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[0, 0, 1, 1] = 1.0
    image = np.random.default_rng(0).random((9, 9)).astype(np.float32)
    np.testing.assert_allclose(restoration.denoise(model, image), image)
