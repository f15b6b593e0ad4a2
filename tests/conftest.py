"""Test configuration: property tests are derandomised on CI so a run is repeatable.

Locally, hypothesis explores new random examples on every run; set ``HYPOTHESIS_PROFILE=ci`` to
reproduce exactly what CI ran.
"""

import os

import matplotlib
from hypothesis import settings

matplotlib.use("Agg")  # no windows during tests

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
