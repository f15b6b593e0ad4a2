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
