"""pyproject.toml and environment.yml must list the same dependencies."""

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower()


def _conda_names(text: str) -> tuple[set[str], set[str]]:
    """Names under `dependencies:` of an environment.yml, split into conda and pip ones."""
    conda, pip = set(), set()
    key = None
    for line in text.split("\n"):
        if line and not line.startswith((" ", "#")):
            key = line.split(":")[0]
            continue
        item = line.strip()
        if key != "dependencies" or not item.startswith("- "):
            continue
        item = item[2:]
        if item == "pip:":
            continue
        if line.startswith("      "):  # nested under "- pip:"
            if not item.startswith("-"):  # "-e ." installs the course itself
                pip.add(_name(item))
        else:
            conda.add(_name(item))
    return conda, pip


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["test"]}
    conda, pip = _conda_names((ROOT / "environment.yml").read_text())
    listed = {n for n in conda | pip if n not in ("python", "pip")}
    expected = {CONDA_NAMES.get(n, n) for n in wanted}
    assert listed == expected, (
        f"missing from environment.yml: {sorted(expected - listed)}; "
        f"not in pyproject.toml: {sorted(listed - expected)}"
    )


def test_python_versions_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    low = project["requires-python"].removeprefix(">=")
    assert f"python>={low}" in (ROOT / "environment.yml").read_text()


def test_dependencies_are_the_notebook_and_runner_requirements():
    from bioimage_course import NOTEBOOK_REQUIREMENTS, RUNNER_REQUIREMENTS

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert sorted(project["dependencies"]) == sorted(NOTEBOOK_REQUIREMENTS + RUNNER_REQUIREMENTS)


def _imported_top_level(paths) -> set[str]:
    import ast
    import json

    names = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            cells = json.loads(text)["cells"]
            text = "\n".join(
                "".join(c["source"]) for c in cells if c["cell_type"] == "code"
            ).replace("%matplotlib inline", "")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_notebooks_and_package_import_only_the_notebook_requirements():
    """What a notebook needs on Colab: the standard library, the package and its requirements."""
    import sys

    from bioimage_course import NOTEBOOK_REQUIREMENTS

    # import name -> distribution name where they differ
    provided = {_name(r) for r in NOTEBOOK_REQUIREMENTS} | {"skimage", "IPython", "bioimage_course"}
    provided.discard("scikit-image")
    # the runner and the notebook-contract checks import Jupyter's tools: not needed on Colab
    runner_modules = {"cli.py", "course.py", "__main__.py"}
    package = [
        p for p in sorted((ROOT / "bioimage_course").rglob("*.py")) if p.name not in runner_modules
    ]
    imported = _imported_top_level(package + sorted((ROOT / "notebooks").glob("*.ipynb")))
    outside = sorted(n for n in imported - provided if n not in sys.stdlib_module_names)
    assert outside == [], f"imported but not in NOTEBOOK_REQUIREMENTS: {outside}"
