"""Configuration for the whole test run: the unit tests and the notebooks (nbval).

Kernels that nbval starts inherit the environment: with ``BIOIMAGE_COURSE_HEADLESS`` set, the
notebooks' interactive cells show their static figure and create no widgets (no frontend will
see them).
"""

import os

os.environ.setdefault("BIOIMAGE_COURSE_HEADLESS", "1")
