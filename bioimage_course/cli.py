"""The ``bioimage-course`` command: run notebooks headless, describe the machine, re-point a fork.

::

    bioimage-course run            # every notebook, in order, into build/
    bioimage-course run 01 05      # only notebooks 01 and 05
    bioimage-course info           # versions and the device computations will use
    bioimage-course exercises      # student notebooks (no solutions) into notebooks/student
    bioimage-course set-repo URL   # point badges and setup cells at a fork
    bioimage-course segment FOLDER [--output DIR]   # nuclei of your own TIFFs, with QC
    bioimage-course export CHECKPOINT OUT           # a BioImage Model Zoo package

``run`` executes each notebook with nbclient in a fresh kernel (working directory: the
notebooks' folder), writes the executed copy and an HTML rendering to the output folder (never
over the sources), and prints a table of notebook, status and seconds. A failing notebook prints
the cell that failed and its error, and the command exits with status 1.

Mistakes in the command line (a missing folder, an unknown notebook, a bad URL or device) end
with one line on standard error and exit status 2, before anything runs.

Examples
--------
>>> main(["run", "--list", "--notebooks", "/nonexistent"])
2
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import HEADLESS_ENV, REPO_URL, __version__
from .course import course_notebooks, save_notebook, set_repo


def default_notebooks() -> Path:
    """``./notebooks`` when it exists, else the notebooks beside an editable install."""
    here = Path("notebooks")
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "notebooks"


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(f"{message} (see {self.prog} --help)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of seconds, got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 seconds, got {value}")
    return value


@dataclass
class RunResult:
    """Outcome of one notebook run."""

    name: str
    ok: bool
    seconds: float
    error: str = ""


def _failed_cell_report(nb, err: Exception) -> str:
    """Which cell failed (its number among code cells and its first lines) and the error."""
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    failed = None
    for i, cell in enumerate(code_cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                failed = (i, cell)
    lines = []
    if failed is not None:
        i, cell = failed
        source = cell.source.splitlines()
        shown = "\n".join("    " + line for line in source[:12])
        more = f"\n    ... ({len(source) - 12} more lines)" if len(source) > 12 else ""
        lines.append(f"  failing cell: code cell {i} of {len(code_cells)}\n{shown}{more}")
    summary = getattr(err, "ename", type(err).__name__)
    value = getattr(err, "evalue", str(err).strip().splitlines()[-1] if str(err) else "")
    lines.append(f"  error: {summary}: {value}")
    return "\n".join(lines)


def run_notebook(path: Path, output: Path, *, timeout: int = 900) -> RunResult:
    """Execute one notebook; write ``output/NAME.ipynb`` and ``output/NAME.html``."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    from tqdm.auto import tqdm

    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    bar = tqdm(total=n_code, desc=path.stem, unit="cell", leave=False)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=lambda **kw: bar.update(1),
    )
    start = time.perf_counter()
    error = ""
    # The kernel learns that no frontend is attached: interactive cells show static figures.
    env = {**os.environ, HEADLESS_ENV: "1"}
    try:
        client.execute(env=env)
        ok = True
    except Exception as err:  # nbclient raises CellExecutionError, timeouts, dead kernels
        ok = False
        error = _failed_cell_report(nb, err)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    output.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, output / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (output / f"{path.stem}.html").write_text(html, encoding="utf-8")
    return RunResult(path.stem, ok, seconds, error)


def select_notebooks(folder: Path, wanted: list[str]) -> list[Path]:
    """The notebooks of ``folder`` whose number or name starts with one of ``wanted``."""
    paths = course_notebooks(folder)
    if not paths:
        raise UsageError(f"no course notebooks (NN_name.ipynb) in {folder}")
    if not wanted:
        return paths
    chosen = []
    for key in wanted:
        hits = [p for p in paths if p.stem.startswith(key.zfill(2) if key.isdigit() else key)]
        if not hits:
            names = ", ".join(p.stem for p in paths)
            raise UsageError(f"no notebook matches {key!r}; available: {names}")
        chosen += [p for p in hits if p not in chosen]
    return chosen


