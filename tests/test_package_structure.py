"""The helper package stays small enough to read: short modules, short functions, no private
names borrowed across modules, and every name the notebooks and the README use importable."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bioimage_course"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def function_lengths(source: str):
    """``(name, first line, lines of code)`` of every function: the lines from the first
    statement after the docstring to the end, blank lines and comment-only lines excluded."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if ast.get_docstring(node) is not None:
            body = body[1:]
        if not body:
            continue
        code = [
            line
            for line in lines[body[0].lineno - 1 : node.end_lineno]
            if line.strip() and not line.strip().startswith("#")
        ]
        yield node.name, node.lineno, len(code)


def test_function_lengths_counts_code_only():
    source = '''
def f(x):
    """A docstring
    of three lines.
    """
    # a comment

    y = x + 1
    return y
'''
    assert list(function_lengths(source)) == [("f", 2, 2)]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_are_short(path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [(n, line, k) for n, line, k in function_lengths(source) if k > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines of code: {long}"


def _imports(path: Path):
    """``(module imported from, names)`` of every ``from ... import`` in a package module."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module, [alias.name for alias in node.names]


def test_no_private_names_are_imported_across_modules():
    borrowed = [
        f"{path.relative_to(ROOT)}: from {module} import {name}"
        for path in MODULES
        for module, names in _imports(path)
        if module.startswith("bioimage_course")
        for name in names
        if name.startswith("_") and name != "__version__"
    ]
    assert not borrowed, borrowed


def _code_cells():
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(notebook.read_text())["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                # IPython magics and shell lines are not Python
                lines = [line for line in source.splitlines() if line.lstrip()[:1] not in "%!"]
                yield notebook.name, "\n".join(lines)
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S):
        yield "README.md", block


def _used_names():
    """Every ``from bioimage_course... import name``, ``import bioimage_course.x as y`` plus
    the attributes used on such aliases, and ``bioimage_course.x.y`` written in the README."""
    used = set()
    aliases_of = {}  # per notebook: an import in one cell serves the cells after it
    for where, source in _code_cells():
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        aliases = aliases_of.setdefault(where, {})
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "bioimage_course"
            ):
                for alias in node.names:
                    used.add((where, node.module, alias.name))
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("bioimage_course"):
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                chain, value = [node.attr], node.value
                while isinstance(value, ast.Attribute):
                    chain.append(value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in aliases:
                    dotted = aliases[value.id].split(".") + chain[::-1]
                    used.add((where, ".".join(dotted[:-1]), dotted[-1]))
    readme = (ROOT / "README.md").read_text()
    for dotted in re.findall(r"`(bioimage_course(?:\.\w+)+)", readme):
        module, name = dotted.rsplit(".", 1)
        used.add(("README.md", module, name))
    return sorted(used)


def _resolve(module: str, name: str):
    """The object ``module.name``, where ``module`` may itself end in attributes."""
    try:
        return importlib.import_module(f"{module}.{name}")  # a submodule
    except ModuleNotFoundError:
        pass
    parts = module.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        for attr in parts[k:] + [name]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(module)


def test_every_name_the_notebooks_and_readme_use_is_importable():
    used = _used_names()
    assert len(used) > 50  # the notebooks do use the package
    missing = []
    for where, module, name in used:
        try:
            _resolve(module, name)
        except (AttributeError, ModuleNotFoundError):
            missing.append(f"{where}: {module}.{name}")
    assert not missing, missing
