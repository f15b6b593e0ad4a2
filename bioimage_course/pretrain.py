"""The recipe of the course's pretrained nuclei model, and the one command that reproduces it.

Introduced in notebook 08 (instance segmentation); the model is what
:func:`bioimage_course.segment_nuclei` uses. Everything it learns from is available to every
user: the 40 real training images of the course's sample (``data/real``, see
:mod:`bioimage_course.data.real`) and synthetic nuclei drawn by
:func:`bioimage_course.data.random_nuclei_params`. The recipe:

1. every image is percentile-normalised and **rescaled so that its median nucleus is
   20 pixels across** (the same step :func:`~bioimage_course.segment_nuclei` takes before
   predicting), so the network only has to learn one nucleus size;
2. random 112 x 112 patches (80 % centred on a nucleus) are augmented: flips and 90-degree
   turns, rotation and a zoom of 0.7-1.4x (sizes are never estimated exactly), contrast,
   brightness and gamma, blur and noise;
3. the target is the three classes background / interior / boundary
   (:func:`bioimage_course.postprocess.three_class_target`), the loss a cross-entropy that
   weighs the thin boundary class twice;
4. a U-Net (depth 3, 16 base channels) is trained with Adam and a one-cycle schedule.

::

    python -m bioimage_course.pretrain bioimage_course/weights --overwrite

writes ``nuclei_unet.pt`` (float16 weights + architecture, for ``torch.load(...,
weights_only=True)``) and ``nuclei_unet.json`` (the recipe and the file's SHA-256). On the CPU
with one thread (the default) a seed gives the same file every time.

Examples
--------
>>> RECIPE["architecture"], RECIPE["training_diameter_px"]
({'in_channels': 1, 'out_channels': 3, 'depth': 3, 'base_channels': 16}, 20.0)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data.real import load_real_sample
from .nuclei import WEIGHTS
from .routes import BOUNDARY_WEIGHT, TRAINING_DIAMETER_PX, mixed_training_pairs, train_route

__all__ = ["RECIPE", "training_pairs", "pretrain_nuclei"]

RECIPE: dict[str, Any] = {
    "architecture": {"in_channels": 1, "out_channels": 3, "depth": 3, "base_channels": 16},
    "training_diameter_px": TRAINING_DIAMETER_PX,
    "real_images": "data/real train split (40 images)",
    "real_repeats": 1,
    "n_synthetic": 24,
    "synthetic_shape": [256, 256],
    "patch_size": 112,
    "foreground_prob": 0.8,
    "batch_size": 8,
    "steps": 1000,
    "lr": 3e-3,
    "epochs": 8,
    "optimizer": "adam",
    "schedule": "onecycle",
    "boundary_weight": BOUNDARY_WEIGHT,
    "seed": 0,
}


def training_pairs(recipe: dict[str, Any] = RECIPE) -> list[tuple[np.ndarray, np.ndarray]]:
    """The training images of the recipe, normalised and at the training scale."""
    return mixed_training_pairs(
        load_real_sample("train"),
        n_synthetic=recipe["n_synthetic"],
        synthetic_shape=tuple(recipe["synthetic_shape"]),
        real_repeats=recipe["real_repeats"],
        min_shape=recipe["patch_size"],
        seed=recipe["seed"],
    )


def pretrain_nuclei(
    out_dir: str | Path,
    *,
    steps: int | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    threads: int | None = 1,
    progress: bool = False,
    checkpoint_dir: str | Path | None = None,
) -> Path:
    """Train the nuclei model of :data:`RECIPE` and write it with its card into ``out_dir``.

    Parameters
    ----------
    out_dir : str or path
        Destination folder (created if needed).
    steps : int, optional
        Optimiser steps (default ``RECIPE["steps"]``; a few for a quick check).
    seed : int, optional
        Seed of the synthetic images, the patches, the augmentation and the initial weights
        (default ``RECIPE["seed"]``).
    overwrite : bool
        Replace an existing model file.
    threads : int or None
        CPU threads for torch (1 makes the result bitwise reproducible; None leaves it).
    progress : bool
        Show a progress bar.
    checkpoint_dir : str or path, optional
        Where :func:`~bioimage_course.training.fit` keeps the weights after every epoch.

    Returns
    -------
    pathlib.Path
        The weights file ``out_dir / "nuclei_unet.pt"``.
    """
    recipe = dict(RECIPE)
    if steps is not None:
        recipe["steps"] = int(steps)
    if seed is not None:
        recipe["seed"] = int(seed)
    out_dir = Path(out_dir)
    path = out_dir / WEIGHTS
    if path.exists() and not overwrite:
        raise FileExistsError(f"`out_dir` already holds {path.name}; pass overwrite=True")
    if threads is not None:
        torch.set_num_threads(int(threads))
    started = time.time()
    pairs = training_pairs(recipe)
    architecture = recipe["architecture"]
    model, history = train_route(
        "three_class",
        pairs,
        steps=recipe["steps"],
        patch_size=recipe["patch_size"],
        batch_size=recipe["batch_size"],
        depth=architecture["depth"],
        base_channels=architecture["base_channels"],
        lr=recipe["lr"],
        epochs=recipe["epochs"],
        seed=recipe["seed"],
        device="cpu",
        progress=progress,
        checkpoint_dir=checkpoint_dir,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "config": dict(recipe["architecture"]),
        "training_diameter_px": float(recipe["training_diameter_px"]),
        "state_dict": {
            k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()
        },
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)
    card = {
        "name": "bioimage-course nuclei U-Net (3 classes)",
        "task": "instance segmentation of nuclei in 2D fluorescence images",
        "recipe": recipe,
        "n_params": model.n_params,
        "train_loss": [round(v, 4) for v in history.train_loss],
        "train_seconds": round(time.time() - started, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "command": "python -m bioimage_course.pretrain bioimage_course/weights --overwrite"
        + ("" if threads == 1 else f" --threads {threads}"),
    }
    write_card(path, card)
    return path


def write_card(weights: Path, card: dict) -> Path:
    """Write ``card`` as the JSON file next to ``weights``; returns its path.

    The benchmark adds an ``evaluation`` to a card; it is kept when the weights (their
    ``sha256``) are the ones it evaluated, and dropped when they changed.
    """
    card_path = Path(weights).with_suffix(".json")
    old = json.loads(card_path.read_text()) if card_path.exists() else {}
    if "evaluation" in old and old.get("sha256") == card["sha256"]:
        card = {**card, "evaluation": old["evaluation"]}
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    return card_path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bioimage_course.pretrain OUT_DIR [--steps N] [--seed S]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bioimage_course.pretrain",
        description="Train the course's pretrained nuclei model (CPU, deterministic).",
    )
    parser.add_argument("out_dir", help="destination folder, e.g. bioimage_course/weights")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: reproducible)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model")
    args = parser.parse_args(argv)
    path = pretrain_nuclei(
        args.out_dir,
        steps=args.steps,
        seed=args.seed,
        overwrite=args.overwrite,
        threads=args.threads,
        progress=True,
    )
    print(f"wrote {path} and {path.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
