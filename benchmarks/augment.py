"""Benchmark: elastic deformation + rotation of 512 x 512 (image, labels) pairs, ours vs peers.

Measures, in the same run and on the same synthetic nuclei pair:

- ours (numpy): ``bioimage_course.augment.RandomWarp`` with rotation and elastic field, one
  resampling with scipy (linear for the image, nearest for the labels);
- ours (torch): the same warp through ``RandomWarp.batch_torch`` (grid_sample) on a batch;
- albumentations: ``Rotate`` + ``ElasticTransform`` (OpenCV), if installed;
- MONAI: ``Rand2DElasticd`` with a rotation range (torch), if installed.

Throughput is reported as pairs per second (best of several repeats) and as a ratio to ours.
Label integrity is checked for every method: output ids must be a subset of the input ids
(no interpolated labels), and the script counts ids that appear as more than one connected
piece, which reveals reflected copies of objects at the border.

Usage::

    pip install albumentations monai   # optional peers
    python benchmarks/augment.py [--size 512] [--pairs 40] [--repeats 3] [--device cpu]

Peers that are not installed are skipped with a message; the script always exits 0.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from scipy import ndimage as ndi

from bioimage_course.augment import RandomWarp
from bioimage_course.data import make_nuclei
from bioimage_course.normalize import normalize_percentile

ROTATION_DEG = 180.0
MAGNITUDE_PX = 5.0  # standard deviation of the elastic displacement
SMOOTHNESS_PX = 10.0  # Gaussian smoothing of the displacement field


def make_pair(size: int) -> tuple[np.ndarray, np.ndarray]:
    image, labels = make_nuclei((size, size), preset="crowded", rng=0)
    return normalize_percentile(image), labels.astype(np.int32)


def integrity(pairs, labels_in: np.ndarray) -> tuple[bool, int]:
    """(ids are a subset of the input's, number of ids split into several pieces)."""
    allowed = set(np.unique(labels_in).tolist()) | {0}
    subset = all(set(np.unique(lab).tolist()) <= allowed for _, lab in pairs)
    split = 0
    for _, lab in pairs[:5]:
        objects = ndi.find_objects(lab)
        for i, box in enumerate(objects, start=1):
            if box is not None and ndi.label(lab[box] == i, structure=np.ones((3, 3)))[1] > 1:
                split += 1
    return subset, split


def timed_rounds(methods: dict, n_pairs: int, repeats: int) -> dict:
    """Best pairs/s of each method; methods take turns, so load changes hit all of them alike."""
    for run in methods.values():
        run(2)  # warm-up (imports, caches, thread pools)
    best = dict.fromkeys(methods, math.inf)
    outputs = {}
    for _ in range(repeats):
        for name, run in methods.items():
            start = time.perf_counter()
            outputs[name] = run(n_pairs)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: (n_pairs / best[name], outputs[name]) for name in methods}


def ours_numpy(image, labels):
    warp = RandomWarp(
        rotation_deg=ROTATION_DEG,
        elastic_magnitude_px=MAGNITUDE_PX,
        elastic_smoothness_px=SMOOTHNESS_PX,
    )
    rng = np.random.default_rng(0)
    return lambda n: [warp(image, labels, rng=rng) for _ in range(n)]


def ours_torch(image, labels, device, batch=8):
    warp = RandomWarp(
        rotation_deg=ROTATION_DEG,
        elastic_magnitude_px=MAGNITUDE_PX,
        elastic_smoothness_px=SMOOTHNESS_PX,
    )
    rng = np.random.default_rng(0)
    images = torch.from_numpy(np.stack([image] * batch)[:, None]).to(device)
    label_batch = torch.from_numpy(np.stack([labels] * batch)).to(device)

    def run(n):
        outputs = []
        for start in range(0, n, batch):
            k = min(batch, n - start)
            out, out_labels = warp.batch_torch(images[:k], label_batch[:k], rng=rng, device=device)
            outputs.append((out, out_labels))
        if device.type == "cuda":
            torch.cuda.synchronize()
        return [
            (o[i, 0].cpu().numpy(), lab[i].cpu().numpy())
            for o, lab in outputs
            for i in range(o.shape[0])
        ]

    return run


