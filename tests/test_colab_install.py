"""The Colab setup cell installs the course package and nothing that Colab already has.

A throwaway virtual environment stands in for a Colab image: it sees the packages of this test
environment (torch, numpy, scipy, matplotlib, ipykernel, ipywidgets, jupyter-server, ...) except
the ones a Colab image does not have (JupyterLab, the runner's nbclient/nbconvert, the test
tools, the course itself), and a constraints file pins the versions it has. Then
``pip install --dry-run --report`` of exactly the two commands of the setup cell must report the
course package, and nothing else to install or change.

Needs the package index (pip builds the course's metadata with setuptools from it); without
network it is skipped with that reason.
"""

import json
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from bioimage_course import NOTEBOOK_REQUIREMENTS, RUNNER_REQUIREMENTS
from bioimage_course.course import setup_cell

ROOT = Path(__file__).resolve().parents[1]
# Distributions a Colab image lacks (besides what only they need).
NOT_ON_COLAB = {
    "bioimage-course", "jupyterlab", "jupyterlab-server", "jupyter-lsp", "nbclient", "nbconvert",
    "nbval", "pytest", "hypothesis", "ruff", "playwright", "async-lru", "notebook-shim",
}  # fmt: skip
# Colab's own stack, whose versions must not move (the constraints file pins them).
PINNED = ["torch", "numpy", "scipy", "matplotlib", "ipykernel", "ipywidgets", "jupyter-server"]


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _colab_like_venv(folder: Path) -> Path:
    """A venv whose site sees this environment's packages, less those in ``NOT_ON_COLAB``."""
    # no pip or setuptools of its own: it uses those of the image, as Colab does
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder / "venv")], check=True
    )
    python = folder / "venv" / "bin" / "python"
    site = Path(sysconfig.get_paths()["purelib"])
    hidden = set()
    for dist in metadata.distributions(path=[str(site)]):
        if _canonical(dist.metadata["Name"]) in NOT_ON_COLAB:
            hidden |= {Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
    image = folder / "image"
    image.mkdir()
    for entry in site.iterdir():
        if entry.name not in hidden and entry.suffix != ".pth" and entry.name != "__pycache__":
            (image / entry.name).symlink_to(entry)
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    (Path(venv_site) / "colab_image.pth").write_text(f"{image}\n")
    return python


def _dry_run(python: Path, args: list[str], report: Path, constraints: Path) -> list[str]:
    cmd = [str(python), "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report)]
    done = subprocess.run(
        [*cmd, "-c", str(constraints), *args], capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        if "Could not find a version" in done.stderr or "NewConnectionError" in done.stderr:
            pytest.skip(f"no package index here: {done.stderr.strip().splitlines()[-1]}")
        pytest.fail(f"pip failed:\n{done.stderr}")
    installs = json.loads(report.read_text())["install"]
    return sorted(_canonical(item["metadata"]["name"]) for item in installs)


def _setup_cell_commands() -> tuple[list[str], list[str]]:
    """The arguments of the setup cell's two pip commands, with this checkout for the git URL."""
    source = setup_cell()
    assert '"--no-deps", f"bioimage-course @ git+{REPO}"' in source
    assert "subprocess.run([*pip, *NOTEBOOK_REQUIREMENTS], check=True)" in source
    return ["--no-deps", f"bioimage-course @ {ROOT.as_uri()}"], list(NOTEBOOK_REQUIREMENTS)


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colab")
    python = _colab_like_venv(folder)
    constraints = folder / "constraints.txt"
    constraints.write_text("".join(f"{name}=={metadata.version(name)}\n" for name in PINNED))
    env_check = subprocess.run(
        [str(python), "-c", "import torch, numpy, ipykernel, jupyter_server; import nbclient"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "No module named 'nbclient'" in env_check.stderr, env_check.stderr  # the image is right
    return python, constraints, folder


def test_setup_cell_installs_only_the_course_package(colab):
    python, constraints, folder = colab
    package, requirements = _setup_cell_commands()
    first = _dry_run(python, package, folder / "package.json", constraints)
    assert first == ["bioimage-course"]
    second = _dry_run(python, requirements, folder / "requirements.json", constraints)
    assert second == [], f"the setup cell would install or change on Colab: {second}"


def test_plain_install_would_pull_the_runner_into_colab(colab):
    """The test can fail: installing with dependencies brings JupyterLab and the runner."""
    python, constraints, folder = colab
    pulled = _dry_run(
        python, [f"bioimage-course @ {ROOT.as_uri()}"], folder / "all.json", constraints
    )
    runner = {_canonical(r.split(">")[0]) for r in RUNNER_REQUIREMENTS} - {"ipykernel", "nbformat"}
    assert runner <= set(pulled), pulled
    assert not {"torch", "numpy", "ipykernel", "jupyter-server"} & set(pulled)
