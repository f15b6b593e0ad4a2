"""The notebook contract of the course, in code: building notebooks and checking them.

Every notebook of the course

1. starts with a markdown title, then the *setup* cell (on Google Colab it installs this package
   from the course repository; elsewhere it does nothing), then the *device* cell (what the
   notebook will compute on);
2. has a parameters cell (source starts with ``# Parameters``), the only place to edit to scale up;
3. ends with a ``## Checks`` section whose code cells ``assert`` what the lesson claimed;
4. is stored without outputs, named ``NN_topic.ipynb`` with consecutive numbers from 01.

:func:`notebook_problems` lists the ways a notebook breaks this contract (the test suite runs
it on every notebook); :func:`build_notebook` makes a notebook that follows it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from . import REPO_URL

SETUP_MARKER = "# Setup: on Google Colab this installs the course package; elsewhere does nothing."
DEVICE_CELL = "from bioimage_course.device import describe_device\n\nprint(describe_device())"
CHECKS_HEADING = "## Checks"
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
GITHUB_REPO = re.compile(r"^https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$")


def setup_cell(repo_url: str = REPO_URL) -> str:
    """Source of the first code cell of every notebook.

    On Colab it installs the course package *without* its dependencies, then the few
    :data:`bioimage_course.NOTEBOOK_REQUIREMENTS` that Colab lacks (pip keeps what is already
    installed), so Colab's torch, numpy and Jupyter stay as they are.

    >>> print(setup_cell("https://example.org/me/course").splitlines()[0])
    # Setup: on Google Colab this installs the course package; elsewhere does nothing.
    """
    return (
        f"{SETUP_MARKER}\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import importlib\n"
        "    import subprocess\n"
        "\n"
        f'    REPO = "{repo_url}"\n'
        '    pip = [sys.executable, "-m", "pip", "install", "--quiet"]\n'
        '    subprocess.run([*pip, "--no-deps", f"bioimage-course @ git+{REPO}"], check=True)\n'
        "    importlib.invalidate_caches()  # let Python see the package pip just added\n"
        "    from bioimage_course import NOTEBOOK_REQUIREMENTS\n"
        "\n"
        "    subprocess.run([*pip, *NOTEBOOK_REQUIREMENTS], check=True)\n"
        "\n"
        "%matplotlib inline"
    )


def colab_url(notebook: str | Path, repo_url: str = REPO_URL, branch: str = "main") -> str:
    """The Colab address that opens ``notebook`` from the course repository.

    >>> colab_url("notebooks/01_digital_images.ipynb", "https://github.com/me/course")
    'https://colab.research.google.com/github/me/course/blob/main/notebooks/01_digital_images.ipynb'
    """
    slug = repo_url.removeprefix("https://github.com/").rstrip("/")
    name = Path(notebook).name
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/notebooks/{name}"


def build_notebook(title: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """Make a course notebook: ``title`` markdown, setup cell, device cell, then ``cells``.

    Parameters
    ----------
    title : str
        Markdown of the first cell (``# 02 · Convolutions`` and an introduction).
    cells : list of (kind, source)
        ``kind`` is ``"md"`` or ``"code"``. A code cell whose source starts with
        ``# Parameters`` is tagged ``parameters`` (the papermill convention).

    Examples
    --------
    >>> nb = build_notebook("# 99 · Demo", [("code", "# Parameters\\nseed = 0"),
    ...                                     ("md", "## Checks"), ("code", "assert seed == 0")])
    >>> [c.cell_type for c in nb.cells]
    ['markdown', 'code', 'code', 'code', 'markdown', 'code']
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(title.strip()),
        nbformat.v4.new_code_cell(setup_cell()),
        nbformat.v4.new_code_cell(DEVICE_CELL),
    ]
    for kind, source in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(source.strip()))
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(source.strip())
            if cell.source.startswith("# Parameters"):
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
        else:
            raise ValueError(f"cell kind must be 'md' or 'code', got {kind!r}")
    return nb


