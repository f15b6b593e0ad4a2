"""The machinery behind every exercise check: look the learner's names up, run the check,
turn what went wrong into one line of feedback, and remember which exercises are done.

A check is a plain function decorated with :func:`exercise`. It receives the learner's values
(looked up by name in the notebook's ``globals()``), tests them on inputs it makes itself, and

- returns normally (optionally a one-line string: why the result matters) when they are right,
- raises :class:`Hint` with a message that names the misconception when they are not.

The decorated object is an :class:`Exercise`; calling it with a namespace prints one line and
returns ``True`` or ``False``. It never raises: a missing name, a value that is still ``...``
or a learner's function that raises all become feedback.

Examples
--------
>>> @exercise("99.1", needs=("double",), kind="write the function", minutes=2,
...           wrong=[Attempt({"double": lambda x: x + 2}, hint_contains="multiply")])
... def double(double):
...     if double(5) != 10:
...         raise Hint("multiply by two; adding two is a different operation")
>>> double({})
Exercise 99.1: define `double` first (it is not defined yet).
False
>>> double({"double": lambda x: 2 * x})
Exercise 99.1: done.
True
>>> double({"double": lambda x: x + 2})
Exercise 99.1: not yet. multiply by two; adding two is a different operation
False
"""

from __future__ import annotations

import functools
import importlib
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

KINDS = ("predict then run", "write the function", "find the bug", "tune and explain", "bonus")
EXERCISE_ID = re.compile(r"^(\d\d)\.([1-9]\d?)$")

REGISTRY: dict[str, Exercise] = {}
"""Every exercise defined so far, by id (``"02.1"``); a module ``nbNN`` adds its own on import."""


class Hint(Exception):
    """Raised by a check for a wrong answer; the message names the misconception."""


class _Blank(Exception):
    """A learner's function returned ``...``: the exercise has not been started."""


class _LearnerError(Exception):
    """A learner's function raised; carries its name and the original exception."""

    def __init__(self, name: str, error: BaseException):
        super().__init__(name, error)
        self.name, self.error = name, error


@dataclass(frozen=True)
class Attempt:
    """A typical wrong answer and a piece of the hint it must get.

    ``values`` maps every name the exercise needs to a wrong value; the test suite calls the
    check with them and asserts that it fails with a message containing ``hint_contains``.
    """

    values: Mapping[str, object]
    hint_contains: str


@dataclass
class Exercise:
    """One exercise: its id, what it needs, its check, and how it last went in this kernel."""

    id: str
    needs: tuple[str, ...]
    kind: str
    minutes: int
    wrong: tuple[Attempt, ...]
    check: Callable = field(repr=False)
    passed: bool | None = None
    solution_values: list = field(default_factory=list, repr=False)
    """Values seen on the last passing run: the learner's non-function values and what their
    functions returned on the check's inputs (the test suite asserts no hint prints them)."""

    @property
    def notebook(self) -> str:
        return self.id[:2]

    @property
    def name(self) -> str:
        return self.check.__name__

    def __call__(self, namespace: Mapping[str, object]) -> bool:
        """Check the learner's names in ``namespace`` (pass ``globals()``); print one line."""
        passed, message = self.evaluate(namespace)
        self.passed = passed
        print(f"Exercise {self.id}: {message}")
        return passed

    def evaluate(self, namespace: Mapping[str, object]) -> tuple[bool, str]:
        """``(passed, message)`` without printing and without recording the outcome."""
        if not isinstance(namespace, Mapping):
            raise TypeError(
                f"`namespace` must be a mapping of names (call it with globals()), "
                f"got {type(namespace).__name__}"
            )
        values, seen = {}, []
        for name in self.needs:
            if name not in namespace:
                return False, f"define `{name}` first (it is not defined yet)."
            value = namespace[name]
            if value is Ellipsis:
                return False, f"define `{name}` first (it is still `...`)."
            values[name] = _watch(name, value, seen)
            if not callable(value):
                seen.append(value)
        try:
            why = self.check(**values)
        except Hint as hint:
            return False, f"not yet. {hint}"
        except _Blank as blank:
            return False, f"define `{blank}` first (it still returns `...`)."
        except _LearnerError as err:
            return False, f"not yet. your `{err.name}` raised {_describe(err.error)}"
        except Exception as err:  # the learner's value broke the check (wrong type, shape)
            names = ", ".join(f"`{n}`" for n in self.needs)
            return False, f"not yet. checking your {names} raised {_describe(err)}"
        self.solution_values = seen
        return True, "done." + (f" {why}" if why else "")


