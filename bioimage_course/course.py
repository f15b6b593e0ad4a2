"""The notebook contract of the course, in code: building notebooks and checking them.

Every notebook of the course

1. starts with a markdown title, then the *setup* cell (on Google Colab it installs this package
   from the course repository; elsewhere it does nothing), then the *device* cell (what the
   notebook will compute on);
2. has a parameters cell (source starts with ``# Parameters``), the only place to edit to scale up;
3. ends with a ``## Checks`` section whose code cells ``assert`` what the lesson claimed;
4. is stored without outputs, named ``NN_topic.ipynb`` with consecutive numbers from 01.

5. follows the session design: objectives, time and prerequisites in the title cell, sections
   marked core / optional / bonus, key points before the checks, and at least three exercises
   of two kinds or more, each checked by :mod:`bioimage_course.check`.

:func:`notebook_problems` and :func:`session_problems` list the ways a notebook breaks this
contract (the test suite runs them on every notebook); :func:`build_notebook` makes a notebook
that follows the first four points. :func:`student_version` turns a solution notebook into the
one students get: solutions replaced by scaffolds, and a "Run all" that reaches the end.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import nbformat

from . import REPO_URL

SETUP_MARKER = "# Setup: on Google Colab this installs the course package; elsewhere does nothing."
DEVICE_CELL = "from bioimage_course.device import describe_device\n\nprint(describe_device())"
CHECKS_HEADING = "## Checks"
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
STUDENT_FOLDER = "notebooks/student"  # the published student versions, made by `exercises`
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


def colab_url(
    notebook: str | Path,
    repo_url: str = REPO_URL,
    branch: str = "main",
    *,
    folder: str = "notebooks",
) -> str:
    """The Colab address that opens ``notebook`` (from ``folder`` of the course repository).

    >>> colab_url("notebooks/01_digital_images.ipynb", "https://github.com/me/course")
    'https://colab.research.google.com/github/me/course/blob/main/notebooks/01_digital_images.ipynb'
    >>> colab_url("01_digital_images.ipynb", folder="notebooks/student").split("/blob/main/")[1]
    'notebooks/student/01_digital_images.ipynb'
    """
    slug = repo_url.removeprefix("https://github.com/").rstrip("/")
    name = Path(notebook).name
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{folder}/{name}"


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


SESSION_LINES = ("**Objectives**", "**Time**", "**Prerequisites**")
SECTION_MARKS = ("core", "optional", "bonus")
NUMBERED_SECTION = re.compile(r"^## \d+\. ")
TASK_HEADER = re.compile(r"^\*\*Exercise (\d\d)\.(\d+)\*\* · ([a-z ]+) · ~(\d+) min")
EXERCISE_CELL = re.compile(r"^# Exercise (\d\d)\.(\d+): \S")
MIN_EXERCISES, MIN_KINDS = 3, 2


def _headings(nb) -> list[tuple[int, str]]:
    """``(cell index, line)`` of every ``## `` heading in the markdown cells."""
    return [
        (i, line.strip())
        for i, c in enumerate(nb.cells)
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]


def session_problems(nb: nbformat.NotebookNode, number: str) -> list[str]:
    """Ways in which notebook ``number`` (``"02"``) breaks the session design and exercise
    format of the course (an empty list when it follows them).

    Objectives, time and prerequisites in the title cell; a core / optional / bonus mark on
    every numbered section; ``## Key points`` just before ``## Checks``; at least three
    exercises of at least two kinds, each a task cell (``**Exercise NN.k** · kind · ~M min``,
    naming in backticks what the check needs) and a code cell with a solution block and the
    check call; ``check.finish("NN")`` in the Checks.
    """
    problems = []
    title = nb.cells[0].source.splitlines() if nb.cells else []
    for start in SESSION_LINES:
        if not any(line.startswith(start) for line in title):
            problems.append(f"the title cell has no line starting with {start}")
    headings = _headings(nb)
    for _, line in headings:
        if NUMBERED_SECTION.match(line) and not line.endswith(
            tuple(f" · {m}" for m in SECTION_MARKS)
        ):
            problems.append(f"section {line!r} does not end with · core, · optional or · bonus")
    names = [line for _, line in headings]
    if CHECKS_HEADING in names:
        before = names[: names.index(CHECKS_HEADING)]
        if not before or before[-1] != "## Key points":
            problems.append('"## Key points" does not come just before "## Checks"')
    problems += _exercise_problems(nb, number)
    problems += _names_used_after_exercises(nb)
    checks = [i for i, line in headings if line == CHECKS_HEADING]
    after = nb.cells[checks[-1] :] if checks else []
    if not any(f'check.finish("{number}")' in c.source for c in after if c.cell_type == "code"):
        problems.append(f'the Checks section does not call check.finish("{number}")')
    return problems


