"""Transfer learning: start from a pretrained network, or from scratch, and train on a few images.

Introduced in notebook 09 (generalization). The lecture's small-data argument: a network that
has already learned what nuclei look like (here: on synthetic nuclei) needs only a few labelled
images of a new microscope to adapt, where the same network trained from random weights on
those few images has little to learn from. :func:`train_nuclei` does both, with the same data,
steps and augmentation, so that the only difference is where the weights start, and reports
the cost in CPU seconds.

The networks of notebook 09 ship with the package (``bioimage_course/weights``); this module
holds their recipes and the command that reproduces them::

    python -m bioimage_course.transfer synthetic bioimage_course/weights
    python -m bioimage_course.transfer widezoom bioimage_course/weights
    python -m bioimage_course.transfer finetuned bioimage_course/weights

- ``synthetic``: a small 3-class U-Net trained on synthetic nuclei only (never a real image),
  each image rescaled so that its nuclei are 20 pixels across; the usual zoom of 0.7-1.4x;
- ``widezoom``: the same, with a zoom of 0.35-2.8x, augmentation matched to the largest shift
  between microscopes, the size of the nuclei in pixels;
- ``finetuned``: the course's pretrained model (:func:`bioimage_course.load_pretrained`)
  fine-tuned on the 40 real training images of ``data/real``.

Examples
--------
>>> sorted(RECIPES)
['finetuned', 'synthetic', 'widezoom']
>>> RECIPES["synthetic"]["architecture"]
{'in_channels': 1, 'out_channels': 3, 'depth': 3, 'base_channels': 8}
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ._files import temporary_file
from ._validate import check_choice, check_in_range
from .models import UNet
from .pretrain import write_card
from .routes import (
    ROUTES,
    TRAINING_DIAMETER_PX,
    default_augmentation,
    mixed_training_pairs,
    to_training_scale,
)

__all__ = [
    "RECIPES",
    "TrainingRun",
    "train_nuclei",
    "learning_curve",
    "save_nuclei_model",
    "shipped_weights",
    "card",
    "recipe_pairs",
    "train_recipe",
]

_SYNTHETIC = {
    "start": "random weights",
    "architecture": {"in_channels": 1, "out_channels": 3, "depth": 3, "base_channels": 8},
    "training_diameter_px": TRAINING_DIAMETER_PX,
    "real_images": 0,
    "n_synthetic": 32,
    "synthetic_shape": [256, 256],
    "patch_size": 96,
    "batch_size": 8,
    "steps": 1000,
    "lr": 3e-3,
    "epochs": 4,
    "zoom": [0.7, 1.4],
    "seed": 0,
}
RECIPES: dict[str, dict[str, Any]] = {
    "synthetic": {**_SYNTHETIC, "file": "nuclei_unet_synthetic.pt"},
    "widezoom": {**_SYNTHETIC, "zoom": [0.35, 2.8], "file": "nuclei_unet_widezoom.pt"},
    "finetuned": {
        "start": "nuclei_unet.pt (the course's pretrained model)",
        "architecture": {"in_channels": 1, "out_channels": 3, "depth": 3, "base_channels": 16},
        "training_diameter_px": TRAINING_DIAMETER_PX,
        "real_images": 40,
        "n_synthetic": 0,
        "patch_size": 112,
        "batch_size": 8,
        "steps": 300,
        "lr": 5e-4,
        "epochs": 3,
        "zoom": [0.7, 1.4],
        "seed": 0,
        "file": "nuclei_unet_finetuned.pt",
    },
}


class TrainingRun(NamedTuple):
    """A trained model, its loss history and what training cost."""

    model: UNet
    history: Any  # bioimage_course.training.History
    cpu_seconds: float  # CPU time of this process while training (all threads)
    wall_seconds: float


def train_nuclei(
    pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    model: torch.nn.Module | None = None,
    steps: int = 40,
    patch_size: int = 64,
    batch_size: int = 4,
    lr: float = 1e-3,
    epochs: int = 1,
    zoom: tuple[float, float] = (0.7, 1.4),
    architecture: dict[str, int] | None = None,
    seed: int = 0,
    device: Any = None,
    progress: bool = False,
) -> TrainingRun:
    """Train a 3-class nuclei U-Net on (image, labels) pairs: fine-tune ``model`` or from scratch.

    Parameters
    ----------
    pairs : list of (image, labels)
        Normalised images at the training scale with their instance labels
        (:func:`bioimage_course.routes.to_training_scale`).
    model : torch.nn.Module, optional
        The starting point, e.g. :func:`bioimage_course.load_pretrained`; it is copied, never
        changed. ``None``: random weights (from scratch) with ``architecture``.
    steps, patch_size, batch_size, lr, epochs :
        ``steps`` optimiser steps of ``batch_size`` augmented patches, Adam with a one-cycle
        schedule peaking at ``lr``.
    zoom : (float, float)
        The range of the random zoom of the augmentation.
    architecture : dict, optional
        ``UNet`` arguments when training from scratch (default: those of ``model``, or depth 3
        and 8 base channels).
    seed : int
        Seeds the patches, the augmentation and (from scratch) the initial weights.

    Returns
    -------
    TrainingRun
        ``(model, history, cpu_seconds, wall_seconds)``; the model in eval mode, with
        ``training_diameter_px`` and ``route`` set like the shipped model's.

    Examples
    --------
    >>> from bioimage_course.data import make_nuclei
    >>> image, labels = make_nuclei((96, 96), rng=0)
    >>> run = train_nuclei([to_training_scale(image, labels, min_shape=64)], steps=2)
    >>> run.model.route, len(run.history.train_loss), run.cpu_seconds > 0
    ('three_class', 1, True)
    """
    from .data import PairDataset
    from .training import fit

    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise ValueError(f"`pairs` must be a non-empty list of (image, labels), got {pairs!r:.60}")
    steps = int(check_in_range(steps, "steps", 1))
    epochs = max(1, min(int(epochs), steps))
    if model is None:
        config = {"in_channels": 1, "out_channels": 3, "depth": 3, "base_channels": 8}
        config.update(architecture or {})
        if config["out_channels"] != 3:
            raise ValueError(f"`architecture` must have out_channels=3, got {architecture}")
        torch.manual_seed(seed)
        net = UNet(**config)
        diameter = TRAINING_DIAMETER_PX
    else:
        if not isinstance(model, UNet) or model.out_channels != 3:
            raise TypeError(f"`model` must be a 3-class UNet (or None), got {type(model).__name__}")
        net = copy.deepcopy(model).train()
        diameter = float(getattr(model, "training_diameter_px", TRAINING_DIAMETER_PX))
    route = ROUTES["three_class"]
    data = PairDataset(
        [image for image, _ in pairs],
        [labels for _, labels in pairs],
        patch_size=patch_size,
        foreground_prob=0.8,
        patches_per_image=max(1, round(steps * batch_size / (epochs * len(pairs)))),
        transform=default_augmentation(zoom=tuple(zoom)),
        target=route.target,
        seed=seed,
    )
    cpu, wall = time.process_time(), time.perf_counter()
    history = fit(
        net, data, None, epochs=epochs, batch_size=batch_size, lr=lr, optimizer="adam",
        loss=route.loss, schedule="onecycle", restore_best=False, seed=seed, device=device,
        progress=progress, plot=False,
    )  # fmt: skip
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    net = net.cpu().eval()
    net.route, net.training_diameter_px = route.name, diameter
    return TrainingRun(net, history, cpu, wall)


def learning_curve(
    train_pairs: list[tuple[np.ndarray, np.ndarray]],
    test_pairs: list[tuple[np.ndarray, np.ndarray]],
    *,
    pretrained: torch.nn.Module,
    n_images: tuple[int, ...] = (1, 2, 4, 8),
    diameters: list[float] | None = None,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> list[dict[str, Any]]:
    """F1 on ``test_pairs`` after training on the first n of ``train_pairs``, two ways.

    For every n in ``n_images``: fine-tune ``pretrained`` on the first n training pairs, and
    train the same architecture from random weights on them, with the same steps, patches and
    augmentation (``options``: :func:`train_nuclei`'s). Both are scored on the raw test
    images at the nucleus sizes ``diameters`` (default: estimated per image).

    Returns
    -------
    list of dict
        One row per (n, start): ``n_images``, ``start`` ("pretrained" or "scratch"), ``f1``,
        ``dsb`` (pooled :func:`bioimage_course.routes.instance_scores`) and ``cpu_seconds``.
    """
    from tqdm.auto import tqdm

    from .nuclei import estimate_diameter
    from .routes import instance_scores, segment_with

    if not n_images or max(n_images) > len(train_pairs) or min(n_images) < 1:
        raise ValueError(
            f"`n_images` must be between 1 and len(train_pairs) = {len(train_pairs)}, "
            f"got {n_images}"
        )
    if diameters is None:
        diameters = [estimate_diameter(image) for image, _ in test_pairs]
    truths = [labels for _, labels in test_pairs]
    options.setdefault("architecture", dict(pretrained.config))
    rows = []
    runs = [(n, start) for n in n_images for start in ("pretrained", "scratch")]
    for n, start in tqdm(runs, desc="learning curve", disable=not progress):
        model = pretrained if start == "pretrained" else None
        run = train_nuclei(list(train_pairs[:n]), model=model, seed=seed, **options)
        predictions = [
            segment_with(run.model, "three_class", image, diameter_px=d)
            for (image, _), d in zip(test_pairs, diameters, strict=True)
        ]
        scores = instance_scores(truths, predictions)
        rows.append({"n_images": n, "start": start, "f1": scores.f1, "dsb": scores.dsb,
                     "cpu_seconds": run.cpu_seconds, "model": run.model})  # fmt: skip
    return rows


def save_nuclei_model(
    model: torch.nn.Module, path: str | Path, *, overwrite: bool = False, half: bool = True
) -> Path:
    """Write ``model`` as a nuclei checkpoint that :func:`bioimage_course.load_pretrained` reads.

    The file holds the architecture (``model.config``), the training scale and the weights
    (float16 with ``half=True``: half the size, the same segmentations), written atomically;
    an existing file raises ``FileExistsError`` unless ``overwrite=True``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"`path` {str(path)!r} exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"`path`: folder {str(path.parent)!r} does not exist")
    state = {
        k: v.half() if half and v.is_floating_point() else v for k, v in model.state_dict().items()
    }
    checkpoint = {
        "config": dict(model.config),
        "training_diameter_px": float(getattr(model, "training_diameter_px", 20.0)),
        "state_dict": state,
    }
    buffer = io.BytesIO()  # the same bytes for the same weights, whatever the file's name
    torch.save(checkpoint, buffer)
    tmp = temporary_file(path.parent, path.name)
    try:
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def shipped_weights(name: str) -> Path:
    """Path of a model of notebook 09 that ships with the package: a key of :data:`RECIPES`.

    >>> shipped_weights("synthetic").name
    'nuclei_unet_synthetic.pt'
    """
    check_choice(name, "name", RECIPES)
    folder = resources.files("bioimage_course").joinpath("weights")
    return Path(str(folder.joinpath(RECIPES[name]["file"])))


def card(name: str) -> dict[str, Any]:
    """The recorded card of a model of :data:`RECIPES`: recipe, losses, checksum, scores."""
    return json.loads(shipped_weights(name).with_suffix(".json").read_text("utf-8"))


def recipe_pairs(recipe: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training images of a recipe: real, synthetic, or both, at the training scale."""
    from .data.real import load_real_sample

    real = load_real_sample("train")[: recipe["real_images"]] if recipe["real_images"] else []
    if not recipe["n_synthetic"]:
        return [to_training_scale(i, lab, min_shape=recipe["patch_size"]) for i, lab in real]
    return mixed_training_pairs(
        real,
        n_synthetic=recipe["n_synthetic"],
        synthetic_shape=tuple(recipe["synthetic_shape"]),
        min_shape=recipe["patch_size"],
        seed=recipe["seed"],
    )


def train_recipe(name: str, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Train the model of ``RECIPES[name]`` on the CPU (one thread) and write it with its card."""
    from .nuclei import load_pretrained

    check_choice(name, "name", RECIPES)
    recipe = RECIPES[name]
    path = Path(out_dir) / recipe["file"]
    if path.exists() and not overwrite:
        raise FileExistsError(f"`out_dir` already holds {path.name}; pass overwrite=True")
    torch.set_num_threads(1)
    start = load_pretrained() if name == "finetuned" else None
    keys = ("steps", "patch_size", "batch_size", "lr", "epochs", "zoom", "architecture", "seed")
    run = train_nuclei(
        recipe_pairs(recipe), model=start, progress=True, **{k: recipe[k] for k in keys}
    )
    save_nuclei_model(run.model, path, overwrite=overwrite)
    card = {
        "name": f"bioimage-course nuclei U-Net, {name}",
        "recipe": recipe,
        "n_params": run.model.n_params,
        "train_loss": [round(v, 4) for v in run.history.train_loss],
        "cpu_seconds": round(run.cpu_seconds, 1),
        "torch": torch.__version__,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "command": f"python -m bioimage_course.transfer {name} {out_dir} --overwrite",
    }
    write_card(path, card)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bioimage_course.transfer NAME OUT_DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bioimage_course.transfer", description="Train a model of notebook 09."
    )
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("out_dir", help="destination folder, e.g. bioimage_course/weights")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model")
    args = parser.parse_args(argv)
    path = train_recipe(args.name, args.out_dir, overwrite=args.overwrite)
    print(f"wrote {path} and {path.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
