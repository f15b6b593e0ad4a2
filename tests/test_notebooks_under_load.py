"""Interactive cells never hang a headless run, also when the machine is busy.

``ipywidgets.interact`` cells hung ``bioimage-course run`` at random on a loaded machine (see
``plot.interactive_figure`` for why). Here both cores are kept busy by child processes the test
starts and stops itself, and every notebook with an interactive cell is executed three times
through the course runner, up to and including its last interactive cell (the cells after it
are run by the nbval pass of the suite), under a generous cell timeout. One more run goes
through plain nbclient without the headless flag, as ``jupyter nbconvert --execute`` would: the
live widgets are created then, and must not block either.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from bioimage_course import HEADLESS_ENV
from bioimage_course.cli import run_notebook

ROOT = Path(__file__).resolve().parents[1]
MARK = "interactive_figure("
CELL_TIMEOUT = 600  # seconds: only a hang reaches it
BUSY_SECONDS = 1800  # the busy children stop by themselves even if the test process dies


def _interactive_notebooks() -> list[Path]:
    return [
        p
        for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        if any(MARK in c.source for c in nbformat.read(p, as_version=4).cells)
    ]


def _up_to_last_interactive_cell(path: Path, folder: Path) -> Path:
    """A copy of the notebook in ``folder`` that ends with its last interactive cell."""
    nb = nbformat.read(path, as_version=4)
    last = max(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and MARK in c.source)
    nb.cells = nb.cells[: last + 1]
    copy = folder / path.name
    nbformat.write(nb, copy)
    return copy


@pytest.fixture(scope="module")
def busy_cores():
    loop = f"import time\nend = time.time() + {BUSY_SECONDS}\nwhile time.time() < end: pass"
    children = [
        subprocess.Popen([sys.executable, "-c", loop]) for _ in range(max(os.cpu_count() or 2, 2))
    ]
    yield len(children)
    for child in children:
        child.kill()
        child.wait()


NOTEBOOKS = _interactive_notebooks()


def test_the_interactive_notebooks_are_found():
    names = [p.name[:2] for p in NOTEBOOKS]
    assert {"02", "03", "04", "06", "07"} <= set(names), names


@pytest.mark.parametrize("attempt", [1, 2, 3])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runner_completes_under_load(busy_cores, tmp_path, path, attempt):
    copy = _up_to_last_interactive_cell(path, tmp_path)
    result = run_notebook(copy, tmp_path / "executed", timeout=CELL_TIMEOUT)
    assert result.ok, result.error
    executed = nbformat.read(tmp_path / "executed" / copy.name, as_version=4)
    last = executed.cells[-1]
    assert any("image/png" in o.get("data", {}) for o in last.outputs)  # the static figure
    assert not any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in last.outputs
    )


def test_live_widgets_do_not_block_a_plain_executor(busy_cores, tmp_path):
    from nbclient import NotebookClient

    path = next(p for p in NOTEBOOKS if p.name.startswith("04"))
    copy = _up_to_last_interactive_cell(path, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != HEADLESS_ENV}
    nb = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=env)
    outputs = nb.cells[-1].outputs
    bundles = [o.get("data", {}) for o in outputs]
    live = [b for b in bundles if "application/vnd.jupyter.widget-view+json" in b]
    assert len(live) == 1 and "image/png" in live[0]  # one live figure, with its static fallback