def albumentations_peer(image, labels):
    try:
        import albumentations as A
        import cv2
    except ImportError:
        return None
    # albumentations scales noise normalised by its maximum, blurs it and multiplies by alpha:
    # the displacement std is alpha / max|noise| / (2 sqrt(pi) sigma).
    n = image.size
    max_noise = math.sqrt(2 * math.log(2 * n))
    alpha = MAGNITUDE_PX * max_noise * 2 * math.sqrt(math.pi) * SMOOTHNESS_PX
    pipeline = A.Compose(
        [
            A.Rotate(limit=ROTATION_DEG, border_mode=cv2.BORDER_REFLECT, p=1.0),
            A.ElasticTransform(
                alpha=alpha, sigma=SMOOTHNESS_PX, border_mode=cv2.BORDER_REFLECT, p=1.0
            ),
        ],
        seed=0,
    )

    def run(k):
        outs = [pipeline(image=image, mask=labels) for _ in range(k)]
        return [(o["image"], o["mask"]) for o in outs]

    return run


def monai_peer(image, labels):
    try:
        from monai.transforms import Rand2DElasticd
    except ImportError:
        return None
    # MONAI displaces control points spaced `spacing` apart by a smoothed random field whose
    # amplitude is `magnitude_range`, then upsamples; one resampling, like ours.
    transform = Rand2DElasticd(
        keys=("image", "label"),
        spacing=(SMOOTHNESS_PX, SMOOTHNESS_PX),
        magnitude_range=(MAGNITUDE_PX, MAGNITUDE_PX),
        rotate_range=(math.radians(ROTATION_DEG),),
        prob=1.0,
        mode=("bilinear", "nearest"),
        padding_mode=("reflection", "zeros"),
    )
    transform.set_random_state(seed=0)
    data = {"image": image[None], "label": labels[None]}

    def run(k):
        outs = [transform(data) for _ in range(k)]
        return [
            (np.asarray(o["image"])[0], np.asarray(o["label"])[0].astype(np.int32)) for o in outs
        ]

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="device for the torch path")
    args = parser.parse_args()

    image, labels = make_pair(args.size)
    device = torch.device(args.device)
    print(
        f"{args.size}x{args.size} image (float32) + labels (int32, {labels.max()} nuclei); "
        f"rotation +-{ROTATION_DEG:g} deg, elastic {MAGNITUDE_PX:g} px / {SMOOTHNESS_PX:g} px; "
        f"torch threads {torch.get_num_threads()}"
    )
    methods = {
        "ours (numpy, scipy)": ours_numpy(image, labels),
        f"ours (torch, {device.type}, batch 8)": ours_torch(image, labels, device),
        "albumentations (Rotate + ElasticTransform)": albumentations_peer(image, labels),
        "MONAI (Rand2DElasticd)": monai_peer(image, labels),
    }
    available = {}
    for name, run in methods.items():
        if run is None:
            print(f"{name}: not installed, skipped (pip install it to compare)")
        else:
            available[name] = run
    results = {}
    for name, (rate, outputs) in timed_rounds(available, args.pairs, args.repeats).items():
        subset, split = integrity(outputs, labels)
        results[name] = rate
        print(
            f"{name:44s} {rate:7.1f} pairs/s   label ids subset of input: {subset}   "
            f"ids in >1 piece (5 pairs): {split}"
        )
    ours = results["ours (numpy, scipy)"]
    print()
    for name, rate in results.items():
        if not name.startswith("ours (numpy"):
            print(f"ours (numpy) / {name}: {ours / rate:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
