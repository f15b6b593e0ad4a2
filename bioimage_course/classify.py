"""Image to vector: classify a crop of one nucleus (dividing or not) with a small CNN.

Introduced in notebook 06 (receptive field). Segmentation maps an image to an image (a value
per pixel); classification maps an image to a vector (here one number: the probability that
the crop shows a dividing nucleus). The network is the same kind of convolution stack, ended
by a *global* average pooling and a linear layer, so its single output sees the whole crop:
its receptive field must cover the object and whatever context the decision needs.

:func:`object_crops` cuts a square crop centred on each object of a label image, and
:func:`dividing_nuclei` says which nuclei of a synthetic scene are dividing (the data module
draws a dividing nucleus as two compact, bright daughters without nucleoli).

Examples
--------
>>> import numpy as np
>>> labels = np.zeros((40, 40), int); labels[18:22, 18:22] = 1
>>> crops, ids = object_crops(np.ones((40, 40)), labels, 16)
>>> crops.shape, ids.tolist()
((1, 16, 16), [1])
>>> CropClassifier()(torch.zeros(3, 1, 16, 16)).shape
torch.Size([3])
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage as ndi
from torch import nn

from ._validate import check_array, check_int, check_intensity_image, check_label_ids
from .data import NucleiScene

__all__ = ["CropClassifier", "dividing_nuclei", "object_crops", "predict_crops", "train_classifier"]


def dividing_nuclei(scene: NucleiScene) -> np.ndarray:
    """Boolean per nucleus of ``scene``: True for the daughters of a dividing nucleus.

    Nucleus ``i`` has label ``i + 1`` in ``render_nuclei(scene, relabel=False)``. The scene
    draws mitotic daughters with 0.18-0.42x the chromatin texture of the preset, every other
    nucleus with 0.6-1.4x: the boundary between the two is exact.
    """
    if not isinstance(scene, NucleiScene):
        raise TypeError(f"`scene` must be a NucleiScene (make_scene), got {type(scene).__name__}")
    if scene.params.texture <= 0:
        raise ValueError("`scene` must have chromatin texture (texture > 0) to tell daughters")
    return scene.texture < 0.5 * scene.params.texture


def object_crops(image, labels, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crops of ``size`` pixels centred on every object that lies far enough inside.

    Returns
    -------
    crops : ndarray, shape (N, size, size)
        ``image`` around each object's centre of mass (objects whose crop would leave the image
        are skipped).
    ids : ndarray of int, shape (N,)
        The object id of each crop.
    """
    image = check_intensity_image(image, "image", ndim=2)
    labels = check_label_ids(labels, "labels", ndim=2)
    size = check_int(size, "size", low=1)
    if image.shape != labels.shape:
        raise ValueError(
            f"`labels` must have the shape of `image` {image.shape}, got {labels.shape}"
        )
    ids = np.unique(labels[labels > 0])
    centres = np.array(ndi.center_of_mass(labels > 0, labels, ids)).reshape(-1, 2)
    crops, kept = [], []
    for object_id, (r, c) in zip(ids.tolist(), centres, strict=True):
        r0, c0 = int(round(r)) - size // 2, int(round(c)) - size // 2
        if r0 >= 0 and c0 >= 0 and r0 + size <= image.shape[0] and c0 + size <= image.shape[1]:
            crops.append(image[r0 : r0 + size, c0 : c0 + size])
            kept.append(object_id)
    out = np.array(crops, dtype=np.float32).reshape(-1, size, size)
    return out, np.array(kept, dtype=np.int64)


class CropClassifier(nn.Module):
    """Three 3x3 convolution blocks (two with 2x2 max pooling), global average pooling, a linear
    layer: one logit per crop (``sigmoid(logit)`` is the probability of the class)."""

    def __init__(self, channels: int = 8):
        super().__init__()
        c = check_int(channels, "channels", low=1)
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * c, 2 * c, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.features(x).mean(dim=(2, 3))  # global average: one vector per crop
        return self.head(pooled)[:, 0]


def _as_batch(crops) -> torch.Tensor:
    crops = check_array(crops, "crops", ndim=3, finite=True)
    return torch.from_numpy(crops.astype(np.float32))[:, None]  # native byte order


def train_classifier(
    model: nn.Module, crops, targets, *, epochs: int = 20, batch_size: int = 32, lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:  # fmt: skip
    """Train ``model`` with binary cross-entropy and Adam; returns the mean loss of each epoch.

    ``crops`` is (N, H, W), ``targets`` N values in {0, 1}.
    """
    x = _as_batch(crops)
    y = torch.as_tensor(check_array(targets, "targets", ndim=1), dtype=torch.float32)
    if len(y) != len(x):
        raise ValueError(f"`targets` must have one value per crop ({len(x)}), got {len(y)}")
    generator = torch.Generator().manual_seed(check_int(seed, "seed", low=0))
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(check_int(epochs, "epochs", low=1)):
        order, total = torch.randperm(len(x), generator=generator), 0.0
        for batch in order.split(batch_size):
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        losses.append(total / len(x))
    return losses


@torch.no_grad()
def predict_crops(model: nn.Module, crops) -> np.ndarray:
    """Probability of the class for every crop (N,), in evaluation mode."""
    model.eval()
    return torch.sigmoid(model(_as_batch(crops))).numpy()
