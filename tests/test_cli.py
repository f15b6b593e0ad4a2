"""The `bioimage-course` runner: success, failure reporting, selection, output location."""

import subprocess
import sys

import nbformat
import pytest

from bioimage_course.cli import UsageError, main, select_notebooks
from bioimage_course.course import build_notebook, course_notebooks, save_notebook


def _course(folder, bodies):
    folder.mkdir()
    for i, body in enumerate(bodies, start=1):
        nb = build_notebook(
            f"# {i:02d} · Demo",
            [
                ("code", "# Parameters\nx = 1"),
                ("code", body),
                ("md", "## Checks"),
                ("code", "assert x == 1"),
            ],
        )
        save_notebook(nb, folder / f"{i:02d}_demo_{i}.ipynb")
    return folder


def test_run_writes_executed_copies_and_html(tmp_path, capsys):
    nbs = _course(tmp_path / "notebooks", ["y = x + 1\nprint('y is', y)"])
    sources_before = {p.name: p.read_bytes() for p in nbs.iterdir()}
    out = tmp_path / "build"
    assert main(["run", "--notebooks", str(nbs), "--output", str(out)]) == 0
    executed = nbformat.read(out / "01_demo_1.ipynb", as_version=4)
    texts = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert "y is 2\n" in texts
    assert "y is 2" in (out / "01_demo_1.html").read_text()
    assert {p.name: p.read_bytes() for p in nbs.iterdir()} == sources_before  # sources untouched
    table = capsys.readouterr().out
    assert "01_demo_1" in table and " ok " in table


def test_failing_notebook_names_the_cell_and_exits_nonzero(tmp_path, capsys):
    nbs = _course(tmp_path / "notebooks", ["y = 1", "boom = 1 / 0  # the broken cell"])
    code = main(["run", "--notebooks", str(nbs), "--output", str(tmp_path / "build")])
    assert code == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "FAILED 02_demo_2.ipynb" in text
    assert "boom = 1 / 0  # the broken cell" in text
    assert "ZeroDivisionError" in text
    assert "code cell 4 of 5" in text
    assert "01_demo_1" in text and "FAILED" in text