def strip_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs and execution counts in place and return ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def save_notebook(nb: nbformat.NotebookNode, path: str | Path) -> Path:
    """Write ``nb`` without outputs to ``path`` (validated, written atomically)."""
    path = Path(path)
    strip_outputs(nb)
    nbformat.validate(nb)
    tmp = path.with_name(path.name + ".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
    return path


def notebook_problems(nb: nbformat.NotebookNode, repo_url: str = REPO_URL) -> list[str]:
    """Ways in which ``nb`` breaks the notebook contract (an empty list when it follows it).

    >>> nb = build_notebook("# 99 · Demo", [("code", "# Parameters\\nseed = 0")])
    >>> notebook_problems(nb)
    ['no "## Checks" section']
    """
    problems = []
    cells = nb.cells
    code = [c for c in cells if c.cell_type == "code"]
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        problems.append("the first cell is not a markdown title ('# NN · Topic')")
    if not code or code[0].source != setup_cell(repo_url):
        problems.append(
            "the first code cell is not the setup cell (bioimage_course.course.setup_cell)"
        )
    if len(code) < 2 or code[1].source != DEVICE_CELL:
        problems.append("the second code cell is not the device summary cell")
    if not any(c.source.startswith("# Parameters") for c in code):
        problems.append("no parameters cell (a code cell starting with '# Parameters')")
    stored = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.get("outputs")]
    if stored:
        problems.append(f"outputs are stored in cells {stored}")
    checks = [
        i
        for i, c in enumerate(cells)
        if c.cell_type == "markdown" and c.source.strip().splitlines()[:1] == [CHECKS_HEADING]
    ]
    if not checks:
        problems.append(f'no "{CHECKS_HEADING}" section')
    else:
        after = cells[checks[-1] + 1 :]
        if any(c.cell_type == "markdown" and c.source.startswith("## ") for c in after):
            problems.append(f'"{CHECKS_HEADING}" is not the last section')
        if not any(c.cell_type == "code" and "assert " in c.source for c in after):
            problems.append(f'the "{CHECKS_HEADING}" section asserts nothing')
    return problems


def course_notebooks(folder: str | Path, *, strict: bool = False) -> list[Path]:
    """The course notebooks (``NN_topic.ipynb``) in ``folder``, in order.

    With ``strict=True``, a gap in the numbering (01, 02, 04) raises ``ValueError``.
    """
    paths = sorted(p for p in Path(folder).glob("*.ipynb") if NOTEBOOK_NAME.match(p.name))
    numbers = [int(p.name[:2]) for p in paths]
    if strict and numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"notebooks must be numbered 01, 02, ... without gaps, got {numbers}")
    return paths


EXERCISE_MARKER = "# Exercise:"


def student_cell(source: str) -> str:
    """The student version of an exercise cell: the task line and the self-check, no solution.

    The solution is everything between the first line (``# Exercise: ...``) and the final run
    of ``assert`` statements, which stay so students can check their answer.

    >>> print(student_cell("# Exercise: add\\nx = 1 + 1\\nassert x == 2"))
    # Exercise: add
    # Your code here: replace ... and make the check below pass.
    ...
    <BLANKLINE>
    assert x == 2
    """
    lines = source.rstrip().splitlines()
    if not lines or not lines[0].startswith(EXERCISE_MARKER):
        raise ValueError(f"an exercise cell must start with {EXERCISE_MARKER!r}")
    start = len(lines)
    while start > 1 and (
        lines[start - 1].startswith(("assert ", " ", ")")) or not lines[start - 1]
    ):
        start -= 1
    while start < len(lines) and not lines[start].startswith("assert "):
        start += 1
    checks = lines[start:]
    body = ["# Your code here: replace ... and make the check below pass.", "...", ""]
    return "\n".join([lines[0], *body, *checks])


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the solutions of its exercise cells removed (see :func:`student_cell`).

    Exercise cells are tagged ``raises-exception`` so the notebook still runs top to bottom
    before they are solved.
    """
    copy = nbformat.from_dict(nb)
    for cell in copy.cells:
        if cell.cell_type == "code" and cell.source.startswith(EXERCISE_MARKER):
            cell.source = student_cell(cell.source)
            cell.metadata["tags"] = sorted({*cell.metadata.get("tags", []), "raises-exception"})
    return strip_outputs(copy)


def set_repo(repo_url: str, root: str | Path = ".") -> list[Path]:
    """Re-point a course checkout at another repository (a fork): package, notebooks and README.

    Replaces the current :data:`bioimage_course.REPO_URL` in the files of the checkout at
    ``root`` (``README.md``, ``notebooks/*.ipynb``, ``bioimage_course/__init__.py``) and returns
    the files changed. Nothing outside ``root`` is touched, also not an installed copy of the
    package. Used by ``bioimage-course set-repo URL``.
    """
    if not isinstance(repo_url, str) or not GITHUB_REPO.match(repo_url):
        raise ValueError(
            f"`repo_url` must look like https://github.com/OWNER/REPO, got {repo_url!r}"
        )
    root = Path(root)
    package = root / "bioimage_course" / "__init__.py"
    if not (root / "notebooks").is_dir() or not package.is_file():
        raise ValueError(
            f"`root` must be a course checkout (with notebooks/ and bioimage_course/), got {root}"
        )
    old = REPO_URL
    old_slug = old.removeprefix("https://github.com/")
    new_slug = repo_url.removeprefix("https://github.com/")
    targets = [package, root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]
    changed = []
    for path in targets:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = text.replace(old, repo_url).replace(old_slug, new_slug)
        if new != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(path)
            changed.append(path)
    return changed
