"""BioImage Model Zoo export: bioimageio.core's test_model passes offline, and a package loads
back into segment_nuclei with the same result."""

import socket

import numpy as np
import pytest
import torch
import yaml

from bioimage_course import segment_nuclei, zoo
from bioimage_course.data import make_nuclei
from bioimage_course.models import UNet
from bioimage_course.nuclei import load_pretrained


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = UNet(out_channels=3, depth=2, base_channels=4).eval()
    net.training_diameter_px = 16.0
    return net


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_export_passes_bioimageio_test_model_offline(model, tmp_path, no_network):
    import bioimageio.core  # in the test extra: pip install -e ".[test]"  # noqa: F401

    image, _ = make_nuclei((80, 80), rng=1)
    folder = zoo.export_model(model, tmp_path / "pkg", test_image=image, test_size=64)
    assert zoo.zoo_test(folder) == "passed"
    assert zoo.zoo_test(zoo.zip_package(folder)) == "passed"


def test_test_output_is_what_the_declared_processing_computes(model, tmp_path):
    image, _ = make_nuclei((64, 64), rng=2)
    folder = zoo.export_model(model, tmp_path / "pkg", test_image=image, test_size=64)
    x = np.load(folder / "test_input.npy")
    low, high = np.percentile(x, [1, 99.8])
    scaled = (x - low) / (high - low + 1e-6)  # scale_range as bioimageio.core defines it
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(scaled.astype(np.float32))), 1).numpy()
    np.testing.assert_allclose(np.load(folder / "test_output.npy"), expected, atol=1e-5)
    text = (folder / "rdf.yaml").read_text()
    assert "github_user" not in text and "http" not in text  # nothing for a validator to look up
    rdf = yaml.safe_load(text)
    assert rdf["config"]["bioimage_course"]["training_diameter_px"] == 16.0
    assert rdf["inputs"][0]["preprocessing"][0]["kwargs"]["max_percentile"] == 99.8


def test_package_loads_back_into_segment_nuclei(model, tmp_path):
    shipped = load_pretrained()
    folder = zoo.export_model(shipped, tmp_path / "pkg", test_size=64)
    image, _ = make_nuclei((96, 96), rng=3)
    for source in (folder, folder / "rdf.yaml", zoo.zip_package(folder)):
        loaded = load_pretrained(source)
        assert loaded.training_diameter_px == shipped.training_diameter_px
        assert np.array_equal(
            segment_nuclei(image, model=loaded), segment_nuclei(image, model=shipped)
        )
    assert np.array_equal(
        segment_nuclei(image, model=str(folder)), segment_nuclei(image, model=shipped)
    )


def test_nothing_is_overwritten_and_errors_are_clear(model, tmp_path):
    folder = zoo.export_model(model, tmp_path / "pkg", test_size=32)
    with pytest.raises(FileExistsError, match="`out_dir`.*overwrite=True"):
        zoo.export_model(model, folder, test_size=32)
    zoo.zip_package(folder)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        zoo.zip_package(folder)
    zoo.export_model(model, folder, test_size=32, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    assert (folder / "rdf.yaml").is_file()
    with pytest.raises(TypeError, match="`model` must be a 1-channel, 3-class"):
        zoo.export_model(UNet(out_channels=1, depth=1), tmp_path / "one")
    with pytest.raises(ValueError, match="`name` must be"):
        zoo.export_model(model, tmp_path / "named", name="a, b: c")
    with pytest.raises(FileNotFoundError, match="`out_dir`: folder"):
        zoo.export_model(model, tmp_path / "no" / "such" / "pkg")


def test_load_refuses_other_architectures_and_tampered_weights(model, tmp_path):
    folder = zoo.export_model(model, tmp_path / "pkg", test_size=32)
    rdf = folder / "rdf.yaml"
    text = rdf.read_text()
    rdf.write_text(text.replace("bioimage_course.models", "evil.module"))
    with pytest.raises(ValueError, match="architecture bioimage_course.models.UNet"):
        zoo.load_zoo_model(folder)
    rdf.write_text(text)
    (folder / "weights.pt").write_bytes((folder / "weights.pt").read_bytes() + b"x")
    with pytest.raises(ValueError, match="SHA-256"):
        zoo.load_zoo_model(folder)
    with pytest.raises(FileNotFoundError, match="no zoo package"):
        zoo.load_zoo_model(tmp_path / "nothing")


def test_format_version_is_never_newer_than_the_installed_spec():
    version = zoo.format_version()
    assert version <= zoo.FORMAT_VERSION or version.count(".") == 2
    try:
        from bioimageio.spec.model.v0_5 import ModelDescr
    except ImportError:
        return
    installed = tuple(int(p) for p in ModelDescr.implemented_format_version.split("."))
    assert tuple(int(p) for p in version.split(".")) <= installed
