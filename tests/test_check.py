"""The exercise framework (bioimage_course.check): lookup, feedback, caught errors, finish,
and the student version of a notebook (bioimage_course.course.student_version)."""

import nbformat
import numpy as np
import pytest

from bioimage_course import check
from bioimage_course.check import REGISTRY, Attempt, Hint, exercise, finish
from bioimage_course.course import build_notebook, session_problems, student_cell, student_version


def _square_check(exercise_id="98.1"):
    @exercise(
        exercise_id,
        needs=("square",),
        kind="write the function",
        minutes=3,
        wrong=[Attempt({"square": lambda x: 2 * x}, hint_contains="doubles")],
    )
    def square(square):
        x = np.arange(5.0)
        out = square(x)
        if np.allclose(out, 2 * x):
            raise Hint("your function doubles; a square multiplies x by itself")
        if not np.allclose(out, x**2):
            raise Hint("compare with x * x on a few numbers")
        return "squares are everywhere in losses (MSE)"

    return square


@pytest.fixture
def square():
    ex = _square_check()
    yield ex
    REGISTRY.pop(ex.id, None)


def test_blank_namespace_asks_to_define_the_name(square, capsys):
    assert square({}) is False
    out = capsys.readouterr().out
    assert out == "Exercise 98.1: define `square` first (it is not defined yet).\n"
    assert "NameError" not in out


def test_ellipsis_and_a_function_returning_ellipsis_count_as_blank(square, capsys):
    assert square({"square": ...}) is False
    assert "define `square` first (it is still `...`)" in capsys.readouterr().out

    def blank(x):
        return ...  # your code

    assert square({"square": blank}) is False
    assert "define `square` first (it still returns `...`)" in capsys.readouterr().out


def test_wrong_attempt_gets_the_hint_not_the_answer(square, capsys):
    for attempt in square.wrong:
        assert square(dict(attempt.values)) is False
        out = capsys.readouterr().out
        assert out.startswith("Exercise 98.1: not yet. ") and attempt.hint_contains in out
    assert square.passed is False


def test_right_answer_is_done_with_the_why(square, capsys):
    assert square({"square": lambda x: x * x, "unrelated": 1}) is True
    assert capsys.readouterr().out == (
        "Exercise 98.1: done. squares are everywhere in losses (MSE)\n"
    )
    assert square.passed is True
    # what the learner's function returned on the check's input is remembered
    assert np.allclose(square.solution_values[0], np.arange(5.0) ** 2)


def test_learner_exceptions_are_caught_and_named(square, capsys):
    def broken(x):
        raise TypeError("unsupported operand")

    assert square({"square": broken}) is False
    out = capsys.readouterr().out
    assert "your `square` raised TypeError: unsupported operand" in out
    # a value that breaks the check itself (not a function at all) is reported too
    assert square({"square": 3}) is False
    assert "checking your `square` raised TypeError" in capsys.readouterr().out


def test_a_namespace_that_is_not_a_mapping_is_refused(square):
    with pytest.raises(TypeError, match="`namespace` must be a mapping"):
        square(["square"])


def test_finish_strict_raises_until_every_exercise_passed(square, capsys):
    square({})
    with pytest.raises(AssertionError, match="98.1"):
        finish("98")
    assert "not yet" in capsys.readouterr().out
    square({"square": lambda x: x**2})
    assert finish("98") == []
    assert "1 of 1 done" in capsys.readouterr().out


def test_finish_not_strict_reports_and_never_raises(square, capsys):
    square.passed = None
    assert finish("98", strict=False) == ["98.1"]
    out = capsys.readouterr().out
    assert "98.1  not run" in out and "0 of 1 done" in out


def test_finish_without_exercises_is_an_error():
    with pytest.raises(ValueError, match="no exercises"):
        finish("97")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"needs": "square"}, "`needs`"),
        ({"kind": "guess"}, "`kind`"),
        ({"minutes": 0}, "`minutes`"),
        ({"wrong": []}, "`wrong`"),
        ({"wrong": [Attempt({"other": 1}, hint_contains="x")]}, "exactly"),
    ],
)
def test_exercise_definitions_are_validated(kwargs, match):
    options = dict(
        needs=("square",),
        kind="bonus",
        minutes=1,
        wrong=[Attempt({"square": 1}, hint_contains="x")],
    )
    with pytest.raises(ValueError, match=match):
        exercise("98.2", **{**options, **kwargs})


