"""Tiled prediction of a large image: ours against MONAI's sliding_window_inference.

Both predict the same 4096 x 4096 image with the same U-Net (depth 3, 8 base channels, eval
mode, the same memory layout), the same tile size, overlap and batch of tiles, on the CPU, and
return foreground probabilities:

- blending "uniform" (ours) vs mode "constant" (MONAI): both average the overlapping tiles, so
  the results must agree to float rounding (checked and printed);
- blending "smooth" (ours: zero near inner tile edges, raised cosine across the overlap) vs
  mode "gaussian" (MONAI: a Gaussian window over each tile): different windows, same purpose.

Each measurement runs in a fresh subprocess so that its peak resident memory (ru_maxrss) is
its own; the image is made inside each subprocess the same way (seeded).

Run:  python benchmarks/predict_tiled.py [--size 4096] [--tile 256] [--overlap 0] [--batch 4]
      (``--overlap 0`` means: our default, from the receptive field)
Needs MONAI (``pip install monai``); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch


def _image(size: int) -> np.ndarray:
    """A large normalised nuclei image: one synthetic 512 x 512 field repeated."""
    from bioimage_course.data import make_nuclei
    from bioimage_course.normalize import normalize_percentile

    field, _ = make_nuclei((512, 512), rng=0)
    reps = -(-size // 512)
    return np.ascontiguousarray(np.tile(normalize_percentile(field), (reps, reps))[:size, :size])


def _model():
    from bioimage_course.models import UNet

    torch.manual_seed(0)
    return UNet(depth=3, base_channels=8).eval()


def _run(method: str, blend: str, args) -> dict:
    """One measurement (in a subprocess): time, peak memory and a checksum of the result."""
    from bioimage_course.predict import default_overlap, predict_tiled

    image = _image(args.size)
    model = _model()
    overlap = args.overlap or default_overlap(model)[0]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if method == "ours":
        out = predict_tiled(
            model, image, tile=args.tile, overlap=overlap, batch_size=args.batch, blend=blend
        )
    else:
        from monai.inferers import sliding_window_inference

        from bioimage_course.training import prefers_channels_last

        mode = "constant" if blend == "uniform" else "gaussian"
        # The same memory layout as ours, so that the tiling machinery is what is compared.
        layout = torch.channels_last if prefers_channels_last("cpu") else torch.contiguous_format

        def predictor(x):
            return torch.sigmoid(model(x.contiguous(memory_format=layout)))

        with torch.inference_mode():
            out = sliding_window_inference(
                torch.from_numpy(image)[None, None],
                roi_size=(args.tile, args.tile),
                sw_batch_size=args.batch,
                predictor=predictor,
                overlap=overlap / args.tile,
                mode=mode,
            )[0, 0].numpy()
    seconds = time.perf_counter() - start
    np.save(args.save, out[::7, ::7])  # a subsample, to compare the two methods
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
        "overlap": overlap,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--blends", default="uniform,smooth")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--blend", default="uniform", help=argparse.SUPPRESS)
    parser.add_argument("--save", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.only:  # inside a subprocess
        print(json.dumps(_run(args.only, args.blend, args)))
        return 0

    try:
        import monai  # noqa: F401
    except ImportError:
        print("MONAI is not installed (pip install monai): nothing to compare with.")
        return 0

    import tempfile

    print(
        f"image {args.size} x {args.size}, tile {args.tile}, batch {args.batch} tiles, "
        f"torch threads {torch.get_num_threads()}"
    )
    megapixels = args.size**2 / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        for blend in args.blends.split(","):
            results = {}
            for method in ("ours", "monai"):
                save = f"{tmp}/{method}_{blend}.npy"
                cmd = [sys.executable, __file__, "--only", method, "--blend", blend,
                       "--save", save, "--size", str(args.size), "--tile", str(args.tile),
                       "--overlap", str(args.overlap), "--batch", str(args.batch)]  # fmt: skip
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results[method] = json.loads(done.stdout.strip().splitlines()[-1])
                results[method]["sample"] = np.load(save)
            peer_mode = "constant" if blend == "uniform" else "gaussian"
            print(f"\nblending: ours {blend!r} vs MONAI mode={peer_mode!r}, "
                  f"overlap {results['ours']['overlap']} px")  # fmt: skip
            for method, r in results.items():
                print(
                    f"  {method:6s} {r['seconds']:7.1f} s  {megapixels / r['seconds']:6.3f} Mpx/s"
                    f"  peak RSS {r['peak_rss_mb']:7.0f} MB (before prediction "
                    f"{r['rss_before_mb']:.0f} MB)"
                )
            ratio = results["monai"]["seconds"] / results["ours"]["seconds"]
            diff = np.abs(results["ours"]["sample"] - results["monai"]["sample"]).max()
            print(f"  throughput ratio ours / MONAI: {ratio:.2f}")
            print(f"  max |ours - MONAI| on a 1-in-49 pixel sample: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