def _run(args: argparse.Namespace) -> int:
    folder, output = _folders(args)
    paths = select_notebooks(folder, args.names)
    if args.list:
        print("\n".join(p.name for p in paths))
        return 0
    from tqdm.auto import tqdm

    results = []
    for path in tqdm(paths, desc="notebooks", unit="nb"):
        result = run_notebook(path, output, timeout=args.timeout)
        results.append(result)
        if not result.ok:
            tqdm.write(f"FAILED {path.name}\n{result.error}")
    width = max(len(r.name) for r in results)
    print(f"\n{'notebook':<{width}}  status  seconds")
    for r in results:
        print(f"{r.name:<{width}}  {'ok' if r.ok else 'FAILED':<6}  {r.seconds:7.1f}")
    total = sum(r.seconds for r in results)
    n_failed = sum(not r.ok for r in results)
    print(f"{'total':<{width}}  {'ok' if not n_failed else f'{n_failed} bad':<6}  {total:7.1f}")
    print(f"executed notebooks and HTML in {output}")
    return 1 if n_failed else 0


def _folders(args: argparse.Namespace) -> tuple[Path, Path]:
    """The notebooks folder and the output folder of a command; never the same folder."""
    folder = Path(args.notebooks) if args.notebooks else default_notebooks()
    if not folder.is_dir():
        raise UsageError(f"no notebooks folder at {folder}")
    output = Path(args.output).resolve()
    if output == folder.resolve():
        raise UsageError("--output must not be the notebooks folder: sources are never overwritten")
    if output.exists() and not output.is_dir():
        raise UsageError(f"--output must be a folder, but {output} is a file")
    return folder, output


def _exercises(args: argparse.Namespace) -> int:
    import nbformat

    from .course import is_exercise_cell, student_version

    if args.output is None:
        args.output = str(
            (Path(args.notebooks) if args.notebooks else default_notebooks()) / "student"
        )
    folder, output = _folders(args)
    output.mkdir(parents=True, exist_ok=True)
    for path in course_notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        n = sum(is_exercise_cell(c) for c in nb.cells)
        try:
            student = student_version(nb)
        except ValueError as err:
            raise UsageError(f"{path.name}: {err}") from None
        save_notebook(student, output / path.name)
        print(f"{path.name}: {n} exercise(s), solutions replaced by scaffolds")
    print(f"student notebooks in {output}")
    return 0


def _info(args: argparse.Namespace) -> int:
    import matplotlib
    import scipy
    import skimage
    import tifffile

    from .device import describe_device

    try:
        device = describe_device()
    except ValueError as err:  # BIOIMAGE_COURSE_DEVICE names a device this machine lacks
        raise UsageError(str(err)) from None
    print(f"bioimage-course {__version__} ({REPO_URL})")
    print(device)
    print(
        f"scipy {scipy.__version__}, scikit-image {skimage.__version__}, "
        f"tifffile {tifffile.__version__}, matplotlib {matplotlib.__version__}"
    )
    return 0


