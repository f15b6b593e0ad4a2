"""Geometric transforms, applied identically to the image and its labels (notebook 04).

:class:`RandomFlip` and :class:`RandomRot90` are exact (no interpolation); :class:`RandomWarp`
combines rotation, translation, zoom, shear and elastic deformation into one coordinate map,
so the image is interpolated only once; :meth:`RandomWarp.batch_torch` applies the same warps
to a batch of tensors on the GPU.

>>> import numpy as np
>>> RandomFlip(axes=(0,)).apply(np.array([[1, 2], [3, 4]]), None, {"flip": (0,)})[0]
array([[3, 4],
       [1, 2]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import as_rng, check_choice, check_in_range
from ..device import get_device
from .base import (
    Transform,
    draw_log_uniform,
    draw_uniform,
    factor_range,
    plane_index,
    restore_dtype,
    spatial_axes,
    spatial_shape,
    symmetric_range,
    work_dtype,
)
from .warp import (
    BORDER_MODES,
    TORCH_PADDING,
    affine_coordinates,
    draw_coarse_field,
    inverse_affine,
    resample,
    resample_labels,
    upsample_field,
    valid_box,
    warp_coordinates,
)


class RandomFlip(Transform):
    """Mirror along each spatial ``axes`` (default all) with probability 1/2 (exact).

    >>> import numpy as np
    >>> image = np.array([[1, 2], [3, 4]])
    >>> t = RandomFlip(axes=(1,))
    >>> t.apply(image, None, {"flip": (1,)})[0]
    array([[2, 1],
           [4, 3]])
    """

    def __init__(self, axes: Sequence[int] | None = None, *, p: float = 1.0):
        super().__init__(p=p)
        self.axes = None if axes is None else tuple(int(a) for a in axes)
        if self.axes is not None and any(a < 0 for a in self.axes):
            raise ValueError(f"`axes` must be non-negative spatial axes, got {self.axes}")

    def draw(self, rng, shape):
        axes = range(len(shape)) if self.axes is None else self.axes
        for a in axes:
            if not 0 <= a < len(shape):
                raise ValueError(f"`axes` must be spatial axes 0..{len(shape) - 1}, got {a}")
        return {"flip": tuple(a for a in axes if rng.random() < 0.5)}

    def apply(self, image, labels, params, *, channel_axis=None):
        spatial = spatial_axes(image.ndim, channel_axis)
        image_axes = tuple(spatial[a] for a in params["flip"])
        image = np.flip(image, image_axes).copy()
        if labels is not None:
            labels = np.flip(labels, params["flip"]).copy()
        return image, labels


class RandomRot90(Transform):
    """Rotate by a random multiple of 90 degrees in the (row, col) plane (exact).

    Non-square images turn only by 0 or 180 degrees, so that a batch keeps one shape.

    >>> import numpy as np
    >>> RandomRot90().apply(np.array([[1, 2], [3, 4]]), None, {"k": 1})[0]
    array([[2, 4],
           [1, 3]])
    """

    def draw(self, rng, shape):
        square = shape[-1] == shape[-2]
        return {"k": int(rng.integers(4)) if square else 2 * int(rng.integers(2))}

    def apply(self, image, labels, params, *, channel_axis=None):
        spatial = spatial_axes(image.ndim, channel_axis)
        image = np.rot90(image, params["k"], axes=(spatial[-2], spatial[-1])).copy()
        if labels is not None:
            labels = np.rot90(labels, params["k"], axes=(-2, -1)).copy()
        return image, labels


class RandomWarp(Transform):
    """Rotation, translation, zoom, shear and elastic deformation, with a single interpolation.

    A range ``x`` draws from ``(-x, x)``; ``zoom=x`` draws log-uniformly from
    ``(1 / (1 + x), 1 + x)`` (keep it small: zoom changes the apparent nucleus size, a physical
    property, notebook 06). Everything becomes one coordinate map (:func:`warp_coordinates`):
    the image is interpolated once (``order``, ``mode`` as in :func:`resample`), the labels looked
    up once (0 outside); chained transforms would blur twice. A smaller ``output_shape`` crops a
    margin in the same step (:func:`augmented_patch`); ``crop_to_valid`` crops to
    :func:`valid_box` (the shape then varies).

    >>> import numpy as np
    >>> image = np.arange(9.0).reshape(3, 3)
    >>> t = RandomWarp(rotation_deg=(90, 90))
    >>> np.allclose(t(image)[0], np.rot90(image))
    True
    """

    def __init__(
        self,
        *,
        rotation_deg: float | Sequence[float] = 0.0,
        translation_px: float | Sequence[float] = 0.0,
        zoom: float | Sequence[float] = 0.0,
        shear_deg: float | Sequence[float] = 0.0,
        elastic_magnitude_px: float = 0.0,
        elastic_smoothness_px: float = 16.0,
        order: int = 1,
        mode: str = "reflect",
        output_shape: Sequence[int] | None = None,
        crop_to_valid: bool = False,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.rotation_deg = symmetric_range(rotation_deg, "rotation_deg")
        self.translation_px = symmetric_range(translation_px, "translation_px")
        self.zoom = factor_range(zoom, "zoom")
        self.shear_deg = symmetric_range(shear_deg, "shear_deg")
        if not -90 < self.shear_deg[0] <= self.shear_deg[1] < 90:
            raise ValueError(f"`shear_deg` must lie in (-90, 90), got {shear_deg!r}")
        self.elastic_magnitude_px = check_in_range(elastic_magnitude_px, "elastic_magnitude_px", 0)
        self.elastic_smoothness_px = check_in_range(
            elastic_smoothness_px, "elastic_smoothness_px", 0, low_inclusive=False
        )
        self.order = check_choice(order, "order", (0, 1, 3))
        self.mode = check_choice(mode, "mode", tuple(BORDER_MODES))
        self.output_shape = None if output_shape is None else tuple(int(n) for n in output_shape)
        if self.output_shape is not None and (
            len(self.output_shape) != 2 or min(self.output_shape) < 1
        ):
            raise ValueError(f"`output_shape` must be two positive sizes, got {output_shape!r}")
        self.crop_to_valid = bool(crop_to_valid)

    def draw(self, rng, shape):
        out_shape = self.output_shape or tuple(shape[-2:])
        params = {
            "rotation_deg": draw_uniform(rng, self.rotation_deg),
            "zoom": draw_log_uniform(rng, self.zoom),
            "shear_deg": draw_uniform(rng, self.shear_deg),
            "translation_px": (
                draw_uniform(rng, self.translation_px),
                draw_uniform(rng, self.translation_px),
            ),
            "coarse_field": None,
        }
        if self.elastic_magnitude_px > 0:
            params["coarse_field"] = draw_coarse_field(
                out_shape, self.elastic_magnitude_px, self.elastic_smoothness_px, rng
            )
        return params

    def coordinates(self, params: dict, shape: Sequence[int]) -> np.ndarray:
        """Coordinate map of drawn ``params`` for an input of (row, col) shape ``shape``."""
        shape = tuple(shape[-2:])
        out_shape = self.output_shape or shape
        field = params["coarse_field"]
        if field is not None:
            field = upsample_field(field, out_shape, self.elastic_smoothness_px)
        return warp_coordinates(
            shape,
            rotation_deg=params["rotation_deg"],
            translation_px=params["translation_px"],
            zoom=params["zoom"],
            shear_deg=params["shear_deg"],
            displacement=field,
            output_shape=out_shape,
        )

    def apply(self, image, labels, params, *, channel_axis=None):
        shape = spatial_shape(image, channel_axis)
        coords = self.coordinates(params, shape)
        # an integer *image* (camera counts) is interpolated as float and rounded back
        work = image.astype(work_dtype(image.dtype)) if image.dtype.kind in "iub" else image
        work = resample(work, coords, order=self.order, mode=self.mode, channel_axis=channel_axis)
        image = restore_dtype(work, image.dtype)
        if labels is not None:
            labels = resample_labels(labels, coords)
        if self.crop_to_valid:
            box = valid_box(coords, shape[-2:])
            image = image[plane_index(image.ndim, channel_axis, *box)].copy()
            if labels is not None:
                labels = labels[(Ellipsis,) + box].copy()
        return image, labels

    def margin_px(self, patch_shape: Sequence[int]) -> int:
        """Margin (pixels on every side) that a patch needs so the warp never looks outside.

        The worst case of the parameter ranges, plus four standard deviations of the elastic field.

        >>> RandomWarp(rotation_deg=45).margin_px((100, 100))  # 50 * (sqrt(2) - 1) = 20.7
        21
        """
        half = np.array([(n - 1) / 2 for n in patch_shape[-2:]])
        corners = np.array([[sr * half[0], sc * half[1]] for sr in (-1, 1) for sc in (-1, 1)])
        lo, hi = self.rotation_deg
        angles = np.unique(np.concatenate([np.linspace(lo, hi, 181), np.arange(-360, 361, 45)]))
        angles = angles[(angles >= lo) & (angles <= hi)]
        t = max(abs(v) for v in self.translation_px)
        zoom = self.zoom[0]  # the smallest zoom shows the largest input region
        reach = np.zeros(2)
        for angle in angles:
            for shear in set(self.shear_deg):
                matrix = inverse_affine(angle, zoom, shear)
                for shift in ([-t, -t], [-t, t], [t, -t], [t, t]):
                    offsets = (corners - np.array(shift)) @ matrix.T
                    reach = np.maximum(reach, np.abs(offsets).max(axis=0))
        margin = reach - half + 4 * self.elastic_magnitude_px
        return int(math.ceil(max(margin.max(), 0.0) - 1e-9))

    # -- the same warp on a batch of tensors, on any device ------------------------------------

    def batch_torch(
        self,
        images: Any,
        labels: Any = None,
        *,
        rng: Any = None,
        device: str | torch.device | None = None,
        params: Sequence[dict] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Warp a batch ``(B, C, H, W)`` (and labels ``(B, H, W)``) on ``device``.

        Each sample gets its own parameters (drawn on the CPU as in the numpy path, or given
        as ``params``, ``None`` entries unchanged); images go through ``grid_sample``, labels
        are looked up at the rounded coordinates like :func:`resample_labels`. Cubic differs
        slightly from scipy's (cubic convolution vs B-spline); no ``crop_to_valid`` here.

        >>> import torch
        >>> images = torch.rand(2, 1, 32, 32)
        >>> out, _ = RandomWarp(rotation_deg=180).batch_torch(images, rng=0, device="cpu")
        >>> tuple(out.shape)
        (2, 1, 32, 32)
        """
        device = get_device(device)
        images = torch.as_tensor(images).to(device)
        if images.ndim != 4 or not images.is_floating_point():
            raise ValueError(
                f"`images` must be a float (B, C, H, W) batch, got shape {tuple(images.shape)} "
                f"and dtype {images.dtype}"
            )
        if not torch.isfinite(images).all():
            raise ValueError("`images` must contain only finite values")
        batch, _, rows, cols = images.shape
        if labels is not None:
            labels = torch.as_tensor(labels).to(device)
            label_shape = tuple(labels.shape)
            if labels.is_floating_point() or labels.is_complex():
                raise TypeError(
                    f"`labels` must be an integer label batch, got dtype {labels.dtype}"
                )
            if labels.ndim == 4 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if tuple(labels.shape) != (batch, rows, cols):
                raise ValueError(
                    f"`labels` must have shape {(batch, rows, cols)} or {(batch, 1, rows, cols)}, "
                    f"got {label_shape}"
                )
        if self.crop_to_valid:
            raise ValueError("`crop_to_valid` is not supported by batch_torch")
        if params is None:
            rng = as_rng(rng)
            params = [
                self.draw(rng, (rows, cols)) if rng.random() < self.p else None
                for _ in range(batch)
            ]
        if len(params) != batch:
            raise ValueError(f"`params` must hold {batch} entries, got {len(params)}")
        coords = torch.stack(
            [self._coordinates_torch(prm, (rows, cols), device) for prm in params]
        )  # (B, 2, H_out, W_out)

        # grid_sample wants (x, y) = (col, row) normalised to [-1, 1] at the image's outer
        # pixel edges (align_corners=False): pixel i has its centre at (2 i + 1) / n - 1.
        grid = torch.stack(
            [(2 * coords[:, 1] + 1) / cols - 1, (2 * coords[:, 0] + 1) / rows - 1], dim=-1
        )
        mode = {0: "nearest", 1: "bilinear", 3: "bicubic"}[self.order]
        out = F.grid_sample(
            images,
            grid.to(images.dtype),
            mode=mode,
            padding_mode=TORCH_PADDING[self.mode],
            align_corners=False,
        )
        out_labels = None
        if labels is not None:
            r = torch.round(coords[:, 0]).long()
            c = torch.round(coords[:, 1]).long()
            outside = (r < 0) | (r >= rows) | (c < 0) | (c >= cols)
            flat = torch.where(outside, torch.zeros_like(r), r * cols + c).flatten(1)
            looked_up = torch.gather(labels.flatten(1), 1, flat).view_as(r)
            out_labels = torch.where(outside, torch.zeros_like(looked_up), looked_up)
            if len(label_shape) == 4:
                out_labels = out_labels[:, None]
        return out, out_labels

    def _coordinates_torch(self, params, shape, device) -> torch.Tensor:
        """Torch twin of :meth:`coordinates`: same formula, computed on ``device``."""
        out_shape = self.output_shape or tuple(shape)
        if params is None:  # not applied: identity map
            params = _IDENTITY_WARP

        def to_device(a):
            return torch.as_tensor(a, device=device)

        names = ("rotation_deg", "translation_px", "zoom", "shear_deg")
        affine = [params[name] for name in names]
        coords = affine_coordinates(shape, out_shape, *affine, to_device)
        if params["coarse_field"] is not None:
            field = upsample_field(
                to_device(params["coarse_field"]), out_shape, self.elastic_smoothness_px, to_device
            )
            coords = coords + field
        return coords


_IDENTITY_WARP = {
    "rotation_deg": 0.0,
    "zoom": 1.0,
    "shear_deg": 0.0,
    "translation_px": (0.0, 0.0),
    "coarse_field": None,
}


class RandomElastic(RandomWarp):
    """Elastic deformation: a smooth random displacement field (a :class:`RandomWarp`).

    ``options``: ``order``, ``mode``, ``output_shape``, ``crop_to_valid``, ``p``.

    >>> import numpy as np
    >>> labels = np.zeros((32, 32), dtype=np.uint8)
    >>> labels[8:24, 8:24] = 5
    >>> _, out = RandomElastic(magnitude_px=2, smoothness_px=8)(np.zeros((32, 32)), labels, rng=0)
    >>> np.unique(out).tolist()
    [0, 5]
    """

    def __init__(self, *, magnitude_px: float = 4.0, smoothness_px: float = 16.0, **options: Any):
        super().__init__(
            elastic_magnitude_px=magnitude_px, elastic_smoothness_px=smoothness_px, **options
        )