def test_exercise_ids_are_validated():
    with pytest.raises(ValueError, match="'02.1'"):
        exercise("2.1", needs=("x",), kind="bonus", minutes=1, wrong=[])


def test_check_modules_are_found_by_notebook_number():
    with pytest.raises(AttributeError):
        check.not_a_module  # noqa: B018


SOLUTION_CELL = """# Exercise 98.1: square
x = 3
### BEGIN SOLUTION
def square(x):
    return x * x
### END SOLUTION
#> def square(x):
#>     return ...  # your code: multiply x by itself
check.nb98.square(globals())"""


def test_student_cell_replaces_the_solution_by_its_scaffold():
    assert student_cell(SOLUTION_CELL) == (
        "# Exercise 98.1: square\nx = 3\ndef square(x):\n"
        "    return ...  # your code: multiply x by itself\ncheck.nb98.square(globals())"
    )


def test_student_cell_reads_scaffolds_as_ruff_format_writes_them():
    formatted = SOLUTION_CELL.replace("#> ", "# > ")
    assert student_cell(formatted) == student_cell(SOLUTION_CELL)


def test_student_cell_without_scaffold_and_indented_blocks():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\nf()"
    assert student_cell(source) == "def f():\n    # your code here\nf()"
    for bad in ("### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION"):
        with pytest.raises(ValueError, match="SOLUTION"):
            student_cell(bad)


def _demo_notebook():
    """A notebook with one exercise whose check is defined in the notebook itself."""
    define = (
        "from bioimage_course.check import Attempt, Hint, exercise\n\n"
        '@exercise("98.1", needs=("square",), kind="write the function", minutes=3,\n'
        '          wrong=[Attempt({"square": abs}, hint_contains="x")])\n'
        "def square_check(square):\n"
        "    if square(3) != 9:\n"
        '        raise Hint("multiply x by itself")'
    )
    solution = SOLUTION_CELL.replace("check.nb98.square", "square_check")
    return build_notebook(
        "# 98 · Demo",
        [
            ("code", "# Parameters\nSEED = 0"),
            ("code", define),
            ("code", solution),
            ("md", "## Checks"),
            ("code", 'from bioimage_course import check\n\ncheck.finish("98")\nassert SEED == 0'),
        ],
    )


def test_student_version_runs_to_the_end_and_reports_open_exercises():
    from nbclient import NotebookClient

    nb = _demo_notebook()
    student = student_version(nb)
    assert "return x * x" not in student.cells[5].source
    assert 'check.finish("98", strict=False)' in student.cells[-1].source
    assert nb.cells[-1].source.count('check.finish("98")') == 1  # the source is unchanged
    NotebookClient(student, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for c in student.cells for o in c.get("outputs", []))
    assert "Exercise 98.1: define `square` first" in text and "0 of 1 done" in text
    solved = nbformat.from_dict(nb)
    NotebookClient(solved, kernel_name="python3").execute()  # strict finish passes
    assert "1 of 1 done" in "".join(o.get("text", "") for o in solved.cells[-1].outputs)


def test_session_problems_name_what_is_missing():
    problems = session_problems(_demo_notebook(), "98")
    assert any("**Objectives**" in p for p in problems)
    assert any("Key points" in p for p in problems)
    assert any("fewer than 3 exercises" in p for p in problems)
    assert any("task cell" in p for p in problems)


def test_session_problems_find_later_cells_that_need_a_solution():
    nb = _demo_notebook()
    nb.cells.insert(6, nbformat.v4.new_code_cell("print(square(4))"))
    problems = session_problems(nb, "98")
    assert "cell 6 uses `square`, which only the solution in cell 5 defines" in problems
    nb.cells[6].source = "def square(x):\n    return x**2\n\n\nprint(square(4))"
    assert not any("uses `square`" in p for p in session_problems(nb, "98"))
