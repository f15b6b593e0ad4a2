"""Real nuclei: every method of the course on the held-out test split of real DSB 2018 images.

On the recorded test split (``data/real/split.json``: 81 real fluorescence images never
trained or tuned on) of the DSB 2018 fluorescence images in ``../shared/real/`` beside the
repository, this prints pooled F1 at IoU 0.5, precision, recall and the DSB score (mean over
IoU 0.5..0.95 of TP / (TP + FP + FN)), and the seconds each method took, for

- the classical baselines: Otsu threshold + connected components (notebook 01), and Otsu +
  a watershed on the distance transform;
- notebook 05's model: a separated-mask U-Net trained on synthetic nuclei only, with notebook
  05's data and size (32 images of random microscopes, 192 x 192; 800 steps; 8 base channels)
  and the augmentation of ``bioimage_course.routes``, applied without rescaling, as in
  notebook 05;
- notebook 08's three routes (separated mask, 3-class, distance map), trained as in the
  notebook on synthetic nuclei + the 40 real training images of ``data/real``, applied at the
  estimated nucleus size;
- ``bioimage_course.segment_nuclei`` with the shipped pretrained model, and with that model
  fine-tuned on the 40 real training images of ``data/real`` (notebook 09;
  ``python -m bioimage_course.transfer finetuned bioimage_course/weights``).

Run:  python benchmarks/real_nuclei.py [--split test] [--only segment_nuclei] [--json out.json]
      [--model path/to/nuclei_unet.pt] [--write-card] [--oracle]
``--split val`` is for tuning; ``--write-card`` records the scores of ``segment_nuclei`` in the
shipped model cards (``bioimage_course/weights/nuclei_unet.json`` and
``nuclei_unet_finetuned.json``). Without the data file the
script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "real" / "dsb2018_stage1_train_fluo.npz"
SPLIT = ROOT / "data" / "real" / "split.json"
NB05 = dict(steps=800, patch_size=96, base_channels=8, depth=3, epochs=8, n_images=32, size=192)
# notebook 08's parameters cell
FINETUNED = "segment_nuclei (fine-tuned on data/real)"
NB08 = dict(steps=250, patch_size=96, base_channels=8, depth=3, epochs=4, n_synthetic=16)


def load_split(name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (image, labels) pairs of one recorded split of the shared data set."""
    data = np.load(SOURCE)
    index = {str(image_id): i for i, image_id in enumerate(data["ids"])}
    ids = json.loads(SPLIT.read_text())[name]
    return [(data[f"img_{index[i]}"], data[f"lab_{index[i]}"].astype(np.int32)) for i in ids]


def notebook05_model():
    """A U-Net like notebook 05's: separated mask, synthetic nuclei of random microscopes only."""
    from bioimage_course.data import make_nuclei, random_nuclei_params
    from bioimage_course.normalize import normalize_percentile
    from bioimage_course.routes import train_route

    rng = np.random.default_rng(0)
    raw = [
        make_nuclei((NB05["size"],) * 2, rng=rng, **vars(random_nuclei_params(rng)))
        for _ in range(NB05["n_images"])
    ]
    pairs = [(normalize_percentile(image), labels) for image, labels in raw]
    options = {k: NB05[k] for k in ("steps", "patch_size", "base_channels", "depth", "epochs")}
    model, _ = train_route("mask", pairs, progress=False, **options)
    return model


def notebook08_models() -> dict:
    """The three routes, trained with notebook 08's data and schedule."""
    from bioimage_course.data.real import load_real_sample
    from bioimage_course.routes import ROUTES, mixed_training_pairs, train_route

    pairs = mixed_training_pairs(
        load_real_sample("train"), n_synthetic=NB08["n_synthetic"], min_shape=NB08["patch_size"]
    )
    options = {k: NB08[k] for k in ("steps", "patch_size", "base_channels", "depth", "epochs")}
    return {name: train_route(name, pairs, progress=False, **options)[0] for name in ROUTES}


