"""Every course notebook follows the contract of bioimage_course.course; README links them all."""

import re
from pathlib import Path

import nbformat
import pytest

from bioimage_course import REPO_URL
from bioimage_course.course import (
    build_notebook,
    colab_url,
    course_notebooks,
    notebook_problems,
    set_repo,
    setup_cell,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course_notebooks(ROOT / "notebooks")


def test_numbering_has_no_gaps():
    assert course_notebooks(ROOT / "notebooks", strict=True) == NOTEBOOKS


def test_there_are_notebooks():
    assert NOTEBOOKS, "no course notebooks found"
    assert NOTEBOOKS[0].name == "01_digital_images.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_follows_contract(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert notebook_problems(nb) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_readme_links_notebook_with_colab_badge(path):
    readme = (ROOT / "README.md").read_text()
    assert colab_url(path) in readme


def test_readme_badges_point_at_the_course_repository():
    readme = (ROOT / "README.md").read_text()
    slug = REPO_URL.removeprefix("https://github.com/")
    badges = re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", readme)
    assert badges and set(badges) == {slug}


def test_contract_detects_problems():
    nb = build_notebook(
        "# 99 · Demo", [("code", "# Parameters\nx = 1"), ("md", "## Checks"), ("code", "print(x)")]
    )
    assert notebook_problems(nb) == ['the "## Checks" section asserts nothing']
    nb.cells[1].source = "import os"
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="hi")]
    problems = notebook_problems(nb)
    assert any("setup cell" in p for p in problems)
    assert any("outputs are stored in cells [2]" in p for p in problems)


def test_setup_cell_is_noop_outside_colab():
    namespace = {}
    source = setup_cell().replace("%matplotlib inline", "")
    exec(compile(source, "setup", "exec"), namespace)  # must not try to install anything
    assert "REPO" not in namespace


def test_set_repo_repoints_a_fork(tmp_path, monkeypatch):
    import bioimage_course

    fork = "https://github.com/someone/my-course"
    (tmp_path / "notebooks").mkdir()
    nb = build_notebook("# 01 · Demo", [])
    nbformat.write(nb, tmp_path / "notebooks" / "01_demo.ipynb")
    (tmp_path / "README.md").write_text(f"[badge]({colab_url('01_demo.ipynb')})\n")
    init = tmp_path / "__init__.py"
    init.write_text(f'REPO_URL = "{REPO_URL}"\n')
    monkeypatch.setattr("bioimage_course.course.__file__", str(tmp_path / "course.py"))
    changed = set_repo(fork, tmp_path)
    assert len(changed) == 3
    assert colab_url("01_demo.ipynb", fork) in (tmp_path / "README.md").read_text()
    assert fork in (tmp_path / "notebooks" / "01_demo.ipynb").read_text()
    assert fork in init.read_text()
    assert bioimage_course.REPO_URL == REPO_URL  # the installed package itself is untouched
    with pytest.raises(ValueError, match="repo_url"):
        set_repo("not a url", tmp_path)