def _python(source: str):
    """The module AST of a code cell without its IPython magics, or None if it does not parse."""
    import ast

    lines = [line for line in source.splitlines() if line.lstrip()[:1] not in "%!"]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _bound_names(tree) -> set[str]:
    """Names a cell binds at its top level (assignments, defs, classes, imports, loops)."""
    import ast

    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
    return names


def _names_used_after_exercises(nb: nbformat.NotebookNode) -> list[str]:
    """Later cells that read a name only a solution block defines: in a student notebook
    that name is missing or still ``...``, and "Run all" would stop there."""
    import ast

    problems, owned = [], {}  # name -> exercise cell index that defines it
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if is_exercise_cell(cell):
            blocks = re.findall(
                rf"^[ \t]*{BEGIN_SOLUTION}\n(.*?)^[ \t]*{END_SOLUTION}", cell.source, re.M | re.S
            )
            tree = _python(textwrap.dedent("\n".join(blocks)))
            owned.update(dict.fromkeys(_bound_names(tree) if tree else (), i))
            continue
        tree = _python(cell.source)
        if tree is None:
            continue
        used = {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        for name in sorted(used & set(owned) - _bound_names(tree)):
            problems.append(
                f"cell {i} uses `{name}`, which only the solution in cell {owned[name]} defines"
            )
        for name in _bound_names(tree):
            owned.pop(name, None)  # redefined outside an exercise: later cells may use it
    return problems


def _exercise_problems(nb: nbformat.NotebookNode, number: str) -> list[str]:
    """Problems of the exercises of notebook ``number``: see :func:`session_problems`."""
    from .check import exercises

    problems, tasks, cells = [], {}, {}
    for i, cell in enumerate(nb.cells):
        first = cell.source.strip().splitlines()[:1]
        header = TASK_HEADER.match(first[0]) if first and cell.cell_type == "markdown" else None
        code = EXERCISE_CELL.match(first[0]) if first and cell.cell_type == "code" else None
        if header:
            tasks[f"{header[1]}.{header[2]}"] = (i, header[3], int(header[4]), cell.source)
        if code:
            cells[f"{code[1]}.{code[2]}"] = (i, cell.source)
    ids = sorted(set(tasks) | set(cells), key=lambda e: (e[:2], int(e[3:])))
    expected = [f"{number}.{k}" for k in range(1, len(ids) + 1)]
    if ids != expected:
        problems.append(f"exercises must be numbered {number}.1, {number}.2, ..., got {ids}")
    if len(ids) < MIN_EXERCISES or len({t[1] for t in tasks.values()}) < MIN_KINDS:
        problems.append(
            f"fewer than {MIN_EXERCISES} exercises or fewer than {MIN_KINDS} kinds: "
            f"{sorted((e, t[1]) for e, t in tasks.items())}"
        )
    registered = {ex.id: ex for ex in exercises(number)}
    if not registered:
        problems.append(f"no checks for notebook {number} (bioimage_course.check.nb{number})")
    for eid in ids:
        if eid not in tasks or eid not in cells or tasks[eid][0] > cells[eid][0]:
            problems.append(f"exercise {eid} needs a task cell followed by its code cell")
            continue
        _, kind, minutes, task = tasks[eid]
        source = cells[eid][1]
        if BEGIN_SOLUTION not in source or END_SOLUTION not in source:
            problems.append(f"exercise {eid}: its code cell has no solution block")
        ex = registered.get(eid)
        if ex is None:
            problems.append(f"exercise {eid} has no check in bioimage_course.check.nb{number}")
            continue
        if f"check.nb{number}.{ex.name}(globals())" not in source:
            problems.append(f"exercise {eid}: its cell does not call check.nb{number}.{ex.name}")
        if (kind, minutes) != (ex.kind, ex.minutes):
            problems.append(
                f"exercise {eid}: task says {kind}, ~{minutes} min; check says "
                f"{ex.kind}, ~{ex.minutes} min"
            )
        missing = [n for n in ex.needs if not re.search(rf"`{re.escape(n)}(`|[^\w`][^`]*`)", task)]
        if missing:
            problems.append(f"exercise {eid}: the task does not name {missing} in backticks")
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


BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
# "#> code", or "# > code" as ruff format writes it: a line of the scaffold shown to students
SCAFFOLD = re.compile(r"^(?P<indent>\s*)# ?>(?: |$)(?P<code>.*)$")
FINISH_CALL = re.compile(r"check\.finish\(\s*([\"'])(\d\d)\1\s*(?:,\s*strict\s*=\s*True\s*)?\)")


def student_cell(source: str) -> str:
    """The student version of an exercise cell: each solution block replaced by its scaffold.

    A solution block runs from a ``### BEGIN SOLUTION`` line to a ``### END SOLUTION`` line.
    The ``#>`` lines after it (up to the next block) are its scaffold (``# >``, as ``ruff
    format`` rewrites them, counts too): uncommented, they take
    the block's place; a block without scaffold becomes ``# your code here``. All other lines
    stay, so the learner sees the setup and the check call.

    >>> print(student_cell("# Exercise 99.1: add\\n### BEGIN SOLUTION\\nx = 1 + 1\\n"
    ...                    "### END SOLUTION\\n#> x = ...\\ncheck.nb99.add(globals())"))
    # Exercise 99.1: add
    x = ...
    check.nb99.add(globals())
    """
    lines = source.splitlines()
    blocks: list[tuple[int, int]] = []  # (BEGIN line, END line) indices
    begin = None
    for i, line in enumerate(lines):
        if line.strip() == BEGIN_SOLUTION:
            if begin is not None:
                raise ValueError(f"line {i + 1}: {BEGIN_SOLUTION!r} inside a solution block")
            begin = i
        elif line.strip() == END_SOLUTION:
            if begin is None:
                raise ValueError(f"line {i + 1}: {END_SOLUTION!r} without {BEGIN_SOLUTION!r}")
            blocks.append((begin, i))
            begin = None
    if begin is not None:
        raise ValueError(f"a {BEGIN_SOLUTION!r} block is not closed by {END_SOLUTION!r}")
    if not blocks:
        return source
    scaffolds: list[list[str]] = [[] for _ in blocks]
    owner = {}  # line index -> block whose scaffold it is (the last block above it)
    for i, line in enumerate(lines):
        scaffold = SCAFFOLD.match(line)
        if scaffold and not any(a <= i <= b for a, b in blocks):
            k = max([n for n, (a, _) in enumerate(blocks) if a < i], default=0)
            owner[i] = k
            scaffolds[k].append(scaffold["indent"] + scaffold["code"])
    out = []
    for i, line in enumerate(lines):
        starts = [n for n, (a, _) in enumerate(blocks) if a == i]
        if starts:
            indent = line[: len(line) - len(line.lstrip())]
            out += scaffolds[starts[0]] or [f"{indent}# your code here"]
            a, b = blocks[starts[0]]
            body = lines[a + 1 : b]
            out += [""] * (len(body) - len("\n".join(body).rstrip("\n ").split("\n")))
        elif i not in owner and not any(a <= i <= b for a, b in blocks):
            out.append(line)
    return "\n".join(out)


def is_exercise_cell(cell) -> bool:
    """Whether ``cell`` is an exercise's code cell (it holds a solution block)."""
    return cell.cell_type == "code" and any(
        line.strip() == BEGIN_SOLUTION for line in cell.source.splitlines()
    )


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` for students: solutions replaced by scaffolds (:func:`student_cell`).

    ``check.finish("NN")`` becomes ``check.finish("NN", strict=False)``, which reports open
    exercises instead of failing, so "Run all" reaches the end of the student notebook.
    """
    copy = nbformat.from_dict(nb)
    for index, cell in enumerate(copy.cells):
        if cell.cell_type != "code":
            continue
        if is_exercise_cell(cell):
            try:
                cell.source = student_cell(cell.source)
            except ValueError as err:
                raise ValueError(f"cell {index}: {err}") from None
        cell.source = FINISH_CALL.sub(r'check.finish("\2", strict=False)', cell.source)
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
    notebooks = sorted((root / "notebooks").glob("*.ipynb"))
    students = sorted((root / STUDENT_FOLDER).glob("*.ipynb"))
    targets = [package, root / "README.md", *notebooks, *students]
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
