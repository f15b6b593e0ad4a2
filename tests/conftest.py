"""Test configuration: property tests are derandomised on CI so a run is repeatable.

Locally, hypothesis explores new random examples on every run; set ``HYPOTHESIS_PROFILE=ci`` to
reproduce exactly what CI ran.
"""

import os

import matplotlib
import pytest
from hypothesis import settings

matplotlib.use("Agg")  # no windows during tests

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(params=[0o022, 0o002, 0o077], ids=oct)
def umask(request):
    """Run a test under each of a few common umasks (restored afterwards)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)
