import numpy as np
import pytest

from bioimage_course import restoration
from bioimage_course.predict import predict_image


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
        model = restoration.train_denoiser(pairs, loss=loss, epochs=20)
        bias[loss] = float(np.mean(predict_image(model, noisy, output="logits") - clean))
    assert bias["mse"] > bias["mae"] + 0.01  # the mean is pulled up by 5 % outliers at 1.0
    with pytest.raises(ValueError, match="`loss`"):
        restoration.train_denoiser(pairs, loss="huber")