def require_words(text: object, *, words: int = 15) -> None:
    """Raise :class:`Hint` unless ``text`` is a written answer of at least ``words`` words.

    >>> try:
    ...     require_words("too short")
    ... except Hint as hint:
    ...     print(hint)
    write `explanation` as a string of at least 15 words (a sentence or two)
    """
    if not isinstance(text, str) or len(text.split()) < words:
        raise Hint(f"write `explanation` as a string of at least {words} words (a sentence or two)")


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def _watch(name: str, value: object, seen: list) -> object:
    """``value``, or for a plain function a wrapper that notices ``...`` and exceptions."""
    if not isinstance(value, (types.FunctionType, types.MethodType, functools.partial)):
        return value

    @functools.wraps(value)
    def watched(*args, **kwargs):
        try:
            result = value(*args, **kwargs)
        except (Hint, _Blank, _LearnerError):
            raise
        except Exception as err:
            raise _LearnerError(name, err) from err
        if result is Ellipsis:
            raise _Blank(name)
        seen.append(result)
        return result

    return watched


def exercise(
    exercise_id: str,
    *,
    needs: tuple[str, ...],
    kind: str,
    minutes: int,
    wrong: list[Attempt],
) -> Callable[[Callable], Exercise]:
    """Decorator that turns a check function into a registered :class:`Exercise`.

    Parameters
    ----------
    exercise_id : str
        ``"NN.k"``: notebook number and the exercise's number within it.
    needs : tuple of str
        The names the learner defines; the check function takes them as keyword arguments.
    kind : str
        One of :data:`KINDS`.
    minutes : int
        How long the exercise should take.
    wrong : list of Attempt
        At least one typical mistake, each defining every name in ``needs``.
    """
    if not isinstance(exercise_id, str) or not EXERCISE_ID.match(exercise_id):
        raise ValueError(f"`exercise_id` must look like '02.1', got {exercise_id!r}")
    if isinstance(needs, str) or not needs or not all(isinstance(n, str) for n in needs):
        raise ValueError(f"`needs` must be a non-empty tuple of names, got {needs!r}")
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}, got {kind!r}")
    if not isinstance(minutes, int) or minutes <= 0:
        raise ValueError(f"`minutes` must be a whole number > 0, got {minutes!r}")
    wrong = tuple(wrong)
    if not wrong or not all(isinstance(a, Attempt) for a in wrong):
        raise ValueError(f"`wrong` must be a non-empty list of Attempt, got {wrong!r}")
    for attempt in wrong:
        if set(attempt.values) != set(needs):
            raise ValueError(
                f"every Attempt of exercise {exercise_id} must define exactly {sorted(needs)}, "
                f"got {sorted(attempt.values)}"
            )

    def register(check: Callable) -> Exercise:
        ex = Exercise(exercise_id, tuple(needs), kind, minutes, wrong, check)
        functools.update_wrapper(ex, check, assigned=("__doc__", "__module__", "__qualname__"))
        REGISTRY[exercise_id] = ex
        return ex

    return register


def exercises(notebook: str) -> list[Exercise]:
    """The exercises of notebook ``notebook`` (``"02"``) in order (imports ``check.nbNN``)."""
    if not isinstance(notebook, str) or not re.fullmatch(r"\d\d", notebook):
        raise ValueError(f"`notebook` must be a two-digit number such as '02', got {notebook!r}")
    module = f"bioimage_course.check.nb{notebook}"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name != module:  # a module the checks need is missing: say so
            raise
        # no checks module: only exercises defined elsewhere (a demo, a test) count
    found = [ex for ex in REGISTRY.values() if ex.notebook == notebook]
    return sorted(found, key=lambda ex: int(ex.id[3:]))


def finish(notebook: str, *, strict: bool = True) -> list[str]:
    """Report the exercises of ``notebook`` done and open in this kernel; return the open ids.

    With ``strict=True`` (solution notebooks) an open exercise raises ``AssertionError``; with
    ``strict=False`` (student notebooks) the table is printed and nothing is raised.
    """
    found = exercises(notebook)
    if not found:
        raise ValueError(f"notebook {notebook} has no exercises in bioimage_course.check")
    print(f"Exercises of notebook {notebook}:")
    for ex in found:
        state = {True: "done", False: "not yet", None: "not run"}[ex.passed]
        print(f"  {ex.id}  {state:<8} {ex.kind} (~{ex.minutes} min): `{ex.name}`")
    still_open = [ex.id for ex in found if not ex.passed]
    done = len(found) - len(still_open)
    print(f"{done} of {len(found)} done." + ("" if still_open else " Well done!"))
    if strict and still_open:
        raise AssertionError(f"exercises not passed in this kernel: {', '.join(still_open)}")
    return still_open