def _set_repo(args: argparse.Namespace) -> int:
    try:
        changed = set_repo(args.url, args.root)
    except ValueError as err:
        raise UsageError(str(err)) from None
    for path in changed:
        print(f"updated {path}")
    print(f"{len(changed)} file(s) now point at {args.url}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    from .own_images import segment_folder

    try:
        result = segment_folder(
            args.folder,
            output=args.output,
            model=args.model,
            diameter_px=args.diameter,
            overwrite=args.overwrite,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        raise UsageError(str(err)) from None
    print(result.table())
    if result.scored:
        p = result.pooled
        print(f"pooled over the images with a mask: F1@0.5 {p.f1:.3f}, DSB {p.dsb:.3f}")
    if result.skipped:
        print("skipped (not TIFF):", ", ".join(path.name for path in result.skipped))
    print(f"{len(result.written)} label image(s) in {result.written[0].parent}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .nuclei import load_pretrained
    from .zoo import export_model, zip_package, zoo_test

    try:
        model = load_pretrained(None if args.checkpoint == "pretrained" else args.checkpoint)
        test_image = None
        if args.test_image:
            from .io import read_tiff

            test_image = read_tiff(args.test_image)[0]
        folder = export_model(
            model,
            args.out,
            name=args.name,
            test_image=test_image,
            diameter_px=args.diameter,
            overwrite=args.overwrite,
        )
        print(f"wrote the BioImage Model Zoo package {folder}")
        if args.zip:
            print(f"wrote {zip_package(folder, overwrite=args.overwrite)}")
        if args.validate:
            print(f"bioimageio.core test_model: {zoo_test(folder)}")
    except (FileNotFoundError, FileExistsError, ValueError, TypeError, ImportError) as err:
        raise UsageError(str(err)) from None
    return 0


def _add_own_images_commands(sub) -> None:
    seg = sub.add_parser("segment", help="segment the nuclei of a folder of TIFFs, with QC")
    seg.add_argument("folder", help="FOLDER/images (+ FOLDER/masks) or a folder of TIFFs")
    seg.add_argument("--output", help="folder for the label images (default: FOLDER/labels)")
    seg.add_argument("--model", help="a nuclei checkpoint or zoo package (default: shipped)")
    seg.add_argument(
        "--diameter", type=float, help="nucleus diameter in pixels (default: estimated)"
    )
    seg.add_argument("--overwrite", action="store_true", help="replace existing label images")
    seg.set_defaults(func=_segment)
    exp = sub.add_parser("export", help="write a nuclei model as a BioImage Model Zoo package")
    exp.add_argument("checkpoint", help="a nuclei_unet .pt file, or 'pretrained' (the shipped one)")
    exp.add_argument("out", help="the package folder to create")
    exp.add_argument("--name", default="bioimage-course nuclei U-Net", help="the model's name")
    exp.add_argument("--test-image", help="a TIFF for the test tensors (default: synthetic)")
    exp.add_argument("--diameter", type=float, help="the test image's nucleus diameter (px)")
    exp.add_argument("--zip", action="store_true", help="also write OUT.zip for upload")
    exp.add_argument("--validate", action="store_true", help="run bioimageio.core test_model")
    exp.add_argument("--overwrite", action="store_true", help="replace an existing package")
    exp.set_defaults(func=_export)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bioimage-course", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks headless and render them to HTML")
    run.add_argument("names", nargs="*", help="notebook numbers or name prefixes (default: all)")
    run.add_argument("--notebooks", help="notebooks folder (default: ./notebooks)")
    run.add_argument("--output", default="build", help="output folder (default: build)")
    run.add_argument("--timeout", type=_positive_int, default=900, help="seconds allowed per cell")
    run.add_argument("--list", action="store_true", help="list the selected notebooks and exit")
    run.set_defaults(func=_run)
    ex = sub.add_parser("exercises", help="write student notebooks: exercises without solutions")
    ex.add_argument("--notebooks", help="notebooks folder (default: ./notebooks)")
    ex.add_argument("--output", help="default: the notebooks folder's student/ subfolder")
    ex.set_defaults(func=_exercises)
    info = sub.add_parser("info", help="print versions and the device computations will use")
    info.set_defaults(func=_info)
    fork = sub.add_parser("set-repo", help="point badges and setup cells at another repository")
    fork.add_argument("url", help="https://github.com/OWNER/NAME")
    fork.add_argument("--root", default=".", help="course checkout (default: here)")
    fork.set_defaults(func=_set_repo)
    _add_own_images_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bioimage-course`` command: its exit status (2: a usage mistake)."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"bioimage-course: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
