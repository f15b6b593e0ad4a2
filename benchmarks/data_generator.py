"""Speed of the synthetic nuclei generator (bioimage_course.data.make_nuclei) on one CPU core.

Target: a 512 x 512 image and its labels in well under 0.1 s. Measured side by side with

- scikit-image's synthetic-image peer: ``skimage.data.binary_blobs`` + Gaussian blur + Poisson
  noise + connected-component labels (no physical units, no instances that touch, no texture);
- a straightforward object-by-object drawing of the same number of ellipses with
  ``skimage.draw.ellipse`` (what one writes first), with the same blur and noise.

Run:  python benchmarks/data_generator.py [--repeats 15] [--size 512]
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, set before numpy is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def median_time(func, repeats):
    """Median wall time and median CPU time of the process (s).

    On a shared machine the wall time grows with the load; the CPU time of a single-threaded
    run is what it would take on a quiet core.
    """
    func(0)  # warm up
    wall, cpu = [], []
    for i in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        func(i + 1)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    try:
        from bioimage_course.data import PRESETS, make_nuclei, make_scene, render_nuclei
    except ImportError:
        print("bioimage_course is not installed: pip install -e . first")
        return 0
    try:
        from scipy import ndimage as ndi
        from skimage.data import binary_blobs
        from skimage.draw import ellipse
        from skimage.measure import label
    except ImportError:
        print("scikit-image/scipy (the peer) are not installed; nothing to compare with")
        return 0
    shape = (args.size, args.size)
    print(
        f"image {shape[0]} x {shape[1]}, one thread, median of {args.repeats} runs: "
        "wall time (CPU time)\n"
    )
    ours = {}
    for preset in (None, *PRESETS):
        n = make_nuclei(shape, preset=preset, rng=0)[1].max()
        med, cpu = median_time(
            lambda s, p=preset: make_nuclei(shape, preset=p, rng=s), args.repeats
        )
        ours[preset] = (cpu, n)
        print(f"make_nuclei preset={preset!s:14} {med * 1e3:7.1f} ms ({cpu * 1e3:.1f})  {n} nuclei")
    _, scene_t = median_time(lambda s: make_scene(shape, rng=s), args.repeats)
    scene = make_scene(shape, rng=0)
    _, render_t = median_time(lambda s: render_nuclei(scene, rng=s), args.repeats)
    print(
        f"  CPU time of the default: make_scene {scene_t * 1e3:.1f} ms, "
        f"render_nuclei {render_t * 1e3:.1f} ms"
    )

    rng = np.random.default_rng(0)

    def blobs(seed):
        mask = binary_blobs(shape[0], blob_size_fraction=0.03, volume_fraction=0.25, rng=seed)
        image = ndi.gaussian_filter(mask * 300.0 + 30.0, 1.0)
        return rng.poisson(image).astype(np.uint16), label(mask)

    n_default = ours[None][1]

    def loop(seed):
        r = np.random.default_rng(seed)
        labels = np.zeros(shape, np.int32)
        for i in range(n_default):
            centre, axes = r.uniform(0, shape[0], 2), r.uniform(6, 14, 2)
            rr, cc = ellipse(*centre, *axes, shape=shape, rotation=r.uniform(0, np.pi))
            labels[rr, cc] = i + 1
        image = ndi.gaussian_filter((labels > 0) * 300.0 + 30.0, 1.0)
        return r.poisson(image).astype(np.uint16), labels

    _, peer_t = median_time(blobs, args.repeats)
    _, loop_t = median_time(loop, args.repeats)
    ref = ours[None][0]
    print(
        f"\nCPU time, peer: skimage binary_blobs + blur + noise + label  {peer_t * 1e3:6.1f} ms"
        f"   ours/peer = {ref / peer_t:.2f}"
    )
    print(
        f"CPU time, object loop: {n_default} x skimage.draw.ellipse + blur + noise"
        f"  {loop_t * 1e3:6.1f} ms   ours/loop = {ref / loop_t:.2f}"
    )
    worst = max(t for t, _ in ours.values())
    verdict = "meets" if worst < 0.1 else "MISSES"
    print(
        f"\n{verdict} the target: slowest preset {worst * 1e3:.1f} ms CPU time (< 100 ms) "
        f"at {shape[0]} x {shape[1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
