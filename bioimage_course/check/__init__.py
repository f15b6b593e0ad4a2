"""Self-checks for the course's exercises: feedback that names the misconception.

Each notebook ``NN`` has a module ``check.nbNN`` with one check per exercise::

    from bioimage_course import check

    check.nb02.convolve(globals())   # prints "Exercise 02.1: done." or a hint; True/False
    check.finish("02")               # in Checks: every exercise of notebook 02 passed

A check looks up the names the exercise asks for, tests them on inputs of its own (never
against a value the notebook computed) and prints one line: ``done``, ``not yet`` with a hint,
or ``define `x` first``. It never raises, so a student notebook runs to the end. How to write a
check: :mod:`bioimage_course.check._core` (``exercise``, ``Hint``, ``Attempt``).

Examples
--------
>>> from bioimage_course import check
>>> check.KINDS
('predict then run', 'write the function', 'find the bug', 'tune and explain', 'bonus')
"""

import importlib
import re

from ._core import KINDS, REGISTRY, Attempt, Exercise, Hint, exercise, exercises, finish

__all__ = ["KINDS", "REGISTRY", "Attempt", "Exercise", "Hint", "exercise", "exercises", "finish"]


def __getattr__(name: str):
    """``check.nb02`` imports the checks of notebook 02 on first use."""
    if re.fullmatch(r"nb\d\d", name):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
