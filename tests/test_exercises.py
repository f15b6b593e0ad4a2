"""Every registered exercise check gives feedback that teaches and never gives the answer away.

- Each typical mistake listed in ``wrong=`` fails with its hint; a blank namespace gets
  "define `x` first"; no message mentions a ``NameError``.
- No feedback to a wrong or blank attempt prints a value of the solution. The solution values
  come from running the solution notebook itself: its code cells are executed in a fresh kernel
  (as a learner would run them) up to and including its last exercise cell, so each check runs
  on the SOLUTION block and what it needs. When a check passes it records the solution's values
  (``Exercise.solution_values``): the values of the names it needs that are not functions, and
  what the solution's functions returned on the check's own inputs. Then, in the same kernel,
  every check is called with each wrong attempt and with a blank namespace, and the test
  asserts that none of those messages contains a solution value written as text.

  A value "written as text" is: a number rendered as an integer, with 1 to 3 decimals, with
  ``%g``/``%.3g``, or as a percentage, matched as a whole number (``201`` does not match inside
  ``2010`` or ``1.201``); array elements and list items (up to 64 of them); a string of 3 or more
  characters, matched case-insensitively as a whole word. Renderings with fewer than two
  significant digits (``4``, ``0.5``, ``50%``) and booleans are skipped: they occur in any
  sentence ("a 3 x 3 kernel"), so a check whose answer is such a number must be read by eye.
"""

import json
import pkgutil
import re
from pathlib import Path

import nbformat
import pytest

import bioimage_course.check
from bioimage_course.check import REGISTRY
from bioimage_course.course import course_notebooks, is_exercise_cell

ROOT = Path(__file__).resolve().parent.parent
for _module in pkgutil.iter_modules(bioimage_course.check.__path__):
    if re.fullmatch(r"nb\d\d", _module.name):
        getattr(bioimage_course.check, _module.name)
EXERCISES = sorted(REGISTRY.values(), key=lambda ex: (ex.notebook, int(ex.id[3:])))
WITH_EXERCISES = [
    p
    for p in course_notebooks(ROOT / "notebooks")
    if any(is_exercise_cell(c) for c in nbformat.read(p, as_version=4).cells)
]


def test_there_are_exercises():
    assert EXERCISES


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.id)
def test_wrong_attempts_fail_with_their_hint(ex):
    for attempt in ex.wrong:
        passed, message = ex.evaluate(dict(attempt.values))
        assert passed is False, f"{ex.id} accepted the wrong attempt {attempt}"
        assert attempt.hint_contains in message, message
        assert message.startswith("not yet. ") and "NameError" not in message


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.id)
def test_blank_namespace_asks_to_define_the_names(ex):
    passed, message = ex.evaluate({})
    assert passed is False and message == f"define `{ex.needs[0]}` first (it is not defined yet)."
    passed, message = ex.evaluate(dict.fromkeys(ex.needs, ...))
    assert passed is False and message.startswith("define `") and "NameError" not in message


def renderings(value, depth=0):
    """The texts a message could use to print ``value`` (see the module docstring)."""
    import numbers

    import numpy as np

    out = set()
    if isinstance(value, (bool, np.bool_)) or depth > 2:
        return out
    if isinstance(value, numbers.Integral):
        out.add(str(int(value)))
    elif isinstance(value, numbers.Real):
        v = float(value)
        if np.isfinite(v):
            forms = [f"{v:.0f}", f"{v:.1f}", f"{v:.2f}", f"{v:.3f}", f"{v:g}", f"{v:.3g}"]
            forms += [f"{v:.0%}", f"{v:.1%}"] if abs(v) <= 1 else []
            out.update(forms)
    elif isinstance(value, str):
        if len(value.strip()) >= 3:
            out.add(value.strip())
        return out
    elif isinstance(value, np.ndarray):
        if value.size <= 64 and value.dtype.kind in "biuf":
            for item in value.ravel().tolist():
                out |= renderings(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in list(value)[:64]:
            out |= renderings(item, depth + 1)
    elif isinstance(value, dict):
        for item in list(value.values())[:64]:
            out |= renderings(item, depth + 1)
    return {t for t in out if t[:1].isalpha() or len(re.sub(r"^[-0.]+|\.?0*%?$", "", t)) >= 2}


def leaks(message, texts):
    """The solution texts that occur in ``message``."""
    found = []
    for text in texts:
        if text[:1].isalpha() or " " in text:
            pattern = r"(?<!\w)" + re.escape(text) + r"(?!\w)"
            flags = re.IGNORECASE
        else:
            pattern, flags = r"(?<![\d.])" + re.escape(text) + r"(?!\d)", 0
        if re.search(pattern, message, flags):
            found.append(text)
    return found


AUDIT_CELL = """
import json as _json
from bioimage_course import check as _check
_report = {}
for _ex in _check.exercises("NUMBER"):
    _texts = set()
    for _v in _ex.solution_values:
        _texts |= renderings(_v)
    _messages = [_ex.evaluate(dict(_a.values))[1] for _a in _ex.wrong]
    _messages.append(_ex.evaluate({})[1])
    _report[_ex.id] = {"passed": bool(_ex.passed), "texts": sorted(_texts),
                       "messages": _messages}
print("AUDIT" + _json.dumps(_report))
"""


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.stem)
def test_no_message_reveals_a_solution_value(path):
    import inspect

    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    last = max(i for i, c in enumerate(nb.cells) if is_exercise_cell(c))
    nb.cells = nb.cells[: last + 1]
    helper = "import re\n" + inspect.getsource(renderings)
    nb.cells.append(nbformat.v4.new_code_cell(helper))
    nb.cells.append(nbformat.v4.new_code_cell(AUDIT_CELL.replace("NUMBER", path.name[:2])))
    NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    report = json.loads(text.split("AUDIT", 1)[1])
    assert report, f"no exercises of {path.stem} ran"
    for eid, entry in report.items():
        assert entry["passed"], f"exercise {eid} did not pass on the solution notebook"
        for message in entry["messages"]:
            assert "NameError" not in message, (eid, message)
            found = leaks(message, entry["texts"])
            assert not found, f"{eid} prints the solution's {found}: {message}"


def test_leak_detection_finds_a_printed_answer():
    texts = renderings(201.06) | renderings("bilinear") | renderings([4, 12])
    assert leaks("not yet. the answer is about 201 pixels", texts) == ["201"]
    assert leaks("not yet. use Bilinear interpolation", texts) == ["bilinear"]
    assert leaks("not yet. a 12-bit camera", texts) == ["12"]
    assert not leaks("not yet. 2010 or 1.201 or 4 pixels", texts)
