"""Paired denoising: low-SNR inputs, high-SNR targets, and the loss a denoiser learns with.

Introduced in notebook 07 (metrics). A restoration network learns from *pairs*: the same field
imaged with little light (the input) and with plenty (the target). What it learns depends on
the loss:

- the **MSE** (mean squared error, the L2 loss) is smallest for the *mean* of what the target
  could be at a pixel;
- the **MAE** (mean absolute error, the L1 loss) is smallest for the *median*.

They agree when the target's errors are small and symmetric; they differ when the targets
contain outliers, such as the hot pixels and cosmic-ray hits of a real camera:
the mean is pulled towards them, the median is not.

Examples
--------
>>> noisy, target, clean = denoising_pair((32, 32), outliers=0.05, rng=0)
>>> noisy.shape, float(clean.min()), float(clean.max())
((32, 32), 0.0, 1.0)
>>> round(float(np.mean(target != clean)), 2)
0.05
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from ._validate import as_rng, check_array, check_choice, check_in_range, check_int
from .data import make_scene, render_nuclei

__all__ = ["DENOISING_LOSSES", "denoise", "denoising_pair", "train_denoiser"]

DENOISING_LOSSES = {"mse": functional.mse_loss, "mae": functional.l1_loss}


def denoising_pair(
    shape: tuple[int, int] = (64, 64), *, photons: float = 20.0, outliers: float = 0.0,
    rng: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One field of nuclei imaged twice: with ``photons`` at the brightest spot, and with plenty.

    Parameters
    ----------
    shape : (int, int)
        Image shape.
    photons : float
        Photons per pixel at the brightest point of the low-SNR image (shot noise only).
    outliers : float
        Fraction of the target's pixels set to 1.0 at random places (hot pixels, cosmic rays).
    rng : None, int or numpy.random.Generator
        Source of randomness (scene and noise).

    Returns
    -------
    noisy, target, clean : ndarray of float32
        The low-SNR input, the high-SNR target (with its outliers) and the clean image, in [0, 1].
    """
    photons = check_in_range(photons, "photons", 0, low_inclusive=False)
    outliers = check_in_range(outliers, "outliers", 0, 1)
    rng = as_rng(rng)
    scene = make_scene(shape, rng=rng)
    bright, _ = render_nuclei(scene, rng=rng, photons=5000, bit_depth=16)
    bright = bright.astype(np.float64)
    clean = (bright - bright.min()) / max(float(np.ptp(bright)), 1e-12)
    noisy = rng.poisson(clean * photons) / photons
    target = np.where(rng.random(clean.shape) < outliers, 1.0, clean)
    return noisy.astype(np.float32), target.astype(np.float32), clean.astype(np.float32)


def train_denoiser(
    pairs, *, loss: str = "mse", kernel_size: int = 7, steps: int = 300, lr: float = 0.02,
    seed: int = 0,
) -> nn.Conv2d:  # fmt: skip
    """Learn a denoising filter (one convolution and a bias) from (input, target) pairs.

    The smallest denoiser there is: notebook 02's learned filter, trained on all pairs at once
    (full-batch Adam, ``steps`` steps) with the L2 (``loss="mse"``) or L1 (``loss="mae"``)
    loss. Apply it with :func:`denoise`.
    """
    check_choice(loss, "loss", DENOISING_LOSSES)
    size = check_int(kernel_size, "kernel_size", low=1)
    if size % 2 == 0:
        raise ValueError(f"`kernel_size` must be odd, got {kernel_size}")
    inputs, targets = zip(*pairs, strict=True)
    x = torch.as_tensor(np.stack(inputs), dtype=torch.float32)[:, None]
    y = torch.as_tensor(np.stack(targets), dtype=torch.float32)[:, None]
    torch.manual_seed(check_int(seed, "seed", low=0))
    model = nn.Conv2d(1, 1, size, padding=size // 2, padding_mode="reflect")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(check_int(steps, "steps", low=1)):
        optimizer.zero_grad()
        DENOISING_LOSSES[loss](model(x), y).backward()
        optimizer.step()
    return model


@torch.no_grad()
def denoise(model: nn.Module, image) -> np.ndarray:
    """Apply a denoiser to one 2D image; returns a float32 array of the same shape."""
    image = check_array(image, "image", ndim=2, finite=True)
    x = torch.from_numpy(image.astype(np.float32))[None, None]  # native byte order
    return model(x)[0, 0].numpy()
