"""Every course notebook follows the contract of bioimage_course.course; README links them all."""

import re
from pathlib import Path

import nbformat
import pytest

from bioimage_course import REPO_URL
from bioimage_course.course import (
    STUDENT_FOLDER,
    build_notebook,
    colab_url,
    course_notebooks,
    notebook_problems,
    save_notebook,
    session_problems,
    set_repo,
    setup_cell,
    student_version,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
STUDENT = ROOT / STUDENT_FOLDER
REGENERATE = "bioimage-course exercises --output notebooks/student"


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
def test_notebook_follows_session_design(path):
    """Objectives, time, prerequisites, marked sections, key points, >= 3 exercises of >= 2
    kinds with task cells and checks (the format of bioimage_course.check)."""
    nb = nbformat.read(path, as_version=4)
    assert session_problems(nb, path.name[:2]) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_readme_links_notebook_with_colab_badge(path):
    readme = (ROOT / "README.md").read_text()
    assert colab_url(path) in readme
    assert colab_url(path, folder=STUDENT_FOLDER) in readme, "no student-version badge"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_published_student_version_is_up_to_date(path, tmp_path):
    """notebooks/student/NN_*.ipynb is exactly what the generator makes of the solution
    notebook (nbval runs it to the end: no exercise stops "Run all")."""
    published = STUDENT / path.name
    assert published.is_file(), f"no student version of {path.name}: run `{REGENERATE}`"
    fresh = save_notebook(student_version(nbformat.read(path, as_version=4)), tmp_path / path.name)
    assert published.read_bytes() == fresh.read_bytes(), (
        f"{published.relative_to(ROOT)} is out of date: run `{REGENERATE}` and commit it"
    )


def test_student_folder_holds_only_student_versions_of_course_notebooks():
    names = sorted(p.name for p in STUDENT.glob("*.ipynb"))
    assert names == [p.name for p in NOTEBOOKS], f"stale or missing files: run `{REGENERATE}`"
    assert course_notebooks(ROOT / "notebooks") == NOTEBOOKS  # not listed as course notebooks
    for path in STUDENT.glob("*.ipynb"):
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text, path.name


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


def _checkout(root):
    """A minimal course checkout: a notebook, a README with a badge, the package's __init__."""
    (root / "notebooks").mkdir(parents=True)
    nbformat.write(build_notebook("# 01 · Demo", []), root / "notebooks" / "01_demo.ipynb")
    (root / "README.md").write_text(f"[badge]({colab_url('01_demo.ipynb')})\n")
    (root / STUDENT_FOLDER).mkdir()
    nbformat.write(build_notebook("# 01 · Demo", []), root / STUDENT_FOLDER / "01_demo.ipynb")
    (root / "bioimage_course").mkdir()
    init = root / "bioimage_course" / "__init__.py"
    init.write_text(f'REPO_URL = "{REPO_URL}"\n')
    return init


def test_set_repo_repoints_a_fork_and_nothing_outside_it(tmp_path):
    import bioimage_course

    installed = Path(bioimage_course.__file__)
    installed_before = installed.read_bytes()
    init = _checkout(tmp_path)
    fork = "https://github.com/someone/my-course"
    changed = set_repo(fork, tmp_path)
    assert sorted(changed) == sorted(
        [
            init,
            tmp_path / "README.md",
            tmp_path / "notebooks" / "01_demo.ipynb",
            tmp_path / STUDENT_FOLDER / "01_demo.ipynb",
        ]
    )
    assert colab_url("01_demo.ipynb", fork) in (tmp_path / "README.md").read_text()
    assert fork in (tmp_path / "notebooks" / "01_demo.ipynb").read_text()
    assert fork in init.read_text()
    assert installed.read_bytes() == installed_before  # the installed package is untouched
    assert bioimage_course.REPO_URL == REPO_URL


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "http://github.com/a/b",
        "https://github.com/a",
        "https://github.com/a/b/",
        "https://github.com/a/b/tree/main",
        "https://gitlab.com/a/b",
        "https://github.com/a/b?x=1",
        "git@github.com:a/b.git",
    ],
)
def test_set_repo_accepts_only_github_repository_urls(tmp_path, url):
    _checkout(tmp_path)
    with pytest.raises(ValueError, match="https://github.com/OWNER/REPO"):
        set_repo(url, tmp_path)


def test_set_repo_refuses_a_folder_that_is_not_a_checkout(tmp_path):
    (tmp_path / "README.md").write_text("hello\n")
    with pytest.raises(ValueError, match="`root` must be a course checkout"):
        set_repo("https://github.com/a/b", tmp_path)
    assert (tmp_path / "README.md").read_text() == "hello\n"
