"""Percentile normalisation: bioimage_course vs CSBDeep, measured in the same run.

Run:  python benchmarks/normalize.py [--repeats N]

The peer is ``csbdeep.utils.normalize`` (``pip install csbdeep``; it needs no TensorFlow for
this function). CSBDeep uses ``numexpr`` for the arithmetic when it is installed; the script
says which path it measured. Without CSBDeep it measures the published CSBDeep formula written
with ``numpy.percentile`` instead, and says so. Both sides use the same settings
(pmin=1, pmax=99.8, float32 output, no clipping) and their outputs are compared.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time

import numpy as np

from bioimage_course.normalize import normalize_percentile

PMIN, PMAX = 1.0, 99.8


def stand_in_normalize(x, pmin, pmax, axis=None, clip=False, eps=1e-20, dtype=np.float32):
    """The CSBDeep definition with numpy.percentile (used when CSBDeep is not installed)."""
    lo = np.percentile(x, pmin, axis=axis, keepdims=True).astype(dtype)
    hi = np.percentile(x, pmax, axis=axis, keepdims=True).astype(dtype)
    y = (x.astype(dtype, copy=False) - lo) / (hi - lo + dtype(eps))
    return np.clip(y, 0, 1) if clip else y


def load_peer():
    try:
        from csbdeep.utils import normalize
    except ImportError as error:
        print(f"CSBDeep is not installed ({error}); `pip install csbdeep` to measure it.")
        print("Measuring the STAND-IN instead: CSBDeep's published formula with numpy.percentile.")
        return "stand-in (numpy.percentile formula)", stand_in_normalize
    numexpr = importlib.util.find_spec("numexpr") is not None
    return f"csbdeep.utils.normalize ({'numexpr' if numexpr else 'numpy'} arithmetic)", normalize


def timings(f, repeats):
    f()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)

    peer_name, peer = load_peer()
    rng = np.random.default_rng(0)
    cases = [
        ("2048x2048 float32", rng.gamma(2.0, 200.0, (2048, 2048)).astype(np.float32), None),
        ("2048x2048 uint16", rng.poisson(300.0, (2048, 2048)).astype(np.uint16), None),
        (
            "3x1024x1024 float32, per channel",
            rng.gamma(2.0, 200.0, (3, 1024, 1024)).astype(np.float32),
            (1, 2),
        ),
    ]
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"peer: {peer_name}; pmin={PMIN}, pmax={PMAX}, float32 output")
    print(f"{'case':36s} {'ours ms':>9s} {'peer ms':>9s} {'peer/ours':>10s} {'max |diff|':>11s}")
    for name, x, axis in cases:

        def ours(x=x, axis=axis):
            return normalize_percentile(x, PMIN, PMAX, axis=axis)

        def theirs(x=x, axis=axis):
            return peer(x, PMIN, PMAX, axis=axis)

        diff = float(np.max(np.abs(ours() - theirs())))
        # interleave the two so that load on the machine affects both alike
        ours_t, peer_t = [], []
        for _ in range(3):
            ours_t += timings(ours, max(1, args.repeats // 3))
            peer_t += timings(theirs, max(1, args.repeats // 3))
        o, p = statistics.median(ours_t) * 1e3, statistics.median(peer_t) * 1e3
        print(f"{name:36s} {o:9.2f} {p:9.2f} {p / o:9.2f}x {diff:11.2e}")
    print("times are medians; peer/ours > 1 means bioimage_course is faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
