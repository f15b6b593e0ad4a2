"""Run the examples in every module's docstrings: documentation that cannot drift from the code."""

import doctest
import importlib
import pkgutil

import matplotlib
import pytest

import bioimage_course

matplotlib.use("Agg")

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(bioimage_course.__path__, prefix="bioimage_course.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_every_public_module_has_examples():
    """Modules a learner opens should show how they are used."""
    finder = doctest.DocTestFinder()
    without = []
    for name in MODULES:
        if name.rsplit(".", 1)[-1].startswith("_") and not name.endswith("_validate"):
            continue
        module = importlib.import_module(name)
        if not any(t.examples for t in finder.find(module)):
            without.append(name)
    assert not without, f"modules without docstring examples: {without}"
