"""The classic catalogue of bad inputs, walked over every public function that takes arrays.

Each function is called once with good inputs (the baseline), then with one array argument
replaced by a variant from the catalogue. Three kinds of variants:

- *the same values in another layout* (non-contiguous, big-endian, a nested list): the result
  must equal the baseline's (a list may instead be refused with an error naming the argument);
- *invalid* values (wrong number of dimensions, complex, object or text dtype, empty, NaN or
  infinite pixels, float or negative labels, shapes that do not match): a ``ValueError`` or
  ``TypeError`` whose message names the argument in backticks, unless the case documents the
  variant as valid (``valid=``), when any result is fine;
- *edge* values (a 1x1 image, a boolean image): a result, or such an error.

No variant may end in any other exception (an ``IndexError`` deep inside, a raw numpy or torch
message): that is what the catalogue is for.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from bioimage_course import (  # noqa: E402  # noqa: E402
    classical,
    classify,
    filters,
    labels,
    losses,
    metrics,
    normalize,
    patches,
    pixels,
    plot,
    postprocess,  # noqa: E402
    predict,
    restoration,
    tasks,
)
from bioimage_course.augment import (  # noqa: E402
    RandomFlip,
    augmented_patch,
    resample,
    resample_labels,
    warp_coordinates,  # noqa: E402
)
from bioimage_course.data import image_hash, make_nuclei  # noqa: E402
from bioimage_course.domain_shift import segment_fixed_range  # noqa: E402
from bioimage_course.metrics import temporal  # noqa: E402
from bioimage_course.models import UNet  # noqa: E402
from bioimage_course.nuclei import estimate_diameter, segment_nuclei  # noqa: E402
from bioimage_course.routes import rescale_image, resize_labels  # noqa: E402

SHAPE = (24, 24)
IMAGE, LABELS = make_nuclei(SHAPE, rng=0, n_nuclei=3)
IMAGE = normalize.normalize_percentile(IMAGE)
OTHER = np.roll(LABELS, 2, axis=1)
KERNEL = filters.gaussian_kernel(1.0)
COORDS = warp_coordinates(SHAPE, rotation_deg=20)
torch.manual_seed(0)
MODEL = UNet(depth=1, base_channels=2).eval()
MODEL_3CLASS = UNet(depth=1, base_channels=2, out_channels=3).eval()
CLASSES = {int(i): 1 for i in np.unique(LABELS)}
MOVIE = np.stack([LABELS, OTHER, LABELS])


@dataclass
class Case:
    """``func(**args)``; ``arrays`` maps each array argument to its kind (image, labels, mask)."""

    func: Callable
    args: dict
    arrays: dict[str, str]
    valid: set[str] = field(default_factory=set)  # variants documented as valid input

    @property
    def name(self) -> str:
        return f"{self.func.__module__.split('.', 1)[1]}.{self.func.__name__}"


# Documented valid inputs: pixel-wise operations work on arrays of any shape; filters and
# displays pass NaN and infinities through as scipy and matplotlib do (a NaN pixel shows empty).
ANY_SHAPE = {"ndim1", "ndim5"}
NAN_PROPAGATES = {"nan", "inf"}
IMAGE_AND_KERNEL = {"image": "image", "kernel": "kernel"}
PAIR = {"y_true": "labels", "y_pred": "labels"}
MASKS = {"mask_a": "mask", "mask_b": "mask"}
IMAGES = {"image_true": "image", "image_test": "image"}
TWO_IMAGES = {"image_true": IMAGE, "image_test": IMAGE * 0.9}

CASES = [
    Case(classical.threshold_segment, {"image": IMAGE}, {"image": "image"}),
    Case(filters.correlate, {"image": IMAGE, "kernel": KERNEL}, IMAGE_AND_KERNEL, NAN_PROPAGATES),
    Case(filters.convolve, {"image": IMAGE, "kernel": KERNEL}, IMAGE_AND_KERNEL, NAN_PROPAGATES),
    Case(filters.correlate_naive, {"image": IMAGE[:8, :8], "kernel": KERNEL}, {"image": "image"},
         NAN_PROPAGATES),
    Case(filters.pad, {"image": IMAGE, "pad_width": 2}, {"image": "image"},
         NAN_PROPAGATES | {"ndim1"}),
    Case(filters.gradient_magnitude, {"image": IMAGE}, {"image": "image"}, NAN_PROPAGATES),
    Case(normalize.normalize_percentile, {"x": IMAGE}, {"x": "image"}, ANY_SHAPE),
    Case(normalize.normalize_minmax, {"x": IMAGE}, {"x": "image"}, ANY_SHAPE),
    Case(normalize.standardize, {"x": IMAGE}, {"x": "image"}, ANY_SHAPE),
    Case(normalize.percentile_range, {"x": IMAGE}, {"x": "image"}, ANY_SHAPE),
    Case(pixels.quantize, {"image": IMAGE, "bits": 4}, {"image": "image"}, ANY_SHAPE),
    Case(pixels.apply_lut, {"image": IMAGE, "vmin": 0.1, "vmax": 0.8}, {"image": "image"},
         ANY_SHAPE),
    Case(resample, {"image": IMAGE, "coords": COORDS}, {"image": "image"}, {"ndim5"}),
    Case(resample_labels, {"labels": LABELS, "coords": COORDS}, {"labels": "labels"}),
    Case(augmented_patch,
         {"image": IMAGE, "labels": LABELS, "patch_size": 8, "transform": RandomFlip(), "rng": 0},
         {"image": "image", "labels": "labels"}),
    Case(losses.separated_mask, {"labels": LABELS}, {"labels": "labels"}),
    Case(losses.unet_weight_map, {"labels": LABELS}, {"labels": "labels"}),
    Case(labels.relabel_sequential, {"labels": LABELS}, {"labels": "labels"}, ANY_SHAPE),
    Case(metrics.matching, {"y_true": LABELS, "y_pred": OTHER}, PAIR),
    Case(metrics.overlap_matrix, {"y_true": LABELS, "y_pred": OTHER}, PAIR),
    Case(metrics.pixel_scores, {"y_true": LABELS > 0, "y_pred": OTHER > 0},
         {"y_true": "mask", "y_pred": "mask"}),
    Case(metrics.hausdorff_distance, {"mask_a": LABELS > 0, "mask_b": OTHER > 0}, MASKS),
    Case(metrics.boundary, {"mask": LABELS > 0}, {"mask": "mask"}),
    Case(metrics.mse, TWO_IMAGES, IMAGES),
    Case(metrics.mae, TWO_IMAGES, IMAGES),
    Case(metrics.psnr, {**TWO_IMAGES, "data_range": 1.0}, IMAGES),
    Case(metrics.ssim, {**TWO_IMAGES, "data_range": 1.0}, IMAGES),
    Case(metrics.count_objects, {"labels": LABELS}, {"labels": "labels"}, ANY_SHAPE),
    Case(metrics.object_measurements, {"labels": LABELS, "image": IMAGE, "pixel_size_um": 0.5},
         {"labels": "labels", "image": "image"}),
    Case(metrics.object_density, {"labels": LABELS, "pixel_size_um": 0.5}, {"labels": "labels"}),
    Case(patches.center_crop, {"array": IMAGE, "size": 8}, {"array": "image"},
         {"ndim5", "complex", "object", "text", "nan", "inf"}),  # any array: it only slices
    Case(predict.predict_image, {"model": MODEL, "image": IMAGE}, {"image": "image"}),
    Case(predict.predict_tiled, {"model": MODEL, "image": IMAGE, "tile": 16, "overlap": 4},
         {"image": "image"}),
    Case(predict.instances_from_probability, {"probability": IMAGE}, {"probability": "image"}),
    Case(image_hash, {"image": IMAGE}, {"image": "image"}, ANY_SHAPE | NAN_PROPAGATES | {"empty"}),
    Case(plot.show, {"image": IMAGE}, {"image": "image"}, NAN_PROPAGATES),
    Case(plot.overlay_labels, {"image": IMAGE, "labels": LABELS},
         {"image": "image", "labels": "labels"}, NAN_PROPAGATES),
    Case(plot.histogram, {"image": IMAGE}, {"image": "image"}, ANY_SHAPE),
    Case(postprocess.three_class_target, {"labels": LABELS}, {"labels": "labels"}),
    Case(postprocess.distance_target, {"labels": LABELS}, {"labels": "labels"}),
    Case(postprocess.median_diameter, {"labels": LABELS}, {"labels": "labels"}),
    Case(postprocess.remove_small, {"labels": LABELS, "min_size": 3}, {"labels": "labels"},
         ANY_SHAPE),
    Case(postprocess.instances_from_distance, {"distance": IMAGE * 5, "foreground": IMAGE},
         {"distance": "image", "foreground": "image"}),
    Case(rescale_image, {"image": IMAGE, "factor": 0.5}, {"image": "image"}),
    Case(resize_labels, {"labels": LABELS, "shape": (12, 12)}, {"labels": "labels"}),
    Case(estimate_diameter, {"image": IMAGE}, {"image": "image"}),
    Case(segment_nuclei, {"image": IMAGE, "diameter_px": 8.0, "model": MODEL_3CLASS},
         {"image": "image"}),
    Case(tasks.regions, {"labels": LABELS}, {"labels": "labels"}, ANY_SHAPE),
    Case(tasks.is_partition, {"stack": tasks.regions(LABELS)}, {"stack": "mask"},
         {"ndim5", "complex", "object", "text"}),  # any stack of masks; nonzero counts
    Case(tasks.bounding_boxes, {"labels": LABELS}, {"labels": "labels"}),
    Case(tasks.centroids, {"labels": LABELS}, {"labels": "labels"}),
    Case(tasks.semantic_labels, {"labels": LABELS, "classes": CLASSES}, {"labels": "labels"}),
    Case(tasks.panoptic_labels, {"labels": LABELS, "classes": CLASSES}, {"labels": "labels"}),
    Case(classify.object_crops, {"image": IMAGE, "labels": LABELS, "size": 6},
         {"image": "image", "labels": "labels"}),
    Case(restoration.denoise, {"model": torch.nn.Conv2d(1, 1, 3, padding=1), "image": IMAGE},
         {"image": "image"}),
    Case(temporal.temporal_consistency, {"movie": MOVIE}, {"movie": "labels"}),
    Case(temporal.complete_tracks, {"true_movie": MOVIE, "pred_movie": MOVIE},
         {"true_movie": "labels", "pred_movie": "labels"}),
    Case(segment_fixed_range, {"model": MODEL_3CLASS, "image": IMAGE}, {"image": "image"}),
]  # fmt: skip

# variant -> (kind of argument it applies to, what it does to the array)
LAYOUT = {
    "noncontiguous": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
    "bigendian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "list": lambda a: a.tolist(),
}
INVALID = {
    "ndim1": lambda a: a.ravel(),
    "ndim5": lambda a: a.reshape((1, 1, 1) + a.shape),
    "complex": lambda a: a.astype(np.complex64),
    "object": lambda a: a.astype(object),
    "text": lambda a: a.astype(str),
    "empty": lambda a: a[:0],
    "mismatched": lambda a: a[:-3],
}
IMAGE_ONLY = {
    "nan": lambda a: np.where(
        np.arange(a.size).reshape(a.shape) == 5, np.nan, a.astype(np.float32)
    ),
    "inf": lambda a: np.where(
        np.arange(a.size).reshape(a.shape) == 5, np.inf, a.astype(np.float32)
    ),
}
LABELS_ONLY = {
    "labels_float": lambda a: a.astype(np.float32) + 0.5 * (a > 0),
    "labels_negative": lambda a: a.astype(np.int32) - 1,
}
EDGE = {
    "1x1": lambda a: a[:1, :1],
    "bool": lambda a: a > a.mean(),
}


def _variants(case: Case):
    for arg, kind in case.arrays.items():
        table = {**LAYOUT, **INVALID, **EDGE}
        if kind == "image":
            table |= IMAGE_ONLY
        if kind == "labels":
            table |= LABELS_ONLY
        for variant in table:
            same_shape = [a for a, k in case.arrays.items() if k != "kernel"]
            if variant == "mismatched" and (len(same_shape) < 2 or kind == "kernel"):
                continue
            if variant == "labels_negative" and case.args[arg].dtype.kind == "b":
                continue
            yield pytest.param(case, arg, variant, id=f"{case.name}-{arg}-{variant}")


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        a, b = a.detach().numpy(), b.detach().numpy()
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(a, float):
        return a == b or (np.isnan(a) and np.isnan(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, str, bool, np.number, type(None))):
        return a == b
    return True  # figures, axes: only the absence of errors is checked


def _call(case: Case, **override):
    plt.close("all")
    try:
        return case.func(**{**case.args, **override})
    finally:
        plt.close("all")


@pytest.mark.parametrize("case, arg, variant", [p for c in CASES for p in _variants(c)])
def test_catalogue(case, arg, variant):
    original = case.args[arg]
    table = {**LAYOUT, **INVALID, **EDGE, **IMAGE_ONLY, **LABELS_ONLY}
    bad = table[variant](original)
    try:
        result = _call(case, **{arg: bad})
    except (ValueError, TypeError) as err:
        message = str(err)
        names = inspect.signature(case.func).parameters
        assert any(f"`{name}" in message for name in names), (
            f"{case.name}({arg}={variant}): the error names no argument: {message}"
        )
        assert variant not in LAYOUT or variant == "list", f"{case.name} refused a {variant} array"
        return
    except Exception as err:  # noqa: BLE001 (the point: no other kind of error)
        pytest.fail(f"{case.name}({arg}={variant}) raised {type(err).__name__}: {err}")
    if variant in LAYOUT:
        # a nested list holds the same values, in Python's types (float64, int64)
        expected = _call(case, **{arg: np.array(bad)}) if variant == "list" else _call(case)
        assert _same(expected, result), f"{case.name}: a {variant} array changed the result"
    elif variant in INVALID or variant in IMAGE_ONLY or variant in LABELS_ONLY:
        assert variant in case.valid, f"{case.name} accepted {arg}={variant} without an error"