def methods(args) -> dict:
    """name -> function(image) -> labels."""
    from bioimage_course import segment_nuclei
    from bioimage_course.classical import threshold_segment
    from bioimage_course.normalize import normalize_percentile
    from bioimage_course.nuclei import estimate_diameter, load_pretrained
    from bioimage_course.postprocess import distance_target, instances_from_distance
    from bioimage_course.routes import ROUTES, predict_route, segment_with
    from bioimage_course.transfer import shipped_weights

    def otsu_watershed(image):
        blobs = threshold_segment(image, sigma_px=1.0)
        return instances_from_distance(distance_target(blobs), blobs > 0, h=0.15)

    found = {
        "Otsu + components": lambda image: threshold_segment(image, sigma_px=1.0),
        "Otsu + watershed": otsu_watershed,
    }
    wanted = set(args.only or [])
    if not wanted or "notebook05" in wanted:
        model05 = notebook05_model()

        def nb05(image):
            outputs = predict_route(model05, "mask", normalize_percentile(image))
            return ROUTES["mask"].decode(outputs, 1.0)

        found["notebook 05 U-Net (synthetic, no rescaling)"] = nb05
    if not wanted or "notebook08" in wanted:
        for name, model in notebook08_models().items():
            found[f"notebook 08 route {name}"] = lambda image, model=model, name=name: segment_with(
                model, name, image, diameter_px=estimate_diameter(image)
            )
    pretrained = load_pretrained(args.model) if args.model else load_pretrained()
    found["segment_nuclei (pretrained)"] = lambda image: segment_nuclei(image, model=pretrained)
    finetuned = load_pretrained(shipped_weights("finetuned"))
    found[FINETUNED] = lambda image: segment_nuclei(image, model=finetuned)
    if args.oracle:
        found["segment_nuclei, true diameter (oracle)"] = None  # filled per image below
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--only", nargs="*", help="notebook05 and/or notebook08 (default: all)")
    parser.add_argument("--model", help="a nuclei_unet.pt other than the shipped one")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--write-card", action="store_true", help="record scores in the card")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--oracle", action="store_true", help="also segment_nuclei told the true nucleus size"
    )
    args = parser.parse_args(argv)
    if not SOURCE.is_file():
        print(f"skipped: the real data set is not at {SOURCE} (it sits beside the repository)")
        return 0
    torch.set_num_threads(args.threads)
    from bioimage_course.nuclei import load_pretrained
    from bioimage_course.postprocess import median_diameter
    from bioimage_course.routes import instance_scores, segment_with

    pairs = load_split(args.split)
    truth = [labels for _, labels in pairs]
    n = sum(int(labels.max()) for labels in truth)
    print(f"{args.split} split: {len(pairs)} real images, {n} nuclei")
    started = time.perf_counter()
    table = {}
    pretrained = load_pretrained(args.model) if args.model else load_pretrained()
    for name, method in methods(args).items():
        if method is None:  # segment_nuclei's model at the true nucleus size: the upper bound

            def method(image, labels):
                return segment_with(
                    pretrained, "three_class", image, diameter_px=median_diameter(labels)
                )

            run = [(image, labels) for image, labels in pairs]
        else:
            run = [(image,) for image, _ in pairs]
        start = time.perf_counter()
        predictions = [method(*item) for item in run]
        seconds = time.perf_counter() - start
        scores = instance_scores(truth, predictions)
        table[name] = {**scores._asdict(), "seconds": round(seconds, 1)}
        print(
            f"{name:42s} F1@0.5 {scores.f1:.3f}  P {scores.precision:.3f}  R {scores.recall:.3f}"
            f"  DSB {scores.dsb:.3f}  {seconds:6.1f} s",
            flush=True,
        )
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1) + "\n")
    if args.write_card:
        weights = ROOT / "bioimage_course" / "weights"
        for name, card_name in [
            ("segment_nuclei (pretrained)", "nuclei_unet.json"),
            (FINETUNED, "nuclei_unet_finetuned.json"),
        ]:
            card_path = weights / card_name
            card = json.loads(card_path.read_text())
            ours = table[name]
            card["evaluation"] = {
                "data": f"DSB 2018 fluorescence, recorded {args.split} split ({len(pairs)} "
                f"images, {n} nuclei), never trained or tuned on",
                "command": f"python benchmarks/real_nuclei.py --split {args.split} --write-card",
                "f1_iou50": round(ours["f1"], 3),
                "precision_iou50": round(ours["precision"], 3),
                "recall_iou50": round(ours["recall"], 3),
                "dsb_score": round(ours["dsb"], 3),
            }
            card_path.write_text(json.dumps(card, indent=1) + "\n")
            print(f"recorded in {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
