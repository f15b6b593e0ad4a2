"""Share a model: export to the BioImage Model Zoo format, and load a zoo package back.

Introduced in notebook 09 (generalization). The BioImage Model Zoo (bioimage.io) describes a
model in one file, ``rdf.yaml``, that tools such as ilastik, deepImageJ, QuPath, napari and
``bioimageio.core`` read: what goes in (axes, data type, **preprocessing**), what comes out
(axes, **postprocessing**), where the weights are and which code builds the network, and a
test: an input tensor and the output the model must produce from it. Anyone can then check
that the model still computes what its authors saw (``bioimageio.core.test_model``).

:func:`export_model` writes such a package for a 3-class nuclei U-Net of this course:

- input ``image`` (batch, channel, y, x), float32, with ``scale_range`` preprocessing (the 1st
  and 99.8th percentile of each image -> 0 and 1: :func:`~bioimage_course.normalize.\
normalize_percentile`);
- output ``probabilities`` (batch, channel, y, x): background / interior / boundary after a
  ``softmax`` over the channels; the watershed that turns them into nuclei is this package's
  (:func:`bioimage_course.postprocess.instances_from_three_class`);
- ``pytorch_state_dict`` weights with the architecture ``bioimage_course.models.UNet``;
- test input and output, a README, a licence, citations and a cover image, all local files:
  no author names a GitHub account and no citation a URL, which validators would look up.

The network expects nuclei about ``training_diameter_px`` (20) pixels across: a zoo tool does
not rescale, so the README says so and :func:`load_zoo_model` restores the size for
:func:`bioimage_course.segment_nuclei`.

Examples
--------
>>> import tempfile
>>> from bioimage_course.models import UNet
>>> model = UNet(out_channels=3, depth=2, base_channels=4)
>>> folder = export_model(model, tempfile.mkdtemp() + "/tiny", test_size=32)
>>> sorted(p.name for p in folder.iterdir())[:4]
['README.md', 'cover.png', 'rdf.yaml', 'test_input.npy']
>>> load_zoo_model(folder).config == model.config
True
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import string
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._files import temporary_folder
from ._validate import check_in_range, check_intensity_image
from .models import UNet
from .normalize import normalize_percentile
from .routes import TRAINING_DIAMETER_PX, rescale_image

__all__ = [
    "zoo_available",
    "FORMAT_VERSION",
    "CLASS_NAMES",
    "format_version",
    "export_model",
    "zip_package",
    "load_zoo_model",
    "zoo_test",
]

FORMAT_VERSION = "0.5.4"  # a model format that bioimageio.spec 0.5.4 and later all read
CLASS_NAMES = ("background", "interior", "boundary")
PERCENTILES = (1.0, 99.8)
RDF = "rdf.yaml"
NAME_CHARACTERS = string.ascii_letters + string.digits + "_+- ()"
ARCHITECTURE = {"callable": "UNet", "import_from": "bioimage_course.models"}
CITATIONS = [
    {
        "text": "Ronneberger, Fischer and Brox. U-Net: convolutional networks for biomedical "
        "image segmentation. MICCAI 2015.",
        "doi": "10.1007/978-3-319-24574-4_28",
    },
    {
        "text": "Caicedo et al. Nucleus segmentation across imaging experiments: the 2018 Data "
        "Science Bowl. Nature Methods 16, 1247-1253 (2019).",
        "doi": "10.1038/s41592-019-0612-7",
    },
]


def format_version() -> str:
    """The model format to write: :data:`FORMAT_VERSION`, or older if ``bioimageio.spec`` is.

    A document of a newer format than the installed ``bioimageio.spec`` implements would fail
    to validate (``bioimageio.core`` 0.11 pins ``bioimageio.spec`` 0.5.12.0, which implements
    format 0.5.12), so the version is never newer than the installed one.
    """
    spec = _optional("bioimageio.spec.model.v0_5")
    if spec is None:
        return FORMAT_VERSION
    installed = spec.ModelDescr.implemented_format_version

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split("."))

    return min(FORMAT_VERSION, installed, key=key)


def _optional(name: str):
    """The module ``name`` if it is installed, else None: PyYAML (which Jupyter installs) and
    bioimageio are optional here, so the notebooks run without them (Colab)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _dump(data: dict[str, Any]) -> str:
    yaml = _optional("yaml")
    if yaml is None:  # JSON is YAML too
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _load(text: str) -> dict[str, Any]:
    yaml = _optional("yaml")
    return json.loads(text) if yaml is None else yaml.safe_load(text)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _test_image(test_image: Any, diameter_px: float | None, size: int, multiple: int):
    """A raw test image at the training scale, cropped to ``size`` (a multiple of 2**depth)."""
    if test_image is None:
        from .data import make_nuclei

        image, _ = make_nuclei((size, size), rng=0)
        return image.astype(np.float32)
    image = check_intensity_image(test_image, "test_image").astype(np.float32)
    if diameter_px is not None:
        diameter = check_in_range(diameter_px, "diameter_px", 0, low_inclusive=False)
        image = rescale_image(image, TRAINING_DIAMETER_PX / diameter)
    rows, cols = (max(multiple, min(size, n) // multiple * multiple) for n in image.shape)
    if image.shape[0] < rows or image.shape[1] < cols:
        raise ValueError(f"`test_image` must be at least {multiple} pixels wide, got {image.shape}")
    return np.ascontiguousarray(image[:rows, :cols])


def _expected_output(model: UNet, image: np.ndarray) -> np.ndarray:
    """What a zoo tool computes: scale_range (eps 1e-6), the network, softmax over channels."""
    x = normalize_percentile(image, *PERCENTILES, eps=1e-6)
    with torch.no_grad():
        logits = model.cpu().eval()(torch.from_numpy(x)[None, None])
    return torch.softmax(logits, dim=1).numpy().astype(np.float32)


def _cover(image: np.ndarray, output: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 4), dpi=100)
    axes[0].imshow(normalize_percentile(image), cmap="gray", vmin=0, vmax=1)
    axes[1].imshow(np.moveaxis(output[0], 0, -1))  # background red, interior green, boundary blue
    for ax, title in zip(axes, ["input", "background / interior / boundary"], strict=True):
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _readme(name: str, description: str, diameter: float, card: dict[str, Any]) -> str:
    lines = [
        f"# {name}",
        "",
        description,
        "",
        "## Use",
        "",
        f"Rescale the image so that its nuclei are about {diameter:g} pixels across. The model",
        "normalises each image itself (scale_range: 1st and 99.8th percentile -> 0 and 1) and",
        "returns per-pixel probabilities of background, nucleus interior and nucleus boundary.",
        "Interiors are the seeds of a watershed over the boundary; with the course package:",
        "",
        "```python",
        "from bioimage_course import segment_nuclei",
        "from bioimage_course.zoo import load_zoo_model",
        "",
        'labels = segment_nuclei(image, model=load_zoo_model("path/to/this/folder"))',
        "```",
        "",
        "## Training",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in card.items()] or ["- not recorded"]
    lines += ["", "## Limits", "", "2D, one channel, fluorescence nuclei on a dark background."]
    return "\n".join(lines) + "\n"


def _rdf(model: UNet, *, name, description, files, test_shape, diameter, timestamp) -> dict:
    space = [{"type": "space", "id": axis, "size": {"min": 2**model.depth * 2, "step":
              2**model.depth}} for axis in ("y", "x")]  # fmt: skip
    output_space = [
        {"type": "space", "id": axis, "size": {"tensor_id": "image", "axis_id": axis}}
        for axis in ("y", "x")
    ]
    batch = {"type": "batch"}
    return {
        "format_version": format_version(),
        "type": "model",
        "name": name,
        "description": description,
        "authors": [{"name": "bioimage-course contributors"}],
        "cite": CITATIONS,
        "license": "BSD-3-Clause",
        "documentation": "README.md",
        "covers": ["cover.png"],
        "tags": ["nuclei", "fluorescence", "instance-segmentation", "unet", "2d", "pytorch"],
        "timestamp": timestamp,
        "inputs": [{
            "id": "image",
            "description": f"raw fluorescence image, nuclei about {diameter:g} pixels across",
            "axes": [batch, {"type": "channel", "channel_names": ["nuclei"]}, *space],
            "test_tensor": {"source": files["test_input"], "sha256": files["test_input_sha"]},
            "data": {"type": "float32"},
            "preprocessing": [{"id": "scale_range", "kwargs": {
                "axes": ["y", "x"], "min_percentile": PERCENTILES[0],
                "max_percentile": PERCENTILES[1]}}],
        }],
        "outputs": [{
            "id": "probabilities",
            "description": "per-pixel probabilities: " + ", ".join(CLASS_NAMES),
            "axes": [batch, {"type": "channel", "channel_names": list(CLASS_NAMES)}, *output_space],
            "test_tensor": {"source": files["test_output"], "sha256": files["test_output_sha"]},
            "data": {"type": "float32"},
            "postprocessing": [{"id": "softmax", "kwargs": {"axis": "channel"}}],
        }],
        "weights": {"pytorch_state_dict": {
            "source": files["weights"], "sha256": files["weights_sha"],
            "architecture": {**ARCHITECTURE, "kwargs": dict(model.config)},
            "pytorch_version": torch.__version__.split("+")[0],
        }},
        "config": {"bioimage_course": {
            "training_diameter_px": diameter, "route": "three_class", "test_shape": test_shape}},
    }  # fmt: skip


def export_model(
    model: torch.nn.Module,
    out_dir: str | os.PathLike,
    *,
    name: str = "bioimage-course nuclei U-Net",
    description: str = "Instance segmentation of nuclei in 2D fluorescence images: "
    "a 3-class U-Net (background, interior, boundary) for a seeded watershed.",
    test_image: Any = None,
    diameter_px: float | None = None,
    test_size: int = 128,
    training: dict[str, Any] | None = None,
    timestamp: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a BioImage Model Zoo package (a folder) and return the folder.

    Parameters
    ----------
    model : UNet
        A 3-class nuclei U-Net (``bioimage_course.models.UNet``), e.g. from
        :func:`bioimage_course.load_pretrained` or :func:`bioimage_course.transfer.train_nuclei`.
    out_dir : path
        The package folder to create; it must not exist (unless ``overwrite=True``). It is
        written as a hidden temporary folder beside it and renamed when complete.
    name, description : str
        What the zoo shows.
    test_image : array_like, optional
        A raw 2D image for the test tensors (default: a synthetic one at the training scale).
    diameter_px : float, optional
        Its nuclei's diameter; the test image is rescaled to the training scale.
    test_size : int
        The test tensors' height and width at most (cropped to a multiple of ``2**depth``).
    training : dict, optional
        Recipe and provenance written to the README (e.g. a model card).
    timestamp : str, optional
        ISO 8601 creation time (default: now, UTC).
    overwrite : bool
        Replace an existing package folder.
    """
    if not isinstance(model, UNet) or model.out_channels != 3 or model.in_channels != 1:
        raise TypeError(
            f"`model` must be a 1-channel, 3-class bioimage_course UNet, got {type(model).__name__}"
        )
    bad = sorted(set(str(name)) - set(NAME_CHARACTERS))
    if bad or not 5 <= len(str(name)) <= 128:
        raise ValueError(
            f"`name` must be 5-128 letters, digits, spaces or _+-() (the zoo's rule), got "
            f"{name!r}" + (f" with {''.join(bad)!r}" if bad else "")
        )
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise FileExistsError(f"`out_dir` {str(out_dir)!r} exists; pass overwrite=True to replace")
    if not out_dir.parent.is_dir():
        raise FileNotFoundError(f"`out_dir`: folder {str(out_dir.parent)!r} does not exist")
    diameter = float(getattr(model, "training_diameter_px", TRAINING_DIAMETER_PX))
    image = _test_image(test_image, diameter_px, int(test_size), 2**model.depth)
    output = _expected_output(model, image)
    tmp = temporary_folder(out_dir.parent, out_dir.name)
    try:
        torch.save({k: v.float() for k, v in model.state_dict().items()}, tmp / "weights.pt")
        np.save(tmp / "test_input.npy", image[None, None])
        np.save(tmp / "test_output.npy", output)
        _cover(image, output, tmp / "cover.png")
        (tmp / "README.md").write_text(_readme(name, description, diameter, training or {}))
        files = {"weights": "weights.pt", "test_input": "test_input.npy"}
        files["test_output"] = "test_output.npy"
        files.update({f"{k}_sha": _sha256(tmp / v) for k, v in list(files.items())})
        when = timestamp or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
        rdf = _rdf(model, name=name, description=description, files=files,
                   test_shape=list(image.shape), diameter=diameter, timestamp=when)  # fmt: skip
        (tmp / RDF).write_text(_dump(rdf), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


def zip_package(folder: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Zip an exported package folder into ``FOLDER.zip`` (the file bioimage.io uploads)."""
    folder = Path(folder)
    if not (folder / RDF).is_file():
        raise FileNotFoundError(f"`folder` {str(folder)!r} holds no {RDF}: not a zoo package")
    path = folder.with_suffix(".zip")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    part = path.with_name(f".{path.name}.part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    os.replace(part, path)
    return path


def _package_files(source: Path) -> tuple[dict[str, Any], Any]:
    """The RDF and a reader ``read(name) -> bytes`` of a package folder, rdf.yaml or zip."""
    if source.is_dir():
        source = source / RDF
    if source.suffix == ".zip":
        archive = zipfile.ZipFile(source)
        return _load(archive.read(RDF).decode("utf-8")), archive.read
    if not source.is_file():
        raise FileNotFoundError(f"`source` {str(source)!r}: no zoo package ({RDF}) there")
    folder = source.parent
    return _load(source.read_text("utf-8")), lambda name: (folder / name).read_bytes()


def load_zoo_model(source: str | os.PathLike) -> UNet:
    """Load a package written by :func:`export_model` as a model for ``segment_nuclei``.

    ``source`` is the package folder, its ``rdf.yaml`` or its zip. Only this course's
    architecture is built (no code from the package runs); the weights are checked against
    the SHA-256 in the RDF and read with ``torch.load(..., weights_only=True)``.
    """
    import io

    rdf, read = _package_files(Path(source))
    weights = (rdf.get("weights") or {}).get("pytorch_state_dict")
    if weights is None:
        raise ValueError(f"`source` {str(source)!r} has no pytorch_state_dict weights")
    arch = weights.get("architecture", {})
    if {k: arch.get(k) for k in ARCHITECTURE} != ARCHITECTURE:
        raise ValueError(
            f"`source` must use the architecture bioimage_course.models.UNet, got "
            f"{arch.get('import_from')}.{arch.get('callable')}"
        )
    data = read(weights["source"])
    if weights.get("sha256") and hashlib.sha256(data).hexdigest() != weights["sha256"]:
        raise ValueError(f"`source` {str(source)!r}: the weights do not match their SHA-256")
    model = UNet(**arch.get("kwargs", {}))
    model.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
    course = (rdf.get("config") or {}).get("bioimage_course", {})
    model.training_diameter_px = float(course.get("training_diameter_px", TRAINING_DIAMETER_PX))
    model.route = "three_class"
    return model.eval()


def zoo_available() -> bool:
    """Whether ``bioimageio.core`` is installed (``pip install bioimageio.core``)."""
    return _optional("bioimageio.core") is not None


def zoo_test(source: str | os.PathLike) -> str:
    """Run ``bioimageio.core.test_model`` on a package; return its status (``"passed"``).

    The test reads the package, builds the network from its description, applies the
    declared pre- and postprocessing to the test input and compares the result with the
    test output. It needs ``pip install bioimageio.core`` (an ``ImportError`` says so).
    """
    core = _optional("bioimageio.core")
    if core is None:
        raise ImportError(
            "zoo_test needs bioimageio.core: pip install bioimageio.core "
            "(or pip install -e '.[test]' in the course repository)"
        )
    source = Path(source)
    summary = core.test_model(source / RDF if source.is_dir() else source)
    if summary.status != "passed":
        problems = [f"{d.name}: {e.msg}" for d in summary.details for e in d.errors]
        raise ValueError(f"`source` {str(source)!r} failed test_model: {problems[:5]}")
    return summary.status