def test_console_script_exit_status(tmp_path):
    nbs = _course(tmp_path / "notebooks", ["raise RuntimeError('stop here')"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bioimage_course.cli",
            "run",
            "--notebooks",
            str(nbs),
            "--output",
            str(tmp_path / "build"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "RuntimeError: stop here" in proc.stdout + proc.stderr


def test_select_by_number_and_errors(tmp_path):
    nbs = _course(tmp_path / "notebooks", ["pass", "pass", "pass"])
    assert [p.name[:2] for p in select_notebooks(nbs, ["3", "01"])] == ["03", "01"]
    with pytest.raises(UsageError, match="no notebook matches '07'"):
        select_notebooks(nbs, ["07"])


def test_numbering_gap_is_an_error_in_strict_mode(tmp_path):
    nbs = _course(tmp_path / "notebooks", ["pass", "pass"])
    (nbs / "02_demo_2.ipynb").rename(nbs / "03_demo_3.ipynb")
    assert [p.name[:2] for p in select_notebooks(nbs, [])] == ["01", "03"]
    with pytest.raises(ValueError, match=r"without gaps, got \[1, 3\]"):
        course_notebooks(nbs, strict=True)


def test_output_must_not_be_sources(tmp_path):
    nbs = _course(tmp_path / "notebooks", ["pass"])
    assert main(["run", "--notebooks", str(nbs), "--output", str(nbs)]) == 2


def test_info_prints_device(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "Computing on:" in out


def test_exercises_writes_student_versions_that_still_run(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    solution = (
        "# Exercise 01.1: double it\n### BEGIN SOLUTION\ny = 2 * x\n### END SOLUTION\n"
        "#> y = ...  # your code\nprint(y)"
    )
    nb = build_notebook(
        "# 01 · Demo",
        [
            ("code", "# Parameters\nx = 1"),
            ("code", solution),
            ("md", "## Checks"),
            ("code", "assert x == 1"),
        ],
    )
    save_notebook(nb, folder / "01_demo.ipynb")
    out = tmp_path / "student"
    assert main(["exercises", "--notebooks", str(folder), "--output", str(out)]) == 0
    student = nbformat.read(out / "01_demo.ipynb", as_version=4)
    cell = next(c for c in student.cells if c.source.startswith("# Exercise 01.1"))
    assert cell.source == "# Exercise 01.1: double it\ny = ...  # your code\nprint(y)"
    assert nbformat.read(folder / "01_demo.ipynb", as_version=4).cells[4].source == solution
    # the student notebook runs top to bottom
    assert main(["run", "--notebooks", str(out), "--output", str(tmp_path / "build")]) == 0


def test_exercises_writes_beside_the_notebooks_by_default(tmp_path, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    save_notebook(build_notebook("# 01 · Demo", []), folder / "01_demo.ipynb")
    assert main(["exercises", "--notebooks", str(folder)]) == 0
    assert (folder / "student" / "01_demo.ipynb").is_file()
    bad = build_notebook("# 02 · Demo", [("code", "### BEGIN SOLUTION\nx = 1")])
    save_notebook(bad, folder / "02_demo.ipynb")
    capsys.readouterr()
    assert main(["exercises", "--notebooks", str(folder)]) == 2
    assert "02_demo.ipynb: cell 3" in capsys.readouterr().err


def _cli(*args, env=None):
    """Run the console command in a subprocess: (exit status, stdout, stderr)."""
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "bioimage_course.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def _one_clear_line(stderr: str, *fragments: str):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith("bioimage-course: error: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_output_that_is_a_file_is_refused_before_anything_runs(tmp_path):
    nbs = _course(tmp_path / "notebooks", ["open('ran.txt', 'w').write('ran')"])
    target = tmp_path / "build.txt"
    target.write_text("keep me")
    code, out, err = _cli("run", "01", "--notebooks", str(nbs), "--output", str(target))
    assert code == 2
    _one_clear_line(err, "--output must be a folder", str(target))
    assert target.read_text() == "keep me"
    assert not (nbs / "ran.txt").exists()  # no cell was executed


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["run", "--notebooks", "{empty}"], ["no course notebooks", "empty"]),
        (["run", "09", "--notebooks", "{course}"], ["no notebook matches '09'", "01_demo_1"]),
        (["run", "--notebooks", "{missing}"], ["no notebooks folder at"]),
        (["run", "--timeout", "0", "--notebooks", "{course}"], ["--timeout", "must be > 0"]),
        (["run", "--timeout", "-5", "--notebooks", "{course}"], ["--timeout", "must be > 0"]),
        (["run", "--timeout", "soon", "--notebooks", "{course}"], ["--timeout", "'soon'"]),
        (["set-repo", "notaurl", "--root", "{checkout}"], ["https://github.com/OWNER/REPO"]),
        (["set-repo", "https://github.com/a/b", "--root", "{empty}"], ["course checkout"]),
        (["frobnicate"], ["invalid choice", "--help"]),
    ],
)
def test_usage_mistakes_end_with_one_line_and_status_2(tmp_path, args, fragments):
    folders = {
        "empty": tmp_path / "empty",
        "course": tmp_path / "course",
        "missing": tmp_path / "missing",
        "checkout": tmp_path,
    }
    folders["empty"].mkdir()
    _course(folders["course"], ["pass"])
    args = [a.format(**{k: str(v) for k, v in folders.items()}) for a in args]
    code, out, err = _cli(*args)
    assert code == 2, (code, out, err)
    _one_clear_line(err, *fragments)


def test_info_with_a_device_this_machine_lacks(tmp_path):
    import torch

    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    code, out, err = _cli("info", env={"BIOIMAGE_COURSE_DEVICE": "cuda:7"})
    assert code == 2
    _one_clear_line(err, "BIOIMAGE_COURSE_DEVICE", "cuda:7")
    code, out, err = _cli("info", env={"BIOIMAGE_COURSE_DEVICE": "gpu please"})
    assert code == 2
    _one_clear_line(err, "BIOIMAGE_COURSE_DEVICE", "gpu please")


def test_segment_verb_writes_labels_and_refuses_to_overwrite(tmp_path, capsys):
    import numpy as np

    from bioimage_course.data import make_nuclei
    from bioimage_course.io import read_tiff, write_tiff

    for sub in ("images", "masks"):
        (tmp_path / sub).mkdir()
    image, labels = make_nuclei((64, 64), rng=0)
    write_tiff(tmp_path / "images" / "a.tif", image, axes="YX", pixel_size_um=0.65)
    write_tiff(tmp_path / "masks" / "a.tif", labels.astype(np.uint16), axes="YX")
    assert main(["segment", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pooled over the images with a mask" in out and "1 label image(s)" in out
    assert read_tiff(tmp_path / "labels" / "a.tif")[1].pixel_size_um == 0.65
    assert main(["segment", str(tmp_path)]) == 2
    assert "overwrite" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing")]) == 2


def test_export_verb_writes_a_zoo_package(tmp_path, capsys):
    from pathlib import Path

    from bioimage_course.nuclei import WEIGHTS

    weights = Path(__file__).resolve().parents[1] / "bioimage_course" / "weights" / WEIGHTS
    out = tmp_path / "pkg"
    assert main(["export", str(weights), str(out), "--zip", "--validate"]) == 0
    text = capsys.readouterr().out
    assert (out / "rdf.yaml").is_file() and (tmp_path / "pkg.zip").is_file()
    assert "test_model: passed" in text
    assert main(["export", "pretrained", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope.pt"), str(tmp_path / "x")]) == 2
